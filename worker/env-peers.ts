// The Worker's acceptors: Durable Object stubs from the ACCEPTOR binding. Every
// Paxos message carries the fingerprint of the membership this Worker counts
// (core/membership.ts), and an acceptor that does not answer is logged.
//
// "Does not answer" is the caller's deadline (server/acceptor-client.ts), which
// is longer than the RPC timeout for a read or a WAIT that may block: the
// caller's one timer says when, through `unanswered`, so that a call costs one
// timer, not two.

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
    return observed(stampMembership(stub, this.fingerprint), name);
  }

  unanswered(handle: AcceptorRpc, ms: number): void {
    const seen = calls.get(handle);
    if (seen) report(seen.acceptor, seen.call ?? "?", `no answer in ${ms} ms`);
  }

  /** Hands a request (a WebSocket upgrade) to an acceptor's fetch handler. */
  forward(name: string, request: Request, timeoutMs: number): Promise<Response> {
    return withTimeout(acceptorStub(this.env.ACCEPTOR, this.config, name).fetch(request), timeoutMs);
  }
}

/** Each observed handle's acceptor, and the call last made through it. */
const calls = new WeakMap<AcceptorRpc, { acceptor: string; call?: string }>();

function report(acceptor: string, call: string, reason: string): void {
  logThrottled(`unreachable:${acceptor}`, unreachableLogEveryMs, "warn", "acceptor-unreachable", {
    acceptor,
    call,
    reason,
  });
}

/**
 * A view of an acceptor handle that logs, as `acceptor-unreachable`, a call
 * that failed and one answered `unavailable` (the fault switch, or a
 * membership refusal); EnvPeers.unanswered logs one not answered in time. The
 * answer itself is passed on unchanged.
 */
function observed(target: AcceptorRpc, acceptor: string): AcceptorRpc {
  const seen: { acceptor: string; call?: string } = { acceptor };
  const handle = new Proxy(target, {
    get(object, property) {
      // A member call on the target itself: an RPC stub's methods are remote calls, even `.apply`.
      const methods = object as unknown as Record<string | symbol, unknown>;
      if (typeof property !== "string" || property === "then") return methods[property];
      return (...args: unknown[]) => {
        seen.call = property;
        const result = (methods as Record<string, (...a: unknown[]) => unknown>)[property]?.(...args);
        if (typeof (result as { then?: unknown } | null)?.then !== "function") return result;
        return Promise.resolve(result).then(
          (answer: unknown) => {
            if (typeof answer === "object" && answer !== null && "unavailable" in answer)
              report(acceptor, property, String((answer as { unavailable: unknown }).unavailable));
            return answer;
          },
          (error: unknown) => {
            report(acceptor, property, error instanceof Error ? error.message : String(error));
            throw error;
          },
        );
      };
    },
  });
  calls.set(handle, seen);
  return handle;
}
