// Baseline (b): etcd 3.4 as a 3-member cluster on loopback (Debian's
// etcd-server), started and stopped by the bench, driven through its JSON
// gateway (POST /v3/kv/put and /v3/kv/range, base64 keys and values) at the
// leader's client port, as a Raft client would be.

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { Agent } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Watched } from "./cpu";
import { send } from "./load";
import { freePort } from "./wrangler-dev";

export interface EtcdCluster {
  /** The leader's client URL. */
  url: string;
  leaderName: string;
  version: string;
  processes(): Watched[];
  stop(): Promise<void>;
}

const members = 3;
const logTailChars = 10_000;

/** The first line of `etcd --version`, or undefined when etcd is not installed. */
export function etcdVersion(): string | undefined {
  try {
    return execFileSync("etcd", ["--version"], { encoding: "utf8" }).split("\n")[0]?.trim() ?? "etcd";
  } catch {
    return undefined;
  }
}

/**
 * etcd's version, installing Debian's etcd-server first if etcd is missing (as
 * scripts/setup.mjs installs Chromium); a clear error if that is not possible.
 */
export function ensureEtcd(log: (line: string) => void): string {
  const found = etcdVersion();
  if (found) return found;
  log("etcd is missing: installing Debian's etcd-server (apt-get install -y etcd-server)");
  const sudo = process.getuid?.() === 0 ? "" : "sudo -n ";
  try {
    execFileSync(
      "/bin/sh",
      ["-c", `${sudo}apt-get update -qq && ${sudo}apt-get install -y -qq etcd-server`],
      {
        stdio: ["ignore", "inherit", "inherit"],
        timeout: 300_000,
      },
    );
  } catch {
    // Reported below.
  }
  const installed = etcdVersion();
  if (installed) return installed;
  throw new Error(
    "etcd is not installed and could not be installed: run `apt-get install -y etcd-server` " +
      "(Debian's etcd 3.4), or leave etcd out with `--systems doozer-worker,doozer-leader,single-do`",
  );
}

export async function startEtcd(startTimeoutMs = 30_000): Promise<EtcdCluster> {
  const version = etcdVersion() ?? "etcd (version unknown)";
  const dir = mkdtempSync(join(tmpdir(), "doozer-bench-etcd-"));
  const ports = [];
  for (let i = 0; i < members; i++) ports.push({ client: await freePort(), peer: await freePort() });
  const name = (i: number) => `m${i}`;
  const initialCluster = ports.map((p, i) => `${name(i)}=http://127.0.0.1:${p.peer}`).join(",");
  const token = `doozer-bench-${process.pid}-${Date.now()}`;
  let log = "";
  const children: ChildProcess[] = ports.map((p, i) => {
    const child = spawn(
      "etcd",
      [
        `--name=${name(i)}`,
        `--data-dir=${join(dir, name(i))}`,
        `--listen-client-urls=http://127.0.0.1:${p.client}`,
        `--advertise-client-urls=http://127.0.0.1:${p.client}`,
        `--listen-peer-urls=http://127.0.0.1:${p.peer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${p.peer}`,
        `--initial-cluster=${initialCluster}`,
        `--initial-cluster-token=${token}`,
        "--initial-cluster-state=new",
        "--logger=zap",
        "--log-level=warn",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    const keep = (chunk: Buffer) => {
      log = (log + chunk.toString()).slice(-logTailChars);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    return child;
  });
  // Should the bench die without stopping them (an uncaught error, process.exit), take the members along.
  const killOnExit = () => {
    for (const child of children) child.kill("SIGKILL");
  };
  process.once("exit", killOnExit);
  const stop = async () => {
    process.removeListener("exit", killOnExit);
    await Promise.all(
      children.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
        await exited;
        clearTimeout(timer);
      }),
    );
    rmSync(dir, { recursive: true, force: true });
  };

  // Up when a member reports a leader; the leader is the member whose own id that is.
  const agent = new Agent({ keepAlive: false });
  const deadline = Date.now() + startTimeoutMs;
  try {
    for (;;) {
      for (const [i, p] of ports.entries()) {
        const url = `http://127.0.0.1:${p.client}`;
        const status = await memberStatus(agent, url);
        if (status && status.leader !== "0" && status.leader === status.memberId) {
          return {
            url,
            leaderName: name(i),
            version,
            processes: () =>
              children.flatMap((child, j) =>
                child.pid ? [{ role: j === i ? "etcd (leader)" : "etcd (followers)", pid: child.pid }] : [],
              ),
            stop,
          };
        }
      }
      const dead = children.find((child) => child.exitCode !== null);
      if (dead) throw new Error(`an etcd member exited (${dead.exitCode}):\n${log}`);
      if (Date.now() > deadline)
        throw new Error(`etcd elected no leader within ${startTimeoutMs} ms:\n${log}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } catch (error) {
    await stop();
    throw error;
  } finally {
    agent.destroy();
  }
}

async function memberStatus(agent: Agent, url: string): Promise<{ leader: string; memberId: string } | null> {
  try {
    const body = await send(
      agent,
      new URL(url),
      { method: "POST", path: "/v3/maintenance/status", body: Buffer.from("{}") },
      1_000,
    );
    // uint64 ids come as JSON strings from the gateway.
    const status = JSON.parse(body.toString()) as { leader?: string; header?: { member_id?: string } };
    return { leader: String(status.leader ?? "0"), memberId: String(status.header?.member_id ?? "") };
  } catch {
    return null;
  }
}
