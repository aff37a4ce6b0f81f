// The server's view of the acceptors: each call bounded by the RPC timeout, so
// that an unreachable region costs a known wait and no more.

import type { ClusterConfig } from "../core/cluster-config";
import type { MutationOutcome } from "../core/mutation";
import type { AcceptorReply, ProposerMessage } from "../core/paxos/messages";
import { quorumOf } from "../core/quorum";
import type { AcceptorRpc, Unavailable } from "./acceptor-rpc";
import type { Peers } from "./peers";
import { withSharedTimeout } from "./timing";

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
  call<T>(
    name: string,
    rpc: (stub: AcceptorRpc) => Promise<T | Unavailable>,
    timeoutMs = this.config.rpcTimeoutMs,
  ): Promise<T> {
    return this.callEach([{ name, rpc }], timeoutMs)[0] as Promise<T>;
  }

  /** A round of RPCs, each as `call` makes it, on one timer: they share their deadline. */
  callEach<T>(calls: readonly AcceptorCall<T>[], timeoutMs = this.config.rpcTimeoutMs): Promise<T>[] {
    const handles: (AcceptorRpc | undefined)[] = [];
    // Whatever throws (making the handle, or the call) fails that call's promise, never the caller.
    const replies = calls.map(({ name, rpc }, i) => {
      try {
        const handle = this.peers.peer(name);
        handles[i] = handle;
        return rpc(handle);
      } catch (error) {
        return Promise.reject(error);
      }
    });
    return withSharedTimeout(replies, timeoutMs, (i) => {
      const handle = handles[i];
      if (handle) this.peers.unanswered?.(handle, timeoutMs);
    }).map((reply) => reply.then(availableOrThrow));
  }

  /** Sends each Paxos message to its acceptor, on one timer, and returns their answers in order. */
  sendEach(
    messages: readonly { to: string; message: ProposerMessage }[],
  ): Promise<AcceptorReply<MutationOutcome>>[] {
    return this.callEach(messages.map(({ to, message }) => ({ name: to, rpc: paxosCall(message) })));
  }
}

/** One call of a round: an acceptor and what to ask it. */
export interface AcceptorCall<T> {
  name: string;
  rpc: (stub: AcceptorRpc) => Promise<T | Unavailable>;
}

function paxosCall(
  message: ProposerMessage,
): (stub: AcceptorRpc) => Promise<AcceptorReply<MutationOutcome> | Unavailable> {
  switch (message.type) {
    case "prepare":
      return (s) => s.prepare(message);
    case "accept":
      return (s) => s.accept(message);
    case "commit":
      return (s) => s.commit(message);
  }
}

function availableOrThrow<T>(reply: T | Unavailable): T {
  if (isUnavailable(reply)) throw new Error(reply.unavailable);
  return reply;
}

export function isUnavailable(reply: unknown): reply is Unavailable {
  return typeof reply === "object" && reply !== null && "unavailable" in reply;
}
