// What one Worker isolate keeps between requests: a runtime (its proposer, with
// the ballot it holds, and its reader) over the ACCEPTOR binding. No I/O object
// is kept: stubs are made per call, as a stub belongs to the request that made it.

import { parseClusterConfig } from "../core/cluster-config";
import { newRuntime, type Runtime } from "../server/runtime";
import type { Env } from "./env";
import { EnvPeers } from "./env-peers";

export interface IsolateRuntime extends Runtime {
  peers: EnvPeers;
}

/** Keyed by env: the platform hands an isolate the same env on every request. */
const runtimes = new WeakMap<Env, IsolateRuntime>();

export function runtimeFor(env: Env): IsolateRuntime {
  const existing = runtimes.get(env);
  if (existing) return existing;
  const config = parseClusterConfig(env);
  const peers = new EnvPeers(env, config);
  const runtime = { ...newRuntime({ config, peers }), peers };
  runtimes.set(env, runtime);
  if (!env.DOOZER_RWSECRET) {
    console.warn(
      "doozer-edge: DOOZER_RWSECRET is unset, so the store is open to anyone (local development only)",
    );
  }
  return runtime;
}
