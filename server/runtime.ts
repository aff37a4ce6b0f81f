// What a proposing host keeps between requests: its proposer (and with it the
// ballot it holds), its reader, and the verbs on top. The Worker keeps one per
// isolate (worker/isolate-runtime.ts); an acceptor Durable Object keeps one of
// its own for its sockets and, as the leader, for the Worker's writes.

import type { ClusterConfig } from "../core/cluster-config";
import { CodedError } from "../core/errors";
import { LeaderView } from "../core/leader-term";
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
import { type Propose, Verbs } from "./verbs";

export interface Runtime {
  config: ClusterConfig;
  acceptors: AcceptorClient;
  proposer: ProposerDriver;
  reader: Reader;
  verbs: Verbs;
  /** The leader of the highest term this runtime has heard of (redirects, or its own replica's store). */
  leader(): { leader: string; term: number };
  /** Sends keepalives to the session keeper: one answer per session. */
  keepalive(sessions: string[]): Promise<KeepaliveAnswer[]>;
}

export interface RuntimeOptions {
  config: ClusterConfig;
  peers: Peers;
  /** The acceptor this runtime lives in, if any. */
  self?: string;
}

/** A write follows at most this many redirects to the leader before its own proposer decides it. */
export const leaderHopsMax = 3;

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
  const byLeader = config.writeRoute === "leader";
  const names = acceptors.names;
  const view = new LeaderView(names.indexOf(config.leader));
  const leader = () => ({ leader: names[view.current.leader] ?? config.leader, term: view.current.term });
  const localSync: SyncThrough = (through, life) => proposer.sync(through, config.writeTimeoutMs, life);
  // An acceptor's reader starts from its own region: its own replica is a method call away.
  const home = hintCentre(config.acceptors.find((a) => a.name === self)?.location ?? "");
  const reader = new Reader(
    acceptors,
    byLeader ? syncViaLeader(acceptors, config, leader, localSync) : localSync,
    home,
  );
  const local = (mutation: Mutation, life: Lifetime) => proposer.write(mutation, life);
  const propose: Propose = byLeader ? viaLeader(acceptors, config, view, local) : local;
  const keepalive = keeperOf(acceptors, config);
  return {
    config,
    acceptors,
    proposer,
    reader,
    verbs: new Verbs(reader, propose, keepalive),
    leader,
    keepalive,
  };
}

/**
 * The "leader" write route: the leader acceptor proposes, with its own vote at
 * hand and the outcome applied in place, so a write costs one quorum round
 * trip from there. The leader moves (server/leader-role.ts): an acceptor that
 * does not lead names the one that does, at its term, and the write follows
 * (at most `leaderHopsMax` times); the view keeps the highest term heard, so
 * a replica behind the log never sends later writes back. If the leader cannot
 * be reached, or the redirects lead nowhere, this proposer decides the write.
 */
function viaLeader(
  acceptors: AcceptorClient,
  config: ClusterConfig,
  view: LeaderView,
  local: (mutation: Mutation, life: Lifetime) => Promise<MutationOutcome>,
): Propose {
  return async (mutation: Mutation, life: Lifetime, region?: string): Promise<MutationOutcome> => {
    for (let hop = 0; hop <= leaderHopsMax; hop++) {
      const target = acceptors.names[view.current.leader] ?? config.leader;
      let reply: ProposeReply;
      try {
        reply = await acceptors.call(
          target,
          (s) => s.propose(mutation, region),
          config.writeTimeoutMs + config.rpcTimeoutMs,
        );
      } catch {
        // Unreachable or down: same mutation id, so if the leader decided it after all, it applies once.
        return local(mutation, life);
      }
      if ("outcome" in reply) return reply.outcome;
      if ("notLeader" in reply) {
        const index = acceptors.names.indexOf(reply.leader);
        // A redirect to no higher term comes from a replica behind this view: asking again goes nowhere.
        if (index < 0 || !view.learn({ term: reply.term, leader: index })) break;
        continue;
      }
      const { code, message, ...details } = reply.error;
      throw new CodedError(code, message, details);
    }
    return local(mutation, life);
  };
}

/**
 * On the leader route, the leader acceptor's proposer holds the ballot every
 * write uses. A read barrier above a hole asks it to finish the log: this
 * proposer's phase 1 would take the ballot from it, and the next write would
 * pay a rejection and a phase 1 at the leader (a duel the leader route exists
 * to avoid). If the leader cannot be reached, this proposer does it.
 */
function syncViaLeader(
  acceptors: AcceptorClient,
  config: ClusterConfig,
  leader: () => { leader: string },
  local: SyncThrough,
): SyncThrough {
  return async (through: Slot, life: Lifetime): Promise<boolean> => {
    try {
      const reply = await acceptors.call(
        leader().leader,
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
