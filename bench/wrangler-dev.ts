// Starts a Worker under `wrangler dev` (the same runtime as `npm start`), on a
// free port with a fresh state folder, for one system under test.
//
// It launches wrangler as test/e2e/local-cluster.ts does; beyond that it takes a config file (the single-DO
// baseline has its own) and knows the processes wrangler starts: a Node
// process, a proxy workerd that listens on our port, and the runtime workerd
// that runs the Worker and every Durable Object. The bench samples the CPU of
// each, and finds the runtime's own port so that a phase can bypass the proxy,
// which costs about as much CPU as the Worker itself (docs/BENCHMARKS.md).
// It serves a snapshot of the Worker (bench/snapshot.ts), so that edits made
// meanwhile do not restart it.

import { mkdtempSync, readdirSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, launchWranglerDev } from "../test/e2e/local-cluster";
import { commandLine, descendants, type Watched } from "./cpu";
import { tcpSockets } from "./proc-net";
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
  /** Serve the config's static assets (default true); without them wrangler dev runs no asset router. */
  assets?: boolean;
  /** A state folder to run on and keep (the caller removes it); a fresh one, removed at stop, when absent. */
  persistTo?: string;
}

export { freePort };

export async function startWranglerDev(options: WranglerDevOptions): Promise<WranglerDev> {
  const work = mkdtempSync(join(tmpdir(), "doozer-bench-"));
  let config: string;
  try {
    config = snapshotWorker(options.config, join(work, "worker"), { assets: options.assets ?? true });
  } catch (error) {
    rmSync(work, { recursive: true, force: true });
    throw error;
  }
  const { url, port, pid, stop } = await launchWranglerDev({
    // Without --log-level wrangler prints a line per request: CPU in its Node process that no deployment pays.
    args: ["--config", config, "--show-interactive-dev-session=false", "--log-level", "warn"],
    vars: options.vars,
    persistTo: options.persistTo ?? join(work, "state"),
    cleanup: [work],
    ready: (base) => answers(`${base}${options.healthPath}`),
    startTimeoutMs: options.startTimeoutMs ?? 90_000,
  });

  const processes = (): Watched[] => {
    if (!pid) return [];
    return [pid, ...descendants(pid)].map((each) => {
      const command = commandLine(each);
      const role = !command.includes("workerd")
        ? "wrangler (node)" // and its esbuild, if any
        : command.includes(`entry=127.0.0.1:${port} `)
          ? "workerd (proxy)"
          : "workerd (runtime)";
      return { role, pid: each };
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
export function listeningPorts(pid: number): number[] {
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
  return tcpSockets()
    .filter((s) => s.state === "0A" && inodes.has(s.inode))
    .map((s) => s.localPort);
}
