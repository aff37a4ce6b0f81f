// What one Worker isolate keeps between requests: its proposer (and with it the
// ballot it holds) and its view of the acceptors. No I/O object is kept: stubs
// are made per call, as a stub belongs to the request that made it.

import { type ClusterConfig, parseClusterConfig } from "../core/cluster-config";
import { AcceptorClient } from "./acceptor-client";
import type { Env } from "./env";
import { Operations } from "./operations";
import { ProposerDriver } from "./proposer-driver";
import { Reader } from "./reads";

export interface Runtime {
  config: ClusterConfig;
  acceptors: AcceptorClient;
  proposer: ProposerDriver;
  reader: Reader;
  operations: Operations;
}

/** Keyed by env: the platform hands an isolate the same env on every request. */
const runtimes = new WeakMap<Env, Runtime>();

export function runtimeFor(env: Env): Runtime {
  const existing = runtimes.get(env);
  if (existing) return existing;
  const runtime = newRuntime(env);
  runtimes.set(env, runtime);
  if (!env.DOOZER_RWSECRET) {
    console.warn(
      "doozer-edge: DOOZER_RWSECRET is unset, so the store is open to anyone (local development only)",
    );
  }
  return runtime;
}

/**
 * A proposer and a reader of their own, with a fresh random proposer id: ballots
 * of different incarnations never collide. Each acceptor Durable Object that
 * serves WebSocket clients makes one too.
 */
export function newRuntime(env: Env): Runtime {
  const config = parseClusterConfig(env);
  const acceptors = new AcceptorClient(env, config);
  const id = [...crypto.getRandomValues(new Uint8Array(8))]
    .map((b) => b.toString(16).padStart(2, "0"))
    .join("");
  const proposer = new ProposerDriver(acceptors, config, id);
  const reader = new Reader(acceptors, () => proposer);
  return { config, acceptors, proposer, reader, operations: new Operations(reader, proposer) };
}
