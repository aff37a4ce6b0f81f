// Replays or sweeps simulator seeds from the command line:
//   npm run sim -- --seed 1234 [--acceptors 3] [--proposers 4] [--trace]
//   npm run sim -- --seeds 5000 [--from 100000]
//   npm run sim -- --sessions --seed 1234 [--trace] [--without tickOnApply]   (test/sim/sessions.ts)
//   npm run sim -- --sessions --seeds 500 [--from 1]
import { parseArgs } from "node:util";
import { allFixes, type SessionFixes, SessionSimulation, sessionSimulationForSeed } from "./sessions";
import { Simulation, simulationForSeed } from "./simulation";

const { values } = parseArgs({
  options: {
    seed: { type: "string" },
    seeds: { type: "string", default: "200" },
    from: { type: "string", default: "1" },
    acceptors: { type: "string" },
    proposers: { type: "string" },
    trace: { type: "boolean", default: false },
    sessions: { type: "boolean", default: false },
    without: { type: "string", multiple: true, default: [] },
  },
});

if (values.sessions) await runSessions();

const shape = (seed: number) => {
  const options = simulationForSeed(seed);
  if (values.acceptors) options.acceptors = Number(values.acceptors);
  if (values.proposers) options.proposers = Number(values.proposers);
  if (values.trace) options.trace = (line: string) => console.log(line);
  return options;
};

async function runSessions(): Promise<never> {
  const fixes = { ...allFixes };
  for (const name of values.without) {
    if (!(name in fixes)) throw new Error(`no fix ${name}; there are ${Object.keys(fixes).join(", ")}`);
    fixes[name as keyof SessionFixes] = false;
  }
  const options = (seed: number) => ({
    ...sessionSimulationForSeed(seed),
    fixes,
    ...(values.trace ? { trace: (line: string) => process.stdout.write(`${line}\n`) } : {}),
  });
  if (values.seed !== undefined) {
    try {
      console.log(JSON.stringify(await new SessionSimulation(options(Number(values.seed))).run()));
    } catch (error) {
      console.error(`seed ${values.seed} failed: ${(error as Error).message}`);
      process.exit(1);
    }
    process.exit(0);
  }
  const first = Number(values.from);
  const count = Number(values.seeds);
  const started = Date.now();
  for (let seed = first; seed < first + count; seed++) {
    try {
      await new SessionSimulation(options(seed)).run();
    } catch (error) {
      console.error(`seed ${seed} failed: ${(error as Error).message}`);
      console.error(`replay: npm run sim -- --sessions --seed ${seed} --trace`);
      process.exit(1);
    }
  }
  console.log(`${count} session seeds passed in ${Date.now() - started} ms`);
  process.exit(0);
}

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
