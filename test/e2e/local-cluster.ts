// Starts the local cluster as `npm start` does (wrangler dev), on a free port
// and with its own state folder, for tests that need real, separate HTTP
// requests and processes.

import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface LocalCluster {
  url: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
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

export async function startLocalCluster(
  vars: Record<string, string> = {},
  persistTo?: string,
): Promise<LocalCluster> {
  const port = await freePort();
  const state = persistTo ?? mkdtempSync(join(tmpdir(), "doozer-e2e-"));
  const args = [
    "dev",
    "--ip",
    "127.0.0.1",
    "--port",
    String(port),
    "--persist-to",
    state,
    "--inspector-port",
    "0",
  ];
  for (const [name, value] of Object.entries(vars)) args.push("--var", `${name}:${value}`);
  // The Node that runs the tests (>= 22) runs wrangler too, whatever node is first on PATH.
  const child: ChildProcess = spawn(
    process.execPath,
    [join("node_modules", "wrangler", "bin", "wrangler.js"), ...args],
    {
      env: { ...process.env, X_LOCAL_OBSERVABILITY: "false", X_LOCAL_EXPLORER: "false", CI: "1" },
      stdio: ["ignore", "pipe", "pipe"],
      // Its own process group, so that stopping it stops wrangler's children (workerd) too.
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
  let log = "";
  child.stdout?.on("data", (chunk) => {
    log += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    log += chunk;
  });
  const url = `http://127.0.0.1:${port}`;
  const started = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited (${child.exitCode}):\n${log}`);
    try {
      // Up when the API answers at all: a cluster with DOOZER_RWSECRET set answers 401 here.
      const status = (await fetch(`${url}/v1/rev`)).status;
      if (status === 200 || status === 401) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() - started > 60_000) {
      kill("SIGKILL");
      throw new Error(`wrangler dev did not answer within 60 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    async stop() {
      const exited = new Promise((resolve) =>
        child.exitCode !== null ? resolve(undefined) : child.once("exit", resolve),
      );
      kill("SIGTERM");
      const timer = setTimeout(() => kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
      if (!persistTo) rmSync(state, { recursive: true, force: true });
    },
  };
}
