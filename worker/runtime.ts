// What one Worker isolate keeps between requests: its proposer (and with it the
// ballot it holds) and its view of the acceptors. No I/O object is kept: stubs
// are made per call, as a stub belongs to the request that made it.

import type { ProposeReply } from "../acceptors/acceptor-rpc";
import { type ClusterConfig, parseClusterConfig } from "../core/cluster-config";
import { DoozerError } from "../core/errors";
import type { Mutation, MutationOutcome } from "../core/mutation";
import { AcceptorClient } from "./acceptor-client";
import type { Env } from "./env";
import { type Lifetime, Operations } from "./operations";
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
 * serves WebSocket clients (or leads, on the "leader" write route) makes one
 * too, and says which acceptor it is.
 */
export function newRuntime(env: Env, self?: string): Runtime {
  const config = parseClusterConfig(env);
  const acceptors = new AcceptorClient(env, config);
  const id = [...crypto.getRandomValues(new Uint8Array(8))]
    .map((b) => b.toString(16).padStart(2, "0"))
    .join("");
  const proposer = new ProposerDriver(acceptors, config, id);
  const reader = new Reader(acceptors, () => proposer);
  const local = (mutation: Mutation, life: Lifetime) => proposer.write(mutation, life);
  const propose =
    config.writeRoute === "leader" && self !== config.leader ? viaLeader(acceptors, config, local) : local;
  return { config, acceptors, proposer, reader, operations: new Operations(reader, propose) };
}

/**
 * The "leader" write route: the leader acceptor proposes, with its own vote at
 * hand and the outcome applied in place, so a write costs one quorum round
 * trip from there. If the leader cannot be reached, this proposer does it.
 */
function viaLeader(
  acceptors: AcceptorClient,
  config: ClusterConfig,
  local: (mutation: Mutation, life: Lifetime) => Promise<MutationOutcome>,
) {
  return async (mutation: Mutation, life: Lifetime): Promise<MutationOutcome> => {
    let reply: ProposeReply;
    try {
      reply = await acceptors.call(
        config.leader,
        (s) => s.propose(mutation),
        config.writeTimeoutMs + config.rpcTimeoutMs,
      );
    } catch {
      // Unreachable or down: same mutation id, so if the leader decided it after all, it applies once.
      return local(mutation, life);
    }
    if ("outcome" in reply) return reply.outcome;
    const { code, message, ...details } = reply.error;
    throw new DoozerError(code, message, details);
  };
}
