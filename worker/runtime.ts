// What one Worker isolate keeps between requests: its proposer (and with it the
// ballot it holds) and its view of the acceptors. No I/O object is kept: stubs
// are made per call, as a stub belongs to the request that made it.

import { type ClusterConfig, parseClusterConfig } from "../core/cluster-config";
import { AcceptorClient } from "./acceptor-client";
import type { Env } from "./env";
import { ProposerDriver } from "./proposer-driver";
import { Reader } from "./reads";

export interface Runtime {
  config: ClusterConfig;
  acceptors: AcceptorClient;
  proposer: ProposerDriver;
  reader: Reader;
}

/** Keyed by env: the platform hands an isolate the same env on every request. */
const runtimes = new WeakMap<Env, Runtime>();

export function runtimeFor(env: Env): Runtime {
  const existing = runtimes.get(env);
  if (existing) return existing;
  const config = parseClusterConfig(env);
  const acceptors = new AcceptorClient(env, config);
  // A fresh random id per isolate: ballots of different incarnations never collide.
  const id = [...crypto.getRandomValues(new Uint8Array(8))]
    .map((b) => b.toString(16).padStart(2, "0"))
    .join("");
  const proposer = new ProposerDriver(acceptors, config, id);
  const runtime = { config, acceptors, proposer, reader: new Reader(acceptors, () => proposer) };
  runtimes.set(env, runtime);
  if (!env.DOOZER_RWSECRET) {
    console.warn(
      "doozer-edge: DOOZER_RWSECRET is unset, so the store is open to anyone (local development only)",
    );
  }
  return runtime;
}
