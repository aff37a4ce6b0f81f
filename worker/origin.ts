// Where a request came from, as the platform says (request.cf's coordinates of
// the client, deployed Workers only): reads and sockets start at the acceptor
// nearest to it (core/replica-order.ts). Locally there is none.

import { type Coordinates, coordinatesOf } from "../core/regions";

export function originOf(request: Request): Coordinates | undefined {
  const cf = (request as { cf?: { latitude?: unknown; longitude?: unknown } }).cf;
  return coordinatesOf(cf?.latitude, cf?.longitude);
}
