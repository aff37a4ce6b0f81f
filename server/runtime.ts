// What a proposing host keeps between requests: its proposer (and with it the
// ballot it holds), its reader, and the verbs on top. The Worker keeps one per
// isolate (worker/isolate-runtime.ts); an acceptor Durable Object keeps one of
// its own for its sockets and, as the leader, for the Worker's writes.

import type { ClusterConfig } from "../core/cluster-config";
import { CodedError } from "../core/errors";
import type { Mutation, MutationOutcome } from "../core/mutation";
import type { Slot } from "../core/paxos/messages";
import { hintCentre } from "../core/regions";
import { AcceptorClient } from "./acceptor-client";
import type { ProposeReply } from "./acceptor-rpc";
import { KeeperRoute } from "./keeper-route";
import type { Lifetime } from "./lifetime";
import type { Peers } from "./peers";
import { ProposerDriver } from "./proposer-driver";
import { Reader, type SyncThrough } from "./reads";
import type { KeepaliveAnswer } from "./session-keeping";
import { Verbs } from "./verbs";

export interface Runtime {
  config: ClusterConfig;
  acceptors: AcceptorClient;
  proposer: ProposerDriver;
  reader: Reader;
  verbs: Verbs;
  /** Sends keepalives to the session keeper: one answer per session. */
  keepalive(sessions: string[]): Promise<KeepaliveAnswer[]>;
}

export interface RuntimeOptions {
  config: ClusterConfig;
  peers: Peers;
  /** The acceptor this runtime lives in, if any: the leader proposes its writes itself. */
  self?: string;
}

/**
 * A proposer and a reader of their own, with a fresh random proposer id: ballots
 * of different incarnations never collide.
 */
export function newRuntime({ config, peers, self }: RuntimeOptions): Runtime {
  const acceptors = new AcceptorClient(peers, config);
  const id = [...crypto.getRandomValues(new Uint8Array(8))]
    .map((b) => b.toString(16).padStart(2, "0"))
    .join("");
  const proposer = new ProposerDriver(acceptors, config, id);
  const byLeader = config.writeRoute === "leader" && self !== config.leader;
  const localSync: SyncThrough = (through, life) => proposer.sync(through, config.writeTimeoutMs, life);
  // An acceptor's reader starts from its own region: its own replica is a method call away.
  const home = hintCentre(config.acceptors.find((a) => a.name === self)?.location ?? "");
  const reader = new Reader(
    acceptors,
    byLeader ? syncViaLeader(acceptors, config, localSync) : localSync,
    home,
  );
  const local = (mutation: Mutation, life: Lifetime) => proposer.write(mutation, life);
  const propose = byLeader ? viaLeader(acceptors, config, local) : local;
  const keepalive = keeperOf(acceptors, config);
  return { config, acceptors, proposer, reader, verbs: new Verbs(reader, propose, keepalive), keepalive };
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
    throw new CodedError(code, message, details);
  };
}

/**
 * On the leader route, the leader acceptor's proposer holds the ballot every
 * write uses. A read barrier above a hole asks it to finish the log: this
 * proposer's phase 1 would take the ballot from it, and the next write would
 * pay a rejection and a phase 1 at the leader (a duel the leader route exists
 * to avoid). If the leader cannot be reached, this proposer does it.
 */
function syncViaLeader(acceptors: AcceptorClient, config: ClusterConfig, local: SyncThrough): SyncThrough {
  return async (through: Slot, life: Lifetime): Promise<boolean> => {
    try {
      const reply = await acceptors.call(
        config.leader,
        (s) => s.sync(through),
        config.writeTimeoutMs + config.rpcTimeoutMs,
      );
      return reply.synced;
    } catch {
      return local(through, life);
    }
  };
}

/** Keepalives go to the session keeper, wherever the role is now (server/keeper-route.ts). */
function keeperOf(acceptors: AcceptorClient, config: ClusterConfig) {
  const route = new KeeperRoute(acceptors.names, config.leader);
  return async (sessions: string[]): Promise<KeepaliveAnswer[]> => {
    const answers = await route.keepalive((name) =>
      acceptors.call(name, (s) => s.keepalive(sessions), config.writeTimeoutMs + config.rpcTimeoutMs),
    );
    if (answers !== undefined) return answers;
    throw new CodedError(
      "NO_QUORUM",
      "no acceptor could act as the session keeper; the keepalive may or may not have reached one",
    );
  };
}
