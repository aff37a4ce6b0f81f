// The bench's results and their rendering as markdown: the tables, the ratios
// against the baselines, what limited each figure, and the issue's targets.

import type { CpuSample } from "./cpu";
import type { PhaseResult } from "./load";
import type { Machine } from "./machine";
import type { BenchOptions } from "./options";
import type { SystemKey, Workload } from "./systems";
import type { FanoutResult } from "./watch-fanout";

/** doozer-edge's cost of a write, from /v1/stats deltas around a write phase. */
export interface WriteCost {
  /** Acceptor round trips on a write's path, per write decided. */
  roundsPerWrite: number;
  roundsPerSlot: number;
  /** Writes per slot: the batch size. */
  writesPerSlot: number;
  /** SQLite transactions summed over the acceptors, per write acknowledged. */
  storageWritesPerWrite: number;
}

export interface LoadRow {
  system: SystemKey;
  via: string;
  workload: Workload;
  result: PhaseResult;
  cpu: CpuSample;
  cost?: WriteCost;
}

export interface BenchResults {
  machine: Machine;
  options: BenchOptions;
  startedAt: Date;
  seconds: number;
  load: LoadRow[];
  /** Write phases sent through wrangler's proxy, to show what it costs. */
  proxy: LoadRow[];
  fanout: FanoutResult[];
  /** What could not run, and why. */
  problems: string[];
}

const systemOrder: SystemKey[] = ["doozer-worker", "doozer-leader", "single-do", "etcd"];
const shortName: Record<SystemKey, string> = {
  "doozer-worker": "doozer-edge (worker route)",
  "doozer-leader": "doozer-edge (leader route)",
  "single-do": "single DO",
  etcd: "etcd",
};
const workloadName: Record<Workload, string> = {
  write: "Writes (PUT of a 64-byte value, distinct keys per client)",
  read: "Linearizable reads (GET)",
  stale: "Stale reads (GET ?stale=1; etcd: serializable range)",
};

function num(n: number | undefined, digits = 0): string {
  if (n === undefined || !Number.isFinite(n)) return "–";
  return n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Milliseconds: one decimal below 100 ms, whole above. */
function ms(n: number): string {
  return num(n, Math.abs(n) < 100 ? 1 : 0);
}

function ratio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || !(b > 0)) return "–";
  return `${num(a / b, 2)}×`;
}

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

/** Roles that run on one thread: at ~100% of one core they are the ceiling. */
const singleThreaded = ["load generator", "workerd (runtime)", "workerd (proxy)"];

/**
 * What most likely limited a phase, read from its CPU sample: a one-thread
 * process near a full core is the ceiling; failing that, a machine with
 * (nearly) every core busy; failing that, a busy one-thread process is most of
 * each request's path (typical with one client: requests run one after another);
 * else the phase mostly waited (fsync, round trips between processes).
 */
export function limitOf(cpu: CpuSample, generatorThreads = 1): string {
  // A generator reading on several threads is measured per thread.
  const roles: [string, number][] = [
    ["load generator", cpu.loadGenerator / generatorThreads],
    ...Object.entries(cpu.byRole),
  ];
  roles.sort((a, b) => b[1] - a[1]);
  const [topRole, top] = roles[0] ?? ["", 0];
  const oneThread = singleThreaded.includes(topRole);
  if (oneThread && top >= 85) return `${topRole} thread saturated (${num(top)}%)`;
  if (cpu.machine >= 0.85 * cpu.capacity) return `all cores busy (${num(cpu.machine)}/${num(cpu.capacity)}%)`;
  if (oneThread && top >= 60) return `mostly ${topRole} CPU on each request's path (${num(top)}%)`;
  return `no CPU ceiling (machine ${num(cpu.machine)}/${num(cpu.capacity)}%): waits (fsync, round trips)`;
}

function cpuCell(cpu: CpuSample): string {
  const ours = Object.values(cpu.byRole).reduce((a, b) => a + b, 0) + cpu.loadGenerator;
  const parts = [`gen ${num(cpu.loadGenerator)}`];
  for (const [role, value] of Object.entries(cpu.byRole)) {
    if (value >= 1) parts.push(`${role.replace("workerd ", "").replace(/[()]/g, "")} ${num(value)}`);
  }
  parts.push(`others ${num(Math.max(0, cpu.machine - ours))}`);
  return parts.join(" · ");
}

/** CPU the system under test (every process of it, not the generator) spent per operation answered. */
function cpuMsPerOp(row: LoadRow): number {
  const percent = Object.values(row.cpu.byRole).reduce((a, b) => a + b, 0);
  return (10 * percent * row.cpu.seconds) / row.result.ops;
}

function find(rows: LoadRow[], system: SystemKey, workload: Workload, clients: number): LoadRow | undefined {
  return rows.find((r) => r.system === system && r.workload === workload && r.result.clients === clients);
}

export function renderReport(results: BenchResults): string {
  const { machine, options, load } = results;
  const out: string[] = [];
  const systems = systemOrder.filter((s) => load.some((r) => r.system === s));
  const clientCounts = [...new Set(load.map((r) => r.result.clients))].sort((a, b) => a - b);

  out.push(`# doozer-edge benchmark (${options.quick ? "quick run" : "full run"})`, "");
  out.push(
    `Run ${results.startedAt.toISOString()}, took ${num(results.seconds)} s; ` +
      `phases of ${num(options.durationMs / 1000, 1)} s after a ${num(options.warmupMs / 1000, 1)} s warm-up per system.`,
    "",
  );
  out.push("## Machine", "");
  out.push(
    table(
      [
        "cores",
        "memory",
        "CPU",
        "kernel",
        "storage (fsync of 4 KiB, median)",
        "Node",
        "wrangler",
        "workerd",
        "etcd",
        "load average at start",
      ],
      [
        [
          String(machine.cores),
          machine.memory,
          machine.cpuModel,
          machine.kernel,
          `${machine.storage} (${num(machine.fsyncMs, 2)} ms)`,
          machine.node,
          machine.wrangler,
          machine.workerd,
          machine.etcd.replace("etcd Version: ", ""),
          machine.loadAverage,
        ],
      ],
    ),
    "",
  );
  const vias = [...new Set(load.map((r) => `${shortName[r.system]}: ${r.via}`))];
  if (vias.length > 0) out.push(`Load sent to — ${vias.join("; ")}.`, "");

  for (const workload of ["write", "read", "stale"] as const) {
    if (!load.some((r) => r.workload === workload)) continue;
    out.push(`## ${workloadName[workload]}`, "", "ops/s (p50 / p99 ms); errors if any", "");
    out.push(
      table(
        ["clients", ...systems.map((s) => shortName[s])],
        clientCounts.map((c) => [
          String(c),
          ...systems.map((s) => {
            const row = find(load, s, workload, c);
            if (!row) return "–";
            const r = row.result;
            const errors = r.errors > 0 ? `; ${num(r.errors)} errors` : "";
            return `${num(r.opsPerSec)} (${ms(r.p50Ms)} / ${ms(r.p99Ms)})${errors}`;
          }),
        ]),
      ),
      "",
    );
  }

  const doozers = systems.filter((s) => s === "doozer-worker" || s === "doozer-leader");
  const baselines = systems.filter((s) => s === "single-do" || s === "etcd");
  if (doozers.length > 0 && baselines.length > 0) {
    out.push("## Ratios: doozer-edge ops/s ÷ baseline ops/s", "");
    const header = ["workload", "clients"];
    for (const d of doozers) for (const b of baselines) header.push(`${shortName[d]} ÷ ${shortName[b]}`);
    const rows: string[][] = [];
    for (const workload of ["write", "read", "stale"] as const) {
      for (const c of clientCounts) {
        const row = [workload, String(c)];
        for (const d of doozers) {
          for (const b of baselines) {
            row.push(
              ratio(
                find(load, d, workload, c)?.result.opsPerSec,
                find(load, b, workload, c)?.result.opsPerSec,
              ),
            );
          }
        }
        rows.push(row);
      }
    }
    out.push(table(header, rows), "");
  }

  const costs = load.filter((r) => r.cost);
  if (costs.length > 0) {
    out.push("## doozer-edge: the cost of a write (/v1/stats deltas over each write phase)", "");
    out.push(
      "Round trips on a write's path: worker route (prepare + accept + commit) per write; leader route " +
        "(prepare + accept) per write, its commit going to its own replica. Storage writes: SQLite " +
        "transactions summed over the 5 acceptors, per write acknowledged.",
      "",
    );
    out.push(
      table(
        [
          "route",
          "clients",
          "writes",
          "round trips / write",
          "round trips / slot",
          "writes / slot",
          "storage writes / write",
        ],
        costs.map((r) => {
          const c = r.cost as WriteCost;
          return [
            shortName[r.system],
            String(r.result.clients),
            num(r.result.ops),
            num(c.roundsPerWrite, 2),
            num(c.roundsPerSlot, 2),
            num(c.writesPerSlot, 2),
            num(c.storageWritesPerWrite, 2),
          ];
        }),
      ),
      "",
    );
  }

  if (results.proxy.length > 0) {
    out.push("## What wrangler dev's proxy costs (writes)", "");
    out.push(
      "`wrangler dev` puts a second workerd in front of the Worker; the tables above bypass it (they go to the " +
        "runtime workerd's own port). The same writes through the proxy:",
      "",
    );
    out.push(
      table(
        ["system", "clients", "through the proxy", "direct", "proxy CPU % of a core"],
        results.proxy.map((r) => {
          const direct = find(load, r.system, "write", r.result.clients)?.result;
          return [
            shortName[r.system],
            String(r.result.clients),
            `${num(r.result.opsPerSec)} ops/s (${ms(r.result.p50Ms)} / ${ms(r.result.p99Ms)} ms)`,
            direct ? `${num(direct.opsPerSec)} ops/s (${ms(direct.p50Ms)} / ${ms(direct.p99Ms)} ms)` : "–",
            num(r.cpu.byRole["workerd (proxy)"]),
          ];
        }),
      ),
      "",
    );
  }

  if (results.fanout.length > 0) {
    out.push("## Watch fan-out (doozer-edge, worker route)", "");
    out.push(
      "Watchers on one glob, then writes one at a time (each waits until every watcher has its event, " +
        "or 5 s). Delay = event arrival − the write's acknowledgement, per (write, watcher); an event that " +
        "arrived before the acknowledgement counts 0. The watchers are read on their own threads of the " +
        "generator (gen counts them all; the limit is judged per thread).",
      "",
    );
    out.push(
      table(
        [
          "watchers",
          "sockets × watches (reader threads)",
          "opened in",
          "writes",
          "events arrived / owed",
          "before the ack",
          "delay p50 / p99 / max (ms)",
          "from send p50 / p99 (ms)",
          "write p50 (ms)",
          "runtime fds / limit",
          "CPU % of a core",
          "limit",
        ],
        results.fanout.map((f) => [
          num(f.watchers),
          `${num(f.connected)} × ${f.watchesPerSocket} (${f.threads})${f.connectFailures > 0 ? `; ${num(f.connectFailures)} failed: ${f.firstConnectError}` : ""}`,
          `${num(f.connectSeconds, 1)} s`,
          `${num(f.writes)}${f.writeErrors > 0 ? ` (${f.writeErrors} failed: ${f.firstWriteError})` : ""}`,
          `${num(f.arrived)} / ${num(f.expected)}`,
          num(f.beforeAck),
          `${ms(f.p50Ms)} / ${ms(f.p99Ms)} / ${ms(f.maxMs)}`,
          `${ms(f.p50FromSendMs)} / ${ms(f.p99FromSendMs)}`,
          ms(f.p50WriteMs),
          `${num(f.runtimeFds)} / ${num(f.runtimeFdLimit)}`,
          cpuCell(f.cpu),
          limitOf(f.cpu, f.threads),
        ]),
      ),
      "",
    );
  }

  out.push("## Targets (issue 6)", "");
  out.push(
    targets(results)
      .map((t) => `- ${t}`)
      .join("\n"),
    "",
  );
  out.push("## Targets (issue 15), on the default route (leader)", "");
  out.push(
    roundTwoTargets(results)
      .map((t) => `- ${t}`)
      .join("\n"),
    "",
  );

  out.push("## Every phase: CPU and what limited it", "");
  out.push(
    "CPU in % of one core over the phase (the machine has " +
      `${num(machine.cores * 100)}%): gen = this load generator; runtime = the workerd running the Worker ` +
      "and every Durable Object; proxy = wrangler's proxy workerd; node = wrangler's Node process; others = " +
      "the rest of the machine (other people's tests when the machine is shared). Limit: a one-thread " +
      "process at ≥ 85% is the ceiling; else ≥ 85% of all cores busy; else a one-thread process at ≥ 60% " +
      "is most of each request's path; else the phase waited (fsync, round trips). The system's CPU per " +
      "operation sums its processes (workerd, wrangler's, etcd's), not the generator's.",
    "",
  );
  out.push(
    table(
      [
        "system",
        "workload",
        "clients",
        "ops/s",
        "errors",
        "CPU % of a core",
        "system's CPU ms / op",
        "limit",
      ],
      [...load, ...results.proxy].map((r) => [
        shortName[r.system] + (results.proxy.includes(r) ? " via proxy" : ""),
        r.workload,
        String(r.result.clients),
        num(r.result.opsPerSec),
        r.result.errors > 0 ? `${num(r.result.errors)}: ${r.result.firstError ?? ""}` : "0",
        cpuCell(r.cpu),
        num(cpuMsPerOp(r), 2),
        limitOf(r.cpu),
      ]),
    ),
    "",
  );

  if (results.problems.length > 0) {
    out.push("## What did not run", "", results.problems.map((p) => `- ${p}`).join("\n"), "");
  }
  return out.join("\n");
}

function targets(results: BenchResults): string[] {
  const { load } = results;
  const lines: string[] = [];
  const verdict = (ok: boolean) => (ok ? "**met**" : "**not met**");

  for (const system of ["doozer-worker", "doozer-leader"] as const) {
    const cost = find(load, system, "write", 1)?.cost;
    lines.push(
      cost
        ? `≤ 1.1 acceptor round trips per write, one writer, ${shortName[system]}: ` +
            `${num(cost.roundsPerWrite, 2)} — ${verdict(cost.roundsPerWrite <= 1.1)}`
        : `≤ 1.1 acceptor round trips per write, ${shortName[system]}: not measured in this run`,
    );
  }
  for (const system of ["doozer-worker", "doozer-leader"] as const) {
    const d = find(load, system, "write", 64)?.result;
    const single = find(load, "single-do", "write", 64)?.result;
    const etcd = find(load, "etcd", "write", 64)?.result;
    lines.push(
      d && single
        ? `write throughput at 64 clients ≥ the single-DO baseline, ${shortName[system]}: ` +
            `${num(d.opsPerSec)} vs ${num(single.opsPerSec)} ops/s (${ratio(d.opsPerSec, single.opsPerSec)}) — ` +
            verdict(d.opsPerSec >= single.opsPerSec)
        : `write throughput at 64 clients vs the single DO, ${shortName[system]}: not measured in this run`,
    );
    lines.push(
      d && etcd
        ? `write throughput at 64 clients ≥ half of etcd's, ${shortName[system]}: ` +
            `${num(d.opsPerSec)} vs ${num(etcd.opsPerSec)} ops/s (${ratio(d.opsPerSec, etcd.opsPerSec)}) — ` +
            verdict(d.opsPerSec >= etcd.opsPerSec / 2)
        : `write throughput at 64 clients vs etcd, ${shortName[system]}: not measured in this run`,
    );
  }
  const big = results.fanout.find((f) => f.watchers === 10_000);
  lines.push(
    big
      ? `watch delivery p99 ≤ 50 ms with 10,000 watchers: p99 ${ms(big.p99Ms)} ms after the ack ` +
          `(${num(big.arrived)} of ${num(big.expected)} events arrived; ${num(big.connected)} sockets × ` +
          `${big.watchesPerSocket} watches) — ${verdict(big.p99Ms <= 50 && big.arrived === big.expected && big.connected * big.watchesPerSocket >= 10_000)}`
      : "watch delivery p99 ≤ 50 ms with 10,000 watchers: not measured in this run",
  );
  return lines;
}

/** Issue 15's targets that a local run can judge; the WAN ones are in docs/WAN-MODEL.md. */
function roundTwoTargets(results: BenchResults): string[] {
  const { load } = results;
  const verdict = (ok: boolean) => (ok ? "**met**" : "**not met**");
  const system = "doozer-leader" as const;
  const at = (workload: Workload, clients: number, of: SystemKey = system) =>
    find(load, of, workload, clients);
  const missing = (what: string) => `${what}: not measured in this run`;
  const lines: string[] = [];

  for (const workload of ["write", "read"] as const) {
    const what = `p99 ≤ 4× p50 at 256 clients, ${workload === "write" ? "writes" : "linearizable reads"}`;
    const r = at(workload, 256)?.result;
    const single = at(workload, 256, "single-do")?.result;
    lines.push(
      r
        ? `${what}: p99 ${ms(r.p99Ms)} ms, p50 ${ms(r.p50Ms)} ms (${num(r.p99Ms / r.p50Ms, 1)}×; single DO ` +
            `${single ? `${num(single.p99Ms / single.p50Ms, 1)}×` : "–"}) — ${verdict(r.p99Ms <= 4 * r.p50Ms)}`
        : missing(what),
    );
  }

  const reads = at("read", 64)?.result;
  const writes = at("write", 64)?.result;
  const singleReads = at("read", 64, "single-do")?.result;
  lines.push(
    reads && writes
      ? `linearizable reads at 64 clients ≥ 1.5× writes: ${num(reads.opsPerSec)} vs ${num(writes.opsPerSec)} ops/s ` +
          `(${ratio(reads.opsPerSec, writes.opsPerSec)}) — ${verdict(reads.opsPerSec >= 1.5 * writes.opsPerSec)}`
      : missing("linearizable reads at 64 clients vs writes"),
  );
  lines.push(
    reads && singleReads
      ? `linearizable reads at 64 clients ≥ 0.7× the single DO's: ${num(reads.opsPerSec)} vs ` +
          `${num(singleReads.opsPerSec)} ops/s (${ratio(reads.opsPerSec, singleReads.opsPerSec)}) — ` +
          verdict(reads.opsPerSec >= 0.7 * singleReads.opsPerSec)
      : missing("linearizable reads at 64 clients vs the single DO"),
  );

  const writeRow = at("write", 64);
  const singleWriteRow = at("write", 64, "single-do");
  lines.push(
    writeRow && singleWriteRow
      ? `writes at 64 clients ≥ 1.0× the single DO: ${num(writeRow.result.opsPerSec)} vs ` +
          `${num(singleWriteRow.result.opsPerSec)} ops/s (${ratio(writeRow.result.opsPerSec, singleWriteRow.result.opsPerSec)}) — ` +
          verdict(writeRow.result.opsPerSec >= singleWriteRow.result.opsPerSec)
      : missing("writes at 64 clients vs the single DO"),
  );
  lines.push(
    writeRow && singleWriteRow
      ? `CPU per write at 64 clients ≤ the single DO's: ${num(cpuMsPerOp(writeRow), 2)} vs ` +
          `${num(cpuMsPerOp(singleWriteRow), 2)} ms — ${verdict(cpuMsPerOp(writeRow) <= cpuMsPerOp(singleWriteRow))}`
      : missing("CPU per write at 64 clients vs the single DO"),
  );

  const one = at("write", 1)?.result;
  const singleOne = at("write", 1, "single-do")?.result;
  lines.push(
    one && singleOne
      ? `one-writer p50 ≤ 2× the single DO's: ${ms(one.p50Ms)} vs ${ms(singleOne.p50Ms)} ms ` +
          `(${ratio(one.p50Ms, singleOne.p50Ms)}) — ${verdict(one.p50Ms <= 2 * singleOne.p50Ms)}`
      : missing("one-writer p50 vs the single DO"),
  );
  return lines;
}
