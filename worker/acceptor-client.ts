// The Worker's view of the acceptors: typed RPC stubs, each call bounded by the
// RPC timeout, so that an unreachable region costs a known wait and no more.

import type { AcceptorRpc, Unavailable } from "../acceptors/acceptor-rpc";
import type { ClusterConfig } from "../core/cluster-config";
import type { MutationOutcome } from "../core/mutation";
import type { AcceptorReply, ProposerMessage } from "../core/paxos/messages";
import type { Env } from "./env";
import { withTimeout } from "./timing";

export class AcceptorClient {
  readonly names: string[];
  private readonly locations = new Map<string, string>();

  constructor(
    private readonly env: Env,
    readonly config: ClusterConfig,
  ) {
    this.names = config.acceptors.map((a) => a.name);
    for (const a of config.acceptors) this.locations.set(a.name, a.location);
  }

  get quorum(): number {
    return Math.floor(this.names.length / 2) + 1;
  }

  location(name: string): string {
    return this.locations.get(name) ?? "";
  }

  /** A fresh stub per call: a stub belongs to the request that made it. */
  stub(name: string): AcceptorRpc {
    const locationHint = this.locations.get(name) as DurableObjectLocationHint | undefined;
    // The stub's generated RPC types turn union results into unions of promises; AcceptorObject
    // implements AcceptorRpc, so this view of it is exact.
    return this.env.ACCEPTOR.getByName(name, locationHint ? { locationHint } : {}) as unknown as AcceptorRpc;
  }

  /** One RPC; rejects when the acceptor does not answer in time or is unavailable (fault switch). */
  async call<T>(
    name: string,
    rpc: (stub: AcceptorRpc) => Promise<T | Unavailable>,
    timeoutMs = this.config.rpcTimeoutMs,
  ): Promise<T> {
    const reply = await withTimeout(rpc(this.stub(name)), timeoutMs);
    if (isUnavailable(reply)) throw new Error(reply.unavailable);
    return reply;
  }

  /** Hands a request (a WebSocket upgrade) to an acceptor's fetch handler. */
  forward(name: string, request: Request, timeoutMs: number): Promise<Response> {
    const locationHint = this.locations.get(name) as DurableObjectLocationHint | undefined;
    const stub = this.env.ACCEPTOR.getByName(name, locationHint ? { locationHint } : {});
    return withTimeout(stub.fetch(request), timeoutMs);
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

function isUnavailable(reply: unknown): reply is Unavailable {
  return typeof reply === "object" && reply !== null && "unavailable" in reply;
}
