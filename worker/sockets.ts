// GET /v1/ws: the Worker keeps no sockets. It hands the upgrade to an acceptor
// Durable Object, which holds the socket with the Hibernation API, serves its
// requests and pushes its watches' events (acceptors/client-sockets.ts).

import { CodedError } from "../core/errors";
import { nearestByLocation } from "../core/regions";
import type { Access } from "../server/auth";
import type { IsolateRuntime } from "./isolate-runtime";

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
 * The acceptors to offer the socket to, nearest first: by measured round trip
 * from this isolate once every acceptor has been measured, else by the
 * distance from where the platform says the request came from, else in a
 * random rotation (locally, where no request carries a location). One that is
 * down is skipped by the caller.
 */
function socketOrder(request: Request, runtime: IsolateRuntime): string[] {
  const { names, config } = runtime.acceptors;
  if (runtime.reader.measuredAll) return runtime.reader.nearestFirst(names);
  const cf = (request as { cf?: { latitude?: unknown; longitude?: unknown } }).cf;
  const latitude = Number(cf?.latitude);
  const longitude = Number(cf?.longitude);
  if (cf?.latitude !== undefined && Number.isFinite(latitude) && Number.isFinite(longitude)) {
    return nearestByLocation(config.acceptors, latitude, longitude);
  }
  const start = Math.floor(Math.random() * names.length);
  return names.map((_, i) => names[(start + i) % names.length] as string);
}
