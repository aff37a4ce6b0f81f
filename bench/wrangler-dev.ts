// Starts a Worker under `wrangler dev` (the same runtime as `npm start`), on a
// free port with a fresh state folder, for one system under test.
//
// Unlike test/e2e/local-cluster.ts it takes a config file (the single-DO
// baseline has its own) and knows the processes wrangler starts: a Node
// process, a proxy workerd that listens on our port, and the runtime workerd
// that runs the Worker and every Durable Object. The bench samples the CPU of
// each, and finds the runtime's own port so that a phase can bypass the proxy,
// which costs about as much CPU as the Worker itself (docs/BENCHMARKS.md).
// It serves a snapshot of the Worker (bench/snapshot.ts), so that edits made
// meanwhile do not restart it.

import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { commandLine, descendants, type Watched } from "./cpu";
import { snapshotWorker } from "./snapshot";

export interface WranglerDev {
  /** Through wrangler's proxy: what `npm start` users talk to. */
  url: string;
  /** The runtime workerd's own entry socket (no proxy); undefined when it could not be found. */
  directUrl: string | undefined;
  /** The processes to sample, by role. */
  processes(): Watched[];
  stop(): Promise<void>;
}

export interface WranglerDevOptions {
  /** wrangler.toml of the Worker, relative to the repository. */
  config: string;
  vars?: Record<string, string>;
  /** A GET path that answers 200 once the Worker is up. */
  healthPath: string;
  /** Bound on the start. */
  startTimeoutMs?: number;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

/** Keeps the end of a child's output, for the error message when it fails. */
const logTailChars = 20_000;

export async function startWranglerDev(options: WranglerDevOptions): Promise<WranglerDev> {
  const port = await freePort();
  const work = mkdtempSync(join(tmpdir(), "doozer-bench-"));
  let config: string;
  try {
    config = snapshotWorker(options.config, join(work, "worker"));
  } catch (error) {
    rmSync(work, { recursive: true, force: true });
    throw error;
  }
  const args = ["dev", "--config", config, "--ip", "127.0.0.1", "--port", String(port)];
  args.push("--persist-to", join(work, "state"));
  args.push("--inspector-port", "0", "--show-interactive-dev-session=false");
  // Without this wrangler prints a line per request: CPU in its Node process that no deployment pays.
  args.push("--log-level", "warn");
  for (const [name, value] of Object.entries(options.vars ?? {})) args.push("--var", `${name}:${value}`);
  const child: ChildProcess = spawn(
    process.execPath,
    [join("node_modules", "wrangler", "bin", "wrangler.js"), ...args],
    {
      // Local request tracing halves throughput (PLATFORM-NOTES): off, as in the e2e helper.
      env: { ...process.env, X_LOCAL_OBSERVABILITY: "false", X_LOCAL_EXPLORER: "false", CI: "1" },
      stdio: ["ignore", "pipe", "pipe"],
      // Its own process group, so that stopping it stops workerd too.
      detached: true,
    },
  );
  const kill = (signal: NodeJS.Signals) => {
    try {
      if (child.pid) process.kill(-child.pid, signal);
    } catch {
      // Already gone.
    }
  };
  // Should the bench die without stopping it (an uncaught error, process.exit), take wrangler along.
  const killOnExit = () => kill("SIGKILL");
  process.once("exit", killOnExit);
  let log = "";
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-logTailChars);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const stop = async () => {
    process.removeListener("exit", killOnExit);
    const exited = new Promise((resolve) =>
      child.exitCode !== null || child.signalCode !== null ? resolve(undefined) : child.once("exit", resolve),
    );
    kill("SIGTERM");
    const timer = setTimeout(() => kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
    rmSync(work, { recursive: true, force: true });
  };

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.startTimeoutMs ?? 90_000);
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`wrangler dev exited (${child.exitCode}):\n${log}`);
    }
    if (await answers(`${url}${options.healthPath}`)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`wrangler dev did not answer within the start timeout:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }

  const processes = (): Watched[] => {
    if (!child.pid) return [];
    return [child.pid, ...descendants(child.pid)].map((pid) => {
      const command = commandLine(pid);
      const role = !command.includes("workerd")
        ? "wrangler (node)" // and its esbuild, if any
        : command.includes(`entry=127.0.0.1:${port} `)
          ? "workerd (proxy)"
          : "workerd (runtime)";
      return { role, pid };
    });
  };
  const runtime = processes().filter((p) => p.role === "workerd (runtime)");
  let directUrl: string | undefined;
  for (const candidate of runtime.flatMap((p) => listeningPorts(p.pid))) {
    if (await answers(`http://127.0.0.1:${candidate}${options.healthPath}`)) {
      directUrl = `http://127.0.0.1:${candidate}`;
      break;
    }
  }
  return { url, directUrl, processes, stop };
}

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    await response.arrayBuffer();
    return response.status === 200;
  } catch {
    return false;
  }
}

/** The loopback TCP ports a process listens on: its socket inodes matched against /proc/net/tcp. */
function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return [];
  }
  for (const fd of fds) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`, { encoding: "utf8" }));
      if (match?.[1]) inodes.add(match[1]);
    } catch {
      // Closed while we looked.
    }
  }
  const ports: number[] = [];
  for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    // Fields: sl, local_address (HEXIP:HEXPORT), rem_address, st (0A is LISTEN), …, inode (the 10th).
    const [, local, , state, , , , , , inode] = fields;
    if (state !== "0A" || !local || !inode || !inodes.has(inode)) continue;
    ports.push(Number.parseInt(local.split(":")[1] ?? "0", 16));
  }
  return ports;
}
