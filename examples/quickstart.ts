// The README's example, runnable as it is: `npm start`, then in another shell
// `npx tsx examples/quickstart.ts` (DOOZER_URL to point it elsewhere).
import { connect } from "../client/index";

const doozer = connect(process.env.DOOZER_URL ?? "ws://127.0.0.1:8787");
await doozer.set("/app/config.json", -1, '{"color":"blue"}');
const config = await doozer.config("/app/config.json"); // the value now, then every change, none missed
console.log("config:", config.value?.text());

const lock = await doozer.lock("/locks/nightly-job", { owner: "worker-7" }); // compare-and-set, waits its turn
try {
  await doozer.set("/jobs/nightly/last-run", -1, new Date().toISOString());
  await doozer.set("/app/config.json", -1, '{"color":"green"}');
} finally {
  await lock.release();
}
for await (const value of config.changes) {
  console.log("config changed:", value?.text()); // {"color":"green"}
  break;
}
config.close();
doozer.close();
