// Replays or sweeps simulator seeds from the command line:
//   npm run sim -- --seed 1234 [--acceptors 3] [--proposers 4] [--trace]
//   npm run sim -- --seeds 5000 [--from 100000]
import { parseArgs } from "node:util";
import { Simulation, simulationForSeed } from "./simulation";

const { values } = parseArgs({
  options: {
    seed: { type: "string" },
    seeds: { type: "string", default: "200" },
    from: { type: "string", default: "1" },
    acceptors: { type: "string" },
    proposers: { type: "string" },
    trace: { type: "boolean", default: false },
  },
});

const shape = (seed: number) => {
  const options = simulationForSeed(seed);
  if (values.acceptors) options.acceptors = Number(values.acceptors);
  if (values.proposers) options.proposers = Number(values.proposers);
  if (values.trace) options.trace = (line: string) => console.log(line);
  return options;
};

if (values.seed !== undefined) {
  const report = new Simulation(shape(Number(values.seed))).run();
  console.log(JSON.stringify(report));
} else {
  const count = Number(values.seeds);
  const first = Number(values.from);
  const started = Date.now();
  for (let seed = first; seed < first + count; seed++) {
    try {
      new Simulation(shape(seed)).run();
    } catch (error) {
      console.error(`seed ${seed} failed: ${(error as Error).message}`);
      console.error(`replay: npm run sim -- --seed ${seed} --trace`);
      process.exit(1);
    }
  }
  console.log(`${count} seeds passed in ${Date.now() - started} ms`);
}
