// Where a request came from, as the platform says (request.cf's coordinates of
// the client, deployed Workers only): reads and sockets start at the acceptor
// nearest to it (core/replica-order.ts). Locally there is none.

import { isRttHint, rttHints } from "../core/region-rtt";
import { type Coordinates, coordinatesOf, nearestHint } from "../core/regions";

export function originOf(request: Request): Coordinates | undefined {
  const cf = (request as { cf?: { latitude?: unknown; longitude?: unknown } }).cf;
  return coordinatesOf(cf?.latitude, cf?.longitude);
}

/**
 * The region a write came from, as a location hint of the RTT table
 * (core/region-rtt.ts), for the leader to weigh: the one nearest to the
 * client's coordinates. With the fault switch on (local and test clusters
 * only), a `Doozer-Test-Origin` header naming a hint stands in for them,
 * so tests can write "from" another region.
 */
export function originRegionOf(request: Request, faultsEnabled: boolean): string | undefined {
  const named = faultsEnabled ? request.headers.get("Doozer-Test-Origin") : null;
  if (named !== null && isRttHint(named)) return named;
  const origin = originOf(request);
  return origin && nearestHint(origin, rttHints);
}
