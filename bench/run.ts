// `npm run bench`: the same load against doozer-edge (worker and leader write
// routes) and two baselines on this machine — a single Durable Object with no
// replication, and a 3-member etcd 3.4 — then the watch fan-out; prints a
// markdown report and writes it to test-results/bench-report.md.
// `npm run bench -- --help` lists the options; `--quick` is a ~1-minute smoke run.
//
// Every system is started and stopped here, one at a time, on loopback. Each
// phase is bounded in time, so the whole run is too (about 5–6 minutes here).

import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { startCpuSample } from "./cpu";
import { ensureEtcd } from "./etcd";
import { runPhase } from "./load";
import { describeMachine } from "./machine";
import { type BenchOptions, parseOptions } from "./options";
import { type BenchResults, type LoadRow, renderReport, type WriteCost } from "./report";
import {
  type Counters,
  type RunningSystem,
  type SystemKey,
  seedReads,
  startSystem,
  workloads,
} from "./systems";
import { runFanout } from "./watch-fanout";

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

/** Systems started and not yet stopped: stopped on Ctrl-C too. */
const running = new Set<RunningSystem>();

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const startedAt = new Date();
  const results: BenchResults = {
    machine: describeMachine(),
    options,
    startedAt,
    seconds: 0,
    load: [],
    proxy: [],
    fanout: [],
    problems: [],
  };
  for (const key of systemsToStart(options)) {
    if (key === "etcd") {
      try {
        results.machine.etcd = ensureEtcd(log);
      } catch (error) {
        results.problems.push((error as Error).message);
        log((error as Error).message);
        continue;
      }
    }
    log(`starting ${key}`);
    let system: RunningSystem;
    try {
      system = await startSystem(key, { viaProxy: options.viaProxy, withAssets: options.withAssets });
    } catch (error) {
      results.problems.push(`${key} did not start: ${(error as Error).message.slice(0, 2_000)}`);
      log(`${key} did not start`);
      continue;
    }
    running.add(system);
    // wrangler dev restarts workerd when a source file changes (others may be editing): say so if it did.
    const runtimePids = () =>
      system
        .processes()
        .filter((p) => p.role === "workerd (runtime)")
        .map((p) => p.pid)
        .join(",");
    const runtimeAtStart = runtimePids();
    try {
      await measure(system, options, results);
      if (runtimePids() !== runtimeAtStart) {
        results.problems.push(
          `${key}: wrangler dev restarted its runtime during the run (a source file changed?): ` +
            "its figures may include the restart (see its errors)",
        );
      }
    } catch (error) {
      results.problems.push(`${key} failed: ${(error as Error).stack ?? String(error)}`);
      log(`${key} failed: ${(error as Error).message}`);
    } finally {
      await system.stop();
      running.delete(system);
    }
  }
  results.seconds = (Date.now() - startedAt.getTime()) / 1000;
  const report = renderReport(results);
  console.log(report);
  mkdirSync(dirname(options.out), { recursive: true });
  writeFileSync(options.out, `${report}\n`);
  log(`report written to ${options.out}; the bench took ${Math.round(results.seconds)} s`);
}

/** Which systems this run needs: the load's, plus doozer-edge's worker route for the fan-out and proxy parts. */
function systemsToStart(options: BenchOptions): SystemKey[] {
  const keys = new Set<SystemKey>();
  for (const key of options.systems) {
    if (options.parts.includes("load")) keys.add(key);
    if (options.parts.includes("proxy") && (key === "doozer-worker" || key === "single-do")) keys.add(key);
    if (options.parts.includes("fanout") && key === "doozer-worker") keys.add(key);
  }
  const order: SystemKey[] = ["doozer-worker", "doozer-leader", "single-do", "etcd"];
  return order.filter((k) => keys.has(k));
}

async function measure(system: RunningSystem, options: BenchOptions, results: BenchResults): Promise<void> {
  log(`${system.key}: load to ${system.url} (${system.via})`);
  await seedReads(system);
  // Unmeasured: warms the JIT, opens connections, and lets doozer-edge's proposer win its ballot.
  await runPhase({
    url: system.url,
    clients: 16,
    durationMs: options.warmupMs,
    makeCall: system.calls.write,
  });

  if (options.parts.includes("load") && options.systems.includes(system.key)) {
    for (const workload of workloads) {
      for (const clients of options.clients) {
        const row = await phase(system, system.url, workload, clients, options.durationMs);
        results.load.push(row);
        log(
          `${system.key} ${workload} ×${clients}: ${Math.round(row.result.opsPerSec)} ops/s, ` +
            `p50 ${row.result.p50Ms.toFixed(1)} ms, p99 ${row.result.p99Ms.toFixed(1)} ms, ${row.result.errors} errors` +
            (row.cost ? `, ${row.cost.roundsPerWrite.toFixed(2)} round trips/write` : ""),
        );
      }
    }
  }

  const proxied = system.key === "doozer-worker" || system.key === "single-do";
  if (options.parts.includes("proxy") && proxied && system.proxyUrl) {
    // Two points suffice to show the proxy's cost: one client (latency) and 64 (throughput).
    for (const clients of [1, 64]) {
      const row = await phase(system, system.proxyUrl, "write", clients, options.durationMs);
      results.proxy.push(row);
      log(`${system.key} write ×${clients} via wrangler's proxy: ${Math.round(row.result.opsPerSec)} ops/s`);
    }
  }

  if (options.parts.includes("fanout") && system.key === "doozer-worker") {
    for (const watchers of options.watchers) {
      log(`fan-out: ${watchers} watchers`);
      const fanout = await runFanout({
        url: system.url,
        watchers,
        writes: options.fanoutWrites,
        processes: system.processes,
        connectTimeoutMs: 90_000,
        deliverTimeoutMs: 5_000,
        writesBudgetMs: 60_000,
        threads: options.fanoutThreads,
      });
      results.fanout.push(fanout);
      log(
        `fan-out ${watchers}: ${fanout.arrived}/${fanout.expected} events, ` +
          `p50 ${fanout.p50Ms.toFixed(1)} ms, p99 ${fanout.p99Ms.toFixed(1)} ms after the ack`,
      );
    }
  }
}

/** One measured phase, with its CPU sample and, for doozer-edge's writes, the counters' deltas. */
async function phase(
  system: RunningSystem,
  url: string,
  workload: (typeof workloads)[number],
  clients: number,
  durationMs: number,
): Promise<LoadRow> {
  const counting = workload === "write" && system.counters !== undefined;
  const before = counting ? await system.counters?.() : undefined;
  const endCpu = startCpuSample(system.processes());
  const result = await runPhase({ url, clients, durationMs, makeCall: system.calls[workload] });
  const cpu = endCpu();
  const after = counting ? await system.counters?.() : undefined;
  const row: LoadRow = { system: system.key, via: system.via, workload, result, cpu };
  if (before && after) row.cost = cost(before, after, result.ops);
  return row;
}

function cost(before: Counters, after: Counters, writes: number): WriteCost {
  const rounds = after.rounds - before.rounds;
  const decided = after.commandsDecided - before.commandsDecided;
  const slots = after.slotsChosen - before.slotsChosen;
  return {
    roundsPerWrite: rounds / decided,
    roundsPerSlot: rounds / slots,
    writesPerSlot: decided / slots,
    storageWritesPerWrite: (after.storageWrites - before.storageWrites) / writes,
  };
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping ${running.size} system(s)`);
    void Promise.allSettled([...running].map((s) => s.stop())).then(() => process.exit(130));
  });
}

main().catch(async (error) => {
  console.error(error);
  await Promise.allSettled([...running].map((s) => s.stop()));
  process.exit(1);
});
