// The server's view of the acceptors: each call bounded by the RPC timeout, so
// that an unreachable region costs a known wait and no more.

import type { ClusterConfig } from "../core/cluster-config";
import type { MutationOutcome } from "../core/mutation";
import type { AcceptorReply, ProposerMessage } from "../core/paxos/messages";
import { quorumOf } from "../core/quorum";
import type { AcceptorRpc, Unavailable } from "./acceptor-rpc";
import type { Peers } from "./peers";
import { withTimeout } from "./timing";

export class AcceptorClient {
  readonly names: string[];
  private readonly locations = new Map<string, string>();

  constructor(
    private readonly peers: Peers,
    readonly config: ClusterConfig,
  ) {
    this.names = config.acceptors.map((a) => a.name);
    for (const a of config.acceptors) this.locations.set(a.name, a.location);
  }

  /** How many acceptors make a majority. */
  get quorum(): number {
    return quorumOf(this.names.length);
  }

  location(name: string): string {
    return this.locations.get(name) ?? "";
  }

  /** One RPC; rejects when the acceptor does not answer in time or is unavailable (fault switch). */
  async call<T>(
    name: string,
    rpc: (stub: AcceptorRpc) => Promise<T | Unavailable>,
    timeoutMs = this.config.rpcTimeoutMs,
  ): Promise<T> {
    const handle = this.peers.peer(name);
    const reply = await withTimeout(rpc(handle), timeoutMs, () => this.peers.unanswered?.(handle, timeoutMs));
    if (isUnavailable(reply)) throw new Error(reply.unavailable);
    return reply;
  }

  /** Sends one Paxos message and returns the acceptor's answer. */
  send(name: string, message: ProposerMessage): Promise<AcceptorReply<MutationOutcome>> {
    switch (message.type) {
      case "prepare":
        return this.call(name, (s) => s.prepare(message));
      case "accept":
        return this.call(name, (s) => s.accept(message));
      case "commit":
        return this.call(name, (s) => s.commit(message));
    }
  }
}

export function isUnavailable(reply: unknown): reply is Unavailable {
  return typeof reply === "object" && reply !== null && "unavailable" in reply;
}
