// `npm run bench:runtime`: what the local runtime charges for each piece a
// doozer-edge write is made of — an HTTP request into the Worker, a Durable
// Object RPC, a SQLite commit — measured apart on a stand-in of five objects
// (bench/runtime-costs/worker.ts), then put together as one write on the
// leader route (9 RPCs and 10 commits). docs/BENCHMARKS.md, "What the runtime
// charges for a write's parts", compares them with doozer-edge's own writes.
//
// Each path runs with one client (a request's own cost, nothing shared) and
// with 32 (what the runtime thread spends per request when it is saturated).
// Loopback only; every phase is bounded in time.

import { startCpuSample } from "./cpu";
import { runPhase } from "./load";
import { startWranglerDev } from "./wrangler-dev";

const log = (line: string) => process.stderr.write(`[bench:runtime] ${line}\n`);

const paths = [
  { path: "/http", what: "an HTTP request answered by the Worker" },
  { path: "/rpc", what: "+ one RPC to an object that does nothing" },
  { path: "/rpc-bytes", what: "+ one RPC carrying 100 bytes, answering an object" },
  { path: "/fanout", what: "+ five such RPCs at once" },
  { path: "/commit", what: "+ one RPC whose object commits a row to SQLite" },
  {
    path: "/statements",
    what: "+ one RPC whose object runs 16 statements (8 reads, 8 writes) in one commit",
  },
  { path: "/accept-round", what: "+ one RPC to an object that commits a row and has four others commit one" },
  { path: "/leader-write", what: "+ one RPC to an object that runs that round twice (9 RPCs, 10 commits)" },
] as const;

const phaseMs = Number(process.env.BENCH_RUNTIME_PHASE_MS ?? 3_000);
const clientCounts = [1, 32];

interface Row {
  path: string;
  clients: number;
  opsPerSec: number;
  p50Ms: number;
  cpuMsPerOp: number;
  runtimePercent: number;
}

async function main(): Promise<void> {
  if (!Number.isFinite(phaseMs) || phaseMs < 200 || phaseMs > 60_000)
    throw new Error("BENCH_RUNTIME_PHASE_MS must be 200..60000");
  log("starting the stand-in under wrangler dev");
  const dev = await startWranglerDev({ config: "bench/runtime-costs/wrangler.toml", healthPath: "/http" });
  const rows: Row[] = [];
  try {
    const url = dev.directUrl ?? dev.url;
    const runtime = () => dev.processes().filter((p) => p.role === "workerd (runtime)");
    // A first pass wakes every object, creates their tables and warms the JIT; only the second is kept
    // (in a single pass the first paths measured came out dearer than later, larger ones).
    for (const { path } of paths) {
      await runPhase({ url, clients: 8, durationMs: 500, makeCall: () => ({ method: "GET", path }) });
    }
    for (const { path } of paths) {
      for (const clients of clientCounts) {
        const end = startCpuSample(runtime());
        const result = await runPhase({
          url,
          clients,
          durationMs: phaseMs,
          makeCall: () => ({ method: "GET", path }),
        });
        const cpu = end();
        if (result.errors > 0)
          throw new Error(`${path}: ${result.errors} errors, first: ${result.firstError}`);
        const runtimePercent = cpu.byRole["workerd (runtime)"] ?? 0;
        const cpuMs = (runtimePercent / 100) * cpu.seconds * 1000;
        const row = {
          path,
          clients,
          opsPerSec: result.opsPerSec,
          p50Ms: result.p50Ms,
          cpuMsPerOp: cpuMs / Math.max(1, result.ops),
          runtimePercent,
        };
        rows.push(row);
        log(`${path} × ${clients}: ${row.opsPerSec.toFixed(0)}/s, ${row.cpuMsPerOp.toFixed(3)} ms CPU/op`);
      }
    }
  } finally {
    await dev.stop();
  }
  process.stdout.write(render(rows));
}

function render(rows: Row[]): string {
  const at = (path: string, clients: number) => rows.find((r) => r.path === path && r.clients === clients);
  const lines = [
    `Runtime CPU per request (ms) and p50 latency, ${phaseMs / 1000} s a phase, load sent to the runtime workerd:`,
    "",
    "| path | what it adds | 1 client: CPU ms / op | p50 ms | 32 clients: CPU ms / op | ops/s | runtime % |",
    "| --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const { path, what } of paths) {
    const one = at(path, 1);
    const many = at(path, 32);
    if (!one || !many) continue;
    lines.push(
      `| ${path} | ${what} | ${one.cpuMsPerOp.toFixed(3)} | ${one.p50Ms.toFixed(2)} | ${many.cpuMsPerOp.toFixed(3)} | ${many.opsPerSec.toFixed(0)} | ${many.runtimePercent.toFixed(0)} |`,
    );
  }
  // Differences of paths that carry the same message, so that only the piece named differs.
  lines.push("");
  for (const clients of clientCounts) {
    const get = (path: string) => at(path, clients)?.cpuMsPerOp ?? Number.NaN;
    const rpcInFanout = (get("/fanout") - get("/http")) / 5;
    const commit = get("/commit") - get("/rpc-bytes");
    const statement = (get("/statements") - get("/commit")) / 15;
    lines.push(
      `- ${clients} client${clients === 1 ? "" : "s"}: an RPC in a fan-out of five ${rpcInFanout.toFixed(3)} ms ((/fanout − /http) ÷ 5); ` +
        `a commit ${commit.toFixed(3)} ms (/commit − /rpc-bytes); ` +
        `a statement ${statement.toFixed(3)} ms ((/statements − /commit) ÷ 15); ` +
        `the stand-in's leader-route write ${get("/leader-write").toFixed(2)} ms, of which ${(get("/leader-write") - get("/http")).toFixed(2)} ms past the HTTP request`,
    );
  }
  return `${lines.join("\n")}\n`;
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
