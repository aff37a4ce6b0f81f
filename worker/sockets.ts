// GET /v1/ws: the Worker keeps no sockets. It hands the upgrade to an acceptor
// Durable Object, which holds the socket with the Hibernation API, serves its
// requests and pushes its watches' events (acceptors/client-sockets.ts).

import { CodedError } from "../core/errors";
import type { Access } from "../server/auth";
import type { IsolateRuntime } from "./isolate-runtime";
import { originOf } from "./origin";

export async function connectSocket(
  request: Request,
  runtime: IsolateRuntime,
  access: Access | "none",
): Promise<Response> {
  if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
    throw new CodedError("BAD_REQUEST", "/v1/ws speaks WebSocket: send Upgrade: websocket");
  }
  const { config } = runtime.acceptors;
  for (const name of socketOrder(request, runtime)) {
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
  throw new CodedError("NO_QUORUM", "no acceptor could take the socket");
}

/**
 * The acceptors to offer the socket to, nearest first (core/replica-order.ts):
 * by measured round trip from this isolate once every acceptor has been
 * measured, else by the distance from where the platform says the request
 * came from, else in a random rotation (locally, where no request carries a
 * location), which spreads the sockets. One that is down is skipped by the caller.
 */
function socketOrder(request: Request, runtime: IsolateRuntime): string[] {
  const { names } = runtime.acceptors;
  const origin = originOf(request);
  if (runtime.reader.measuredAll || origin) return runtime.reader.nearestFirst(origin);
  const start = Math.floor(Math.random() * names.length);
  return names.map((_, i) => names[(start + i) % names.length] as string);
}
