// The long Jepsen-style run: `npm run jepsen -- [--seeds 5] [--from 1] [--seconds 60] [--route worker|leader]
// [--long-down 30 --log-slots-kept 200]` (the last two: acceptor-2 down for the first 30 s of each run while
// its peers trim their logs, so that it comes back by a state transfer).
// Starts its own local cluster, runs one nemesis schedule per seed, checks each
// history, and prints the figures docs/RELIABILITY.md reports. Exits 1 on any
// anomaly, printing the seed to replay (JEPSEN_SEED=N with the short test, or
// --from N --seeds 1 here).

import { parseArgs } from "node:util";
import { runJepsen } from "./jepsen";
import { startLocalCluster } from "./local-cluster";

const { values } = parseArgs({
  options: {
    seeds: { type: "string", default: "5" },
    from: { type: "string", default: "1" },
    seconds: { type: "string", default: "60" },
    clients: { type: "string", default: "6" },
    route: { type: "string", default: "worker" },
    /** One acceptor (acceptor-2) down for this many seconds from each run's start (issue 11). */
    "long-down": { type: "string", default: "0" },
    /** DOOZER_LOG_SLOTS_KEPT for the cluster: small, so that the long-down acceptor needs a state transfer. */
    "log-slots-kept": { type: "string" },
  },
});

// A history window long enough for the whole run, so the committed history can be read back at its end.
const cluster = await startLocalCluster({
  DOOZER_HISTORY_REVS: "1000000",
  DOOZER_WRITE_ROUTE: values.route ?? "worker",
  ...(values["log-slots-kept"] ? { DOOZER_LOG_SLOTS_KEPT: values["log-slots-kept"] } : {}),
});
const longDownMs = Number(values["long-down"]) * 1000;
const started = Date.now();
const totals = {
  histories: 0,
  operations: 0,
  ok: 0,
  unknown: 0,
  failed: 0,
  faults: 0,
  watchEvents: 0,
  anomalies: 0,
};
try {
  for (let seed = Number(values.from); seed < Number(values.from) + Number(values.seeds); seed++) {
    const report = await runJepsen({
      url: cluster.url,
      seed,
      durationMs: Number(values.seconds) * 1000,
      clients: Number(values.clients),
      keys: 4,
      nemesisEveryMs: 700,
      watchers: 3,
      ...(longDownMs > 0 ? { longDown: { acceptor: "acceptor-2", ms: longDownMs } } : {}),
    });
    totals.histories++;
    totals.operations += report.operations;
    totals.ok += report.ok;
    totals.unknown += report.unknown;
    totals.failed += report.failed;
    totals.faults += report.faults;
    totals.watchEvents += report.watchEvents;
    const anomaly = report.linearizable === false || !report.watchersMatched;
    if (anomaly) totals.anomalies++;
    console.log(
      `seed ${seed}: ${report.operations} ops (${report.ok} ok, ${report.unknown} unknown, ${report.failed} failed), ${report.faults} faults, ${report.watchEvents} watch events: ${report.verdict}${report.watchMismatch ? `; watch: ${report.watchMismatch}` : ""}`,
    );
  }
} finally {
  await cluster.stop();
}
const minutes = ((Date.now() - started) / 60_000).toFixed(1);
console.log(`\n${JSON.stringify({ ...totals, minutes })}`);
console.log(
  `| histories | operations | ok | unknown | failed | faults injected | watch events | anomalies | minutes |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n| ${totals.histories} | ${totals.operations} | ${totals.ok} | ${totals.unknown} | ${totals.failed} | ${totals.faults} | ${totals.watchEvents} | ${totals.anomalies} | ${minutes} |`,
);
process.exit(totals.anomalies > 0 ? 1 : 0);
