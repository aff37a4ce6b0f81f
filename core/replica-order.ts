// Which replica a read asks first, and which next when one does not answer:
// the stale reads, the optimistic replica of a linearizable read, the acceptor
// a socket lands on. Nearest first, by the best knowledge at hand: round trips
// measured from this host once every acceptor has one (they are what a read
// will actually pay); before that, the distance from where the caller is (the
// platform's coordinates of the request, or the region of the acceptor that
// hosts the reader), so that the first reads of a fresh Worker isolate do not
// all cross an ocean to acceptor-0; with neither, the measured ones first, the
// rest in their configured order.

import { type Coordinates, nearestByLocation } from "./regions";

export function replicaOrder(
  acceptors: readonly { name: string; location: string }[],
  rttMs: ReadonlyMap<string, number>,
  origin: Coordinates | undefined,
): string[] {
  const names = acceptors.map((a) => a.name);
  const measured = names.filter((n) => rttMs.has(n));
  const byRtt = (a: string, b: string) => (rttMs.get(a) ?? 0) - (rttMs.get(b) ?? 0);
  if (measured.length === names.length) return measured.sort(byRtt);
  if (origin !== undefined) return nearestByLocation(acceptors, origin.latitude, origin.longitude);
  return [...measured.sort(byRtt), ...names.filter((n) => !rttMs.has(n))];
}
