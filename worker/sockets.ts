// GET /v1/ws: the Worker keeps no sockets. It hands the upgrade to an acceptor
// Durable Object, which holds the socket with the Hibernation API, serves its
// requests and pushes its watches' events (acceptors/client-sockets.ts).

import { DoozerError } from "../core/errors";
import type { Access } from "../server/auth";
import type { IsolateRuntime } from "./isolate-runtime";

export async function connectSocket(
  request: Request,
  runtime: IsolateRuntime,
  access: Access | "none",
): Promise<Response> {
  if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
    throw new DoozerError("BAD_REQUEST", "/v1/ws speaks WebSocket: send Upgrade: websocket");
  }
  const { names, config } = runtime.acceptors;
  // Sockets spread over the acceptors; one that is down is skipped.
  const start = Math.floor(Math.random() * names.length);
  for (let i = 0; i < names.length; i++) {
    const name = names[(start + i) % names.length] as string;
    const headers = new Headers(request.headers);
    headers.set("Doozer-Access", access);
    try {
      const response = await runtime.peers.forward(
        name,
        new Request(request, { headers }),
        config.rpcTimeoutMs,
      );
      if (response.status === 101) return response;
    } catch {
      // Unreachable: try the next acceptor.
    }
  }
  throw new DoozerError("NO_QUORUM", "no acceptor could take the socket");
}
