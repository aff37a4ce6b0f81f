// The Worker's acceptors: Durable Object stubs from the ACCEPTOR binding. Every
// Paxos message carries the fingerprint of the membership this Worker counts
// (core/membership.ts), and an acceptor that does not answer is logged.

import { acceptorStub } from "../acceptors/acceptor-peers";
import type { ClusterConfig } from "../core/cluster-config";
import { membershipOf, stampMembership } from "../core/membership";
import type { AcceptorRpc } from "../server/acceptor-rpc";
import { logThrottled } from "../server/log";
import type { Peers } from "../server/peers";
import { withTimeout } from "../server/timing";
import type { Env } from "./env";

/** At most one "acceptor-unreachable" line per acceptor in this long, per isolate. */
const unreachableLogEveryMs = 10_000;

export class EnvPeers implements Peers {
  readonly fingerprint: string;

  constructor(
    private readonly env: Env,
    private readonly config: ClusterConfig,
  ) {
    this.fingerprint = membershipOf(config).fingerprint;
  }

  peer(name: string): AcceptorRpc {
    // The stub's generated RPC types turn union results into unions of promises; AcceptorObject
    // implements AcceptorRpc, so this view of it is exact.
    const stub = acceptorStub(this.env.ACCEPTOR, this.config, name) as unknown as AcceptorRpc;
    return observed(stampMembership(stub, this.fingerprint), name, this.config.rpcTimeoutMs);
  }

  /** Hands a request (a WebSocket upgrade) to an acceptor's fetch handler. */
  forward(name: string, request: Request, timeoutMs: number): Promise<Response> {
    return withTimeout(acceptorStub(this.env.ACCEPTOR, this.config, name).fetch(request), timeoutMs);
  }
}

/**
 * A view of an acceptor handle that logs, as `acceptor-unreachable`, a call
 * not answered within the RPC timeout, one that failed, and one answered
 * `unavailable` (the fault switch, or a membership refusal). The answer itself
 * is passed on unchanged.
 */
function observed(target: AcceptorRpc, acceptor: string, timeoutMs: number): AcceptorRpc {
  const report = (call: string, reason: string) =>
    logThrottled(`unreachable:${acceptor}`, unreachableLogEveryMs, "warn", "acceptor-unreachable", {
      acceptor,
      call,
      reason,
    });
  return new Proxy(target, {
    get(object, property) {
      // A member call on the target itself: an RPC stub's methods are remote calls, even `.apply`.
      const methods = object as unknown as Record<string | symbol, unknown>;
      if (typeof property !== "string" || property === "then") return methods[property];
      return (...args: unknown[]) => {
        const result = (methods as Record<string, (...a: unknown[]) => unknown>)[property]?.(...args);
        if (typeof (result as { then?: unknown } | null)?.then !== "function") return result;
        const timer = setTimeout(() => report(property, `no answer in ${timeoutMs} ms`), timeoutMs);
        return Promise.resolve(result).then(
          (answer: unknown) => {
            clearTimeout(timer);
            if (typeof answer === "object" && answer !== null && "unavailable" in answer)
              report(property, String((answer as { unavailable: unknown }).unavailable));
            return answer;
          },
          (error: unknown) => {
            clearTimeout(timer);
            report(property, error instanceof Error ? error.message : String(error));
            throw error;
          },
        );
      };
    },
  });
}
