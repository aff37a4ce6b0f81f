// Where the leader should be: the acceptor that serves the recent writers
// best. A write on the leader route costs the hop from the client's edge to
// the leader and back, plus the leader's quorum round trip (its own vote is
// free, so the (majority − 1) nearest peers answer it). Weighed over the
// origins of the last writes, the acceptor with the lowest expected cost is
// the best placement; the leader moves there only when that beats where it is
// by a clear margin and only after it has led for a while, so that a workload
// near the break-even point, or a burst from one region, does not make the
// role flap (every move costs a phase 1 at the new leader and a round of
// redirects at the Workers).
//
// Pure: the window is handed in, and so is the time the current term has lasted.

import { assert } from "./assert";
import { quorumOf } from "./quorum";
import { acceptorPlace, edgePlace, isRttHint, placeRttMs, type RttHint } from "./region-rtt";

export interface PlacementSettings {
  /** The writes weighed: the last this many, by origin. A move waits until that many were seen. */
  windowWrites: number;
  /** A leader keeps the role at least this long after its term began. */
  tenureMs: number;
  /** The best must beat the current leader's expected write by this fraction of it… */
  marginRatio: number;
  /** …and by at least this many ms. */
  marginMs: number;
}

export const placementDefaults: PlacementSettings = {
  windowWrites: 50,
  tenureMs: 10_000,
  marginRatio: 0.1,
  marginMs: 10,
};

/**
 * The leader's quorum round trip: its own vote at 0 ms, then the nearest
 * peers until a majority. Undefined when the leader's hint has no row in the
 * table; a peer without one counts as never answering (the estimate errs high).
 */
export function quorumRttMs(hints: readonly string[], leader: number): number | undefined {
  const at = hints[leader];
  if (at === undefined || !isRttHint(at)) return undefined;
  const here = acceptorPlace(at);
  const rtts = hints
    .map((hint, i) =>
      i === leader ? 0 : isRttHint(hint) ? placeRttMs(here, acceptorPlace(hint)) : Number.POSITIVE_INFINITY,
    )
    .sort((a, b) => a - b);
  const ms = rtts[quorumOf(hints.length) - 1];
  return ms === undefined || !Number.isFinite(ms) ? undefined : ms;
}

/** One write from `origin` with the leader at `leader`: edge → leader → edge, plus the quorum round trip. */
export function writeCostMs(hints: readonly string[], leader: number, origin: RttHint): number | undefined {
  const at = hints[leader];
  const quorum = quorumRttMs(hints, leader);
  if (at === undefined || !isRttHint(at) || quorum === undefined) return undefined;
  return placeRttMs(edgePlace(origin), acceptorPlace(at)) + quorum;
}

/** The mean cost of the writes in `origins` with the leader at `leader`; undefined if it cannot be weighed. */
export function expectedWriteMs(
  hints: readonly string[],
  leader: number,
  origins: readonly RttHint[],
): number | undefined {
  if (origins.length === 0) return undefined;
  const at = hints[leader];
  const quorum = quorumRttMs(hints, leader);
  if (at === undefined || !isRttHint(at) || quorum === undefined) return undefined;
  const here = acceptorPlace(at);
  // Weighed per region, not per write: the leader decides after every write, over the whole window.
  const counts = new Map<RttHint, number>();
  for (const origin of origins) counts.set(origin, (counts.get(origin) ?? 0) + 1);
  let sum = 0;
  for (const [origin, n] of counts) sum += n * placeRttMs(edgePlace(origin), here);
  return quorum + sum / origins.length;
}

/** The origins of the last `size` writes, oldest first out. */
export class WriteWindow {
  private readonly ring: RttHint[] = [];
  private next = 0;

  constructor(readonly size: number) {
    assert(
      Number.isSafeInteger(size) && size > 0,
      () => `write window: size ${size} is not a positive integer`,
    );
  }

  record(origin: RttHint): void {
    if (this.ring.length < this.size) this.ring.push(origin);
    else this.ring[this.next] = origin;
    this.next = (this.next + 1) % this.size;
  }

  get full(): boolean {
    return this.ring.length === this.size;
  }

  get origins(): readonly RttHint[] {
    return this.ring;
  }

  /** A new term starts with no writes weighed: the ones the last leader saw were weighed already. */
  clear(): void {
    this.ring.length = 0;
    this.next = 0;
  }
}

export type PlacementDecision =
  | {
      move: false;
      why: "window" | "tenure" | "unweighable" | "best" | "margin";
      currentMs?: number;
      bestMs?: number;
    }
  | { move: true; to: number; currentMs: number; bestMs: number };

export interface PlacementInput {
  /** The acceptors' location hints, by acceptor index. */
  hints: readonly string[];
  current: number;
  window: WriteWindow;
  /** How long the current term has lasted. */
  termAgeMs: number;
  settings: PlacementSettings;
}

/** Whether the leader should move now, and where. Ties go to the lowest index, so every caller agrees. */
export function placeLeader({
  hints,
  current,
  window,
  termAgeMs,
  settings,
}: PlacementInput): PlacementDecision {
  if (!window.full) return { move: false, why: "window" };
  if (termAgeMs < settings.tenureMs) return { move: false, why: "tenure" };
  const currentMs = expectedWriteMs(hints, current, window.origins);
  if (currentMs === undefined) return { move: false, why: "unweighable" };
  let best = current;
  let bestMs = currentMs;
  hints.forEach((_, i) => {
    const ms = expectedWriteMs(hints, i, window.origins);
    if (ms !== undefined && ms < bestMs) {
      best = i;
      bestMs = ms;
    }
  });
  if (best === current) return { move: false, why: "best", currentMs, bestMs };
  const clearly = bestMs <= currentMs * (1 - settings.marginRatio) && bestMs <= currentMs - settings.marginMs;
  if (!clearly) return { move: false, why: "margin", currentMs, bestMs };
  return { move: true, to: best, currentMs, bestMs };
}
