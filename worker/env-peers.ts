// The Worker's acceptors: Durable Object stubs from the ACCEPTOR binding.

import { acceptorStub } from "../acceptors/acceptor-peers";
import type { ClusterConfig } from "../core/cluster-config";
import type { AcceptorRpc } from "../server/acceptor-rpc";
import type { Peers } from "../server/peers";
import { withTimeout } from "../server/timing";
import type { Env } from "./env";

export class EnvPeers implements Peers {
  constructor(
    private readonly env: Env,
    private readonly config: ClusterConfig,
  ) {}

  peer(name: string): AcceptorRpc {
    // The stub's generated RPC types turn union results into unions of promises; AcceptorObject
    // implements AcceptorRpc, so this view of it is exact.
    return acceptorStub(this.env.ACCEPTOR, this.config, name) as unknown as AcceptorRpc;
  }

  /** Hands a request (a WebSocket upgrade) to an acceptor's fetch handler. */
  forward(name: string, request: Request, timeoutMs: number): Promise<Response> {
    return withTimeout(acceptorStub(this.env.ACCEPTOR, this.config, name).fetch(request), timeoutMs);
  }
}
