// Starts the local cluster as `npm start` does (wrangler dev), on a free port
// and with its own state folder, for tests that need real, separate HTTP
// requests and processes. `launchWranglerDev` is the process handling under
// it, shared with the benchmarks (bench/wrangler-dev.ts).

import { type ChildProcess, spawn } from "node:child_process";
import { appendFileSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface LocalCluster {
  url: string;
  stop(): Promise<void>;
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

export interface LaunchOptions {
  /** Arguments after `dev --ip --port --persist-to --inspector-port` (e.g. `--config`). */
  args?: string[];
  vars?: Record<string, string>;
  /** The state folder; a fresh temporary one (removed at stop) when absent. */
  persistTo?: string;
  /** Folders to remove at stop, besides a temporary state folder. */
  cleanup?: string[];
  /** True once the Worker at `url` is up. */
  ready(url: string): Promise<boolean>;
  startTimeoutMs: number;
}

export interface Launched {
  url: string;
  port: number;
  pid: number | undefined;
  stop(): Promise<void>;
}

/** Keeps the end of wrangler's output, for the error message when it fails. */
const logTailChars = 20_000;

/**
 * Runs `wrangler dev` in its own process group (so that stopping it stops its
 * workerd processes too, and so does this process exiting) and waits until
 * `ready` says the Worker answers.
 */
export async function launchWranglerDev(options: LaunchOptions): Promise<Launched> {
  const port = await freePort();
  const state = options.persistTo ?? mkdtempSync(join(tmpdir(), "doozer-e2e-"));
  const args = ["dev", "--ip", "127.0.0.1", "--port", String(port), "--persist-to", state];
  args.push("--inspector-port", "0", ...(options.args ?? []));
  for (const [name, value] of Object.entries(options.vars ?? {})) args.push("--var", `${name}:${value}`);
  // The Node that runs the tests (>= 22) runs wrangler too, whatever node is first on PATH.
  const child: ChildProcess = spawn(
    process.execPath,
    [join("node_modules", "wrangler", "bin", "wrangler.js"), ...args],
    {
      // Local request tracing halves throughput (PLATFORM-NOTES): off.
      env: { ...process.env, X_LOCAL_OBSERVABILITY: "false", X_LOCAL_EXPLORER: "false", CI: "1" },
      stdio: ["ignore", "pipe", "pipe"],
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
  // Should the caller die without stopping it (an uncaught error, process.exit), take wrangler along.
  const killOnExit = () => kill("SIGKILL");
  process.once("exit", killOnExit);
  let log = "";
  // DOOZER_CLUSTER_LOG=<file> keeps the whole of wrangler's output there, for debugging a run.
  const logFile = process.env.DOOZER_CLUSTER_LOG;
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-logTailChars);
    if (logFile) appendFileSync(logFile, chunk);
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
    if (!options.persistTo) rmSync(state, { recursive: true, force: true });
    for (const folder of options.cleanup ?? []) rmSync(folder, { recursive: true, force: true });
  };

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + options.startTimeoutMs;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`wrangler dev exited (${child.exitCode}):\n${log}`);
    }
    if (await options.ready(url)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`wrangler dev did not answer within ${options.startTimeoutMs} ms:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, port, pid: child.pid, stop };
}

export async function startLocalCluster(
  vars: Record<string, string> = {},
  persistTo?: string,
): Promise<LocalCluster> {
  const { url, stop } = await launchWranglerDev({
    vars,
    persistTo,
    startTimeoutMs: 60_000,
    // Up when the API answers at all: a cluster with DOOZER_RWSECRET set answers 401 here.
    ready: async (base) => {
      try {
        const response = await fetch(`${base}/v1/rev`);
        await response.arrayBuffer();
        return response.status === 200 || response.status === 401;
      } catch {
        return false;
      }
    },
  });
  return { url, stop };
}
