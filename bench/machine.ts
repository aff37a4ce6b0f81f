// What the bench ran on, for the report: the figures mean little without it.

import { execFileSync } from "node:child_process";
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cores } from "./cpu";

export interface Machine {
  cores: number;
  memory: string;
  cpuModel: string;
  kernel: string;
  /** The file system holding every system's data (the temp folder). */
  storage: string;
  /** Median time of a 4 KiB write + fsync there: the floor under each durable write. */
  fsyncMs: number;
  node: string;
  wrangler: string;
  workerd: string;
  etcd: string;
  /** /proc/loadavg when the bench started: other work on the machine. */
  loadAverage: string;
}

function run(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "unknown";
  }
}

function packageVersion(path: string): string {
  try {
    return (JSON.parse(readFileSync(path, "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

export function describeMachine(): Machine {
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  // wrangler runs the workerd it depends on, which may be newer than the repository's own.
  const nested = "node_modules/wrangler/node_modules/workerd/package.json";
  const workerdPackage = existsSync(nested) ? nested : "node_modules/workerd/package.json";
  return {
    cores: cores(),
    memory: run("free", ["-h"]).split("\n")[1]?.split(/\s+/)[1] ?? "unknown",
    cpuModel: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? "unknown",
    kernel: run("uname", ["-r"]),
    storage:
      run("df", ["--output=fstype,source", tmpdir()]).split("\n")[1]?.trim().replace(/\s+/, " on ") ??
      "unknown",
    fsyncMs: fsyncMedianMs(),
    node: process.version,
    wrangler: packageVersion("node_modules/wrangler/package.json"),
    workerd: packageVersion(workerdPackage),
    etcd: run("etcd", ["--version"]).split("\n")[0]?.replace("unknown", "not installed") ?? "not installed",
    loadAverage: readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" "),
  };
}

/** 200 fsyncs of a 4 KiB write in the temp folder (about 0.1–0.5 s): their median, in ms. */
function fsyncMedianMs(): number {
  const dir = mkdtempSync(join(tmpdir(), "doozer-bench-fsync-"));
  const fd = openSync(join(dir, "probe"), "w");
  const block = Buffer.alloc(4096, 1);
  const times: number[] = [];
  try {
    for (let i = 0; i < 200; i++) {
      const started = performance.now();
      writeSync(fd, block, 0, block.length, 0);
      fsyncSync(fd);
      times.push(performance.now() - started);
    }
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] ?? Number.NaN;
}
