// The systems under test, behind one interface: how to start and stop each,
// where to send load, and how each one spells the three workloads (a write of
// a 64-byte value, a linearizable read, a stale read) over HTTP.

import { Agent } from "node:http";
import type { Watched } from "./cpu";
import { startEtcd } from "./etcd";
import { type Call, type CallMaker, send } from "./load";
import { startWranglerDev, type WranglerDev } from "./wrangler-dev";

export type Workload = "write" | "read" | "stale";
export const workloads: readonly Workload[] = ["write", "read", "stale"];

export type SystemKey = "doozer-worker" | "doozer-leader" | "single-do" | "etcd";
export const systemKeys: readonly SystemKey[] = ["doozer-worker", "doozer-leader", "single-do", "etcd"];

/** doozer-edge's counters (GET /v1/stats), for the cost of a write. */
export interface Counters {
  /** Acceptor rounds on the write's critical path (see roundsOnPath). */
  rounds: number;
  commandsDecided: number;
  slotsChosen: number;
  storageWrites: number;
}

export interface RunningSystem {
  key: SystemKey;
  /** Where the load goes. */
  url: string;
  /** How the load reaches it, for the report. */
  via: string;
  /** The same system through wrangler's proxy, when there is one. */
  proxyUrl?: string;
  calls: Record<Workload, CallMaker>;
  /** Writes the keys the reads read (before any read phase). */
  seedCalls: Call[];
  processes(): Watched[];
  counters?(): Promise<Counters>;
  stop(): Promise<void>;
}

/** Every write carries 64 bytes. */
const value = Buffer.alloc(64, "v");
/** Each client writes its own keys, round robin over a few, so that writers never touch one key together. */
const keysPerClient = 8;
/** Reads spread over this many seeded keys. */
const readKeys = 64;

const writeKey = (client: number, n: number) => `/bench/c${client}/k${n % keysPerClient}`;
const readKey = (client: number) => `/bench/read/k${client % readKeys}`;

export interface StartOptions {
  /** Send load through wrangler's proxy instead of straight to the runtime workerd. */
  viaProxy: boolean;
  /**
   * Run doozer-edge with the viewer's assets, as `npm start` does. Without them (the default here)
   * wrangler dev puts no asset router in front of the Worker: locally that router runs on the same
   * thread as everything else, ~0.3 ms a request, which the single-DO baseline (no assets) does not pay,
   * and which in production runs in Cloudflare's router, not in the Worker.
   */
  withAssets?: boolean;
}

/** Writes the keys the read phases read, one at a time. */
export async function seedReads(system: RunningSystem): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    for (const call of system.seedCalls) await send(agent, new URL(system.url), call, 10_000);
  } finally {
    agent.destroy();
  }
}

export async function startSystem(key: SystemKey, options: StartOptions): Promise<RunningSystem> {
  switch (key) {
    case "doozer-worker":
    case "doozer-leader":
      return startDoozer(key, options);
    case "single-do":
      return startSingleDo(options);
    case "etcd":
      return startEtcdSystem();
  }
}

function target(dev: WranglerDev, options: StartOptions): { url: string; via: string; proxyUrl?: string } {
  if (options.viaProxy || !dev.directUrl) {
    return {
      url: dev.url,
      via: options.viaProxy ? "wrangler dev's proxy" : "wrangler dev's proxy (runtime port not found)",
    };
  }
  return { url: dev.directUrl, via: "runtime workerd directly", proxyUrl: dev.url };
}

async function startDoozer(
  key: "doozer-worker" | "doozer-leader",
  options: StartOptions,
): Promise<RunningSystem> {
  const route = key === "doozer-worker" ? "worker" : "leader";
  const dev = await startWranglerDev({
    config: "wrangler.toml",
    // No log line per request: locally each one costs wrangler's Node process more CPU than the request.
    vars: { DOOZER_WRITE_ROUTE: route, DOOZER_REQUEST_LOG: "0" },
    healthPath: "/v1/rev",
    assets: options.withAssets ?? false,
  });
  const where = target(dev, options);
  if (!options.withAssets) where.via += ", without the viewer's asset router";
  const file = (path: string, query: string) => `/v1/files${path}${query}`;
  const stats = new Agent({ keepAlive: true, maxSockets: 1 });
  return {
    key,
    ...where,
    calls: {
      write: (c, n) => ({ method: "PUT", path: file(writeKey(c, n), "?rev=-1"), body: value }),
      read: (c) => ({ method: "GET", path: file(readKey(c), "") }),
      stale: (c) => ({ method: "GET", path: file(readKey(c), "?stale=1") }),
    },
    seedCalls: Array.from({ length: readKeys }, (_, i) => ({
      method: "PUT",
      path: file(readKey(i), "?rev=-1"),
      body: value,
    })),
    processes: dev.processes,
    async counters() {
      const body = await send(stats, new URL(where.url), { method: "GET", path: "/v1/stats" }, 10_000);
      return roundsOnPath(JSON.parse(body.toString()) as DoozerStats);
    },
    async stop() {
      stats.destroy();
      await dev.stop();
    },
  };
}

interface ProposerCounters {
  prepareRounds: number;
  acceptRounds: number;
  commitRounds: number;
  slotsChosen: number;
  commandsDecided: number;
}

interface DoozerStats {
  writeRoute: "worker" | "leader";
  proposer: ProposerCounters;
  leader: ProposerCounters | null;
  acceptors: { storageWrites: number | null }[];
}

/**
 * The acceptor rounds a write waits for. On the worker route the Worker's
 * proposer sends prepare (rarely), accept and commit, and the write's outcome
 * comes from a replica's answer to the commit: all three are on the path. On
 * the leader route the leader acceptor proposes; its commit goes to its own
 * replica (no network), so prepare and accept count.
 */
function roundsOnPath(stats: DoozerStats): Counters {
  const storageWrites = stats.acceptors.reduce((sum, a) => sum + (a.storageWrites ?? 0), 0);
  if (stats.writeRoute === "leader") {
    const p = stats.leader;
    if (!p) throw new Error("/v1/stats: the leader route reported no leader counters");
    return {
      rounds: p.prepareRounds + p.acceptRounds,
      commandsDecided: p.commandsDecided,
      slotsChosen: p.slotsChosen,
      storageWrites,
    };
  }
  const p = stats.proposer;
  return {
    rounds: p.prepareRounds + p.acceptRounds + p.commitRounds,
    commandsDecided: p.commandsDecided,
    slotsChosen: p.slotsChosen,
    storageWrites,
  };
}

async function startSingleDo(options: StartOptions): Promise<RunningSystem> {
  const dev = await startWranglerDev({ config: "bench/baseline-kv/wrangler.toml", healthPath: "/health" });
  const kv = (key: string) => `/kv${key}`;
  return {
    key: "single-do",
    ...target(dev, options),
    calls: {
      write: (c, n) => ({ method: "PUT", path: kv(writeKey(c, n)), body: value }),
      read: (c) => ({ method: "GET", path: kv(readKey(c)) }),
      // One copy: a stale read is the same read.
      stale: (c) => ({ method: "GET", path: kv(readKey(c)) }),
    },
    seedCalls: Array.from({ length: readKeys }, (_, i) => ({
      method: "PUT",
      path: kv(readKey(i)),
      body: value,
    })),
    processes: dev.processes,
    stop: dev.stop,
  };
}

async function startEtcdSystem(): Promise<RunningSystem> {
  const etcd = await startEtcd();
  const b64 = (text: string) => Buffer.from(text).toString("base64");
  const json = { "Content-Type": "application/json" };
  // Bodies are built once per key: the generator's CPU goes to sending, not to JSON.
  const memo = new Map<string, Buffer>();
  const body = (kind: string, key: string, make: () => object) => {
    const id = `${kind}:${key}`;
    const known = memo.get(id);
    if (known) return known;
    const made = Buffer.from(JSON.stringify(make()));
    memo.set(id, made);
    return made;
  };
  const put = (key: string): Call => ({
    method: "POST",
    path: "/v3/kv/put",
    headers: json,
    body: body("put", key, () => ({ key: b64(key), value: value.toString("base64") })),
  });
  return {
    key: "etcd",
    url: etcd.url,
    via: `JSON gateway of the leader (${etcd.leaderName})`,
    calls: {
      write: (c, n) => put(writeKey(c, n)),
      read: (c) => ({
        method: "POST",
        path: "/v3/kv/range",
        headers: json,
        body: body("range", readKey(c), () => ({ key: b64(readKey(c)) })),
      }),
      stale: (c) => ({
        method: "POST",
        path: "/v3/kv/range",
        headers: json,
        body: body("serializable", readKey(c), () => ({ key: b64(readKey(c)), serializable: true })),
      }),
    },
    seedCalls: Array.from({ length: readKeys }, (_, i) => put(readKey(i))),
    processes: etcd.processes,
    stop: etcd.stop,
  };
}
