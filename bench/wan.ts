// Prints the WAN model's tables (test/sim/wan.ts): write latency per client
// region, route and leader placement, for five and three acceptors, with reads
// and the cross-check against WAN-RTT.md §6. With --write, also puts them into
// docs/WAN-MODEL.md, whose copy a test keeps in step with the model.

import { readFileSync, writeFileSync } from "node:fs";
import { wanReport, withReport } from "../test/sim/wan";
import { followReport, withFollowReport } from "../test/sim/wan-follow";

const started = performance.now();
const report = wanReport();
const follow = followReport();
console.log(report);
console.log("\n### Leader follows the writers\n");
console.log(follow);
if (process.argv.includes("--write")) {
  const doc = new URL("../docs/WAN-MODEL.md", import.meta.url);
  writeFileSync(doc, withFollowReport(withReport(readFileSync(doc, "utf8"), report), follow));
  console.log(`\nwrote ${doc.pathname}`);
}
console.log(`\n(${Math.round(performance.now() - started)} ms)`);
