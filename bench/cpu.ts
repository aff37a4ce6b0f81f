// What used the CPU during a phase: per process of the system under test (from
// /proc/<pid>/stat), the load generator itself (process.cpuUsage) and the whole
// machine (/proc/stat). On a 2-core machine this says which one was saturated;
// the machine's total minus ours is what other work (other people's tests)
// took meanwhile.

import { readdirSync, readFileSync } from "node:fs";

/** A process to watch, by the role it plays (e.g. "workerd (runtime)"). */
export interface Watched {
  role: string;
  pid: number;
}

/** CPU use over an interval, as % of one core (200 = both cores of a 2-core machine). */
export interface CpuSample {
  /** Per role; roles with several processes are summed. */
  byRole: Record<string, number>;
  loadGenerator: number;
  /** Every process on the machine, ours included. */
  machine: number;
  /** The machine's capacity: 100 × cores. */
  capacity: number;
  /** The interval's length. */
  seconds: number;
}

/** Linux reports process times in clock ticks; USER_HZ is 100 on every mainstream kernel. */
const ticksPerSecond = 100;

function processTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command (which may hold spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]); // utime + stime
  } catch {
    return 0; // Gone.
  }
}

function machineTicks(): { busy: number; total: number } {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const total = values.reduce((a, b) => a + b, 0);
  const idle = (values[3] ?? 0) + (values[4] ?? 0); // idle + iowait
  return { busy: total - idle, total };
}

export function cores(): number {
  return readFileSync("/proc/stat", "utf8")
    .split("\n")
    .filter((line) => /^cpu\d+ /.test(line)).length;
}

/** Starts measuring now; the returned function ends the interval and gives the sample. */
export function startCpuSample(watched: readonly Watched[]): () => CpuSample {
  const started = performance.now();
  const before = watched.map((w) => processTicks(w.pid));
  const self = process.cpuUsage();
  const machine = machineTicks();
  return () => {
    const seconds = (performance.now() - started) / 1000;
    const percent = (ticks: number) => (100 * ticks) / ticksPerSecond / seconds;
    const byRole: Record<string, number> = {};
    watched.forEach((w, i) => {
      byRole[w.role] = (byRole[w.role] ?? 0) + percent(processTicks(w.pid) - (before[i] ?? 0));
    });
    const used = process.cpuUsage(self);
    const now = machineTicks();
    const n = cores();
    return {
      byRole,
      loadGenerator: (100 * (used.user + used.system)) / 1e6 / seconds,
      machine: (100 * n * (now.busy - machine.busy)) / Math.max(1, now.total - machine.total),
      capacity: 100 * n,
      seconds,
    };
  };
}

/** The pids of every descendant of `root` (not `root` itself). */
export function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      parent.set(Number(entry), ppid);
    } catch {
      // Exited while we looked.
    }
  }
  const found: number[] = [];
  let frontier = [root];
  // A process tree is shallow; the bound only guards against a cycle in a racing snapshot.
  for (let depth = 0; depth < 16 && frontier.length > 0; depth++) {
    const next: number[] = [];
    for (const [pid, ppid] of parent) if (frontier.includes(ppid) && !found.includes(pid)) next.push(pid);
    found.push(...next);
    frontier = next;
  }
  return found;
}

/** A process's command line, arguments joined by spaces ("" when gone). */
export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
  } catch {
    return "";
  }
}
