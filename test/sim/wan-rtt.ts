// Round-trip times between Durable Object location hints, for the WAN model
// (wan.ts). The table itself and the placement rules (where an object hinted
// sam, afr or me runs) live in core/region-rtt.ts, which the leader's
// placement (core/leader-placement.ts) weighs too: the model measures the
// figures the code decides by. Here: the model's names for them, and the
// worked examples of WAN-RTT.md §6 it is checked against.

import type { RttHint } from "../../core/region-rtt";

export {
  acceptorPlace,
  durableObjectRegion,
  edgePlace,
  nearbyDataCenterRttMs,
  type Place,
  placeRttMs,
  rttHints as hints,
  rttMs,
  sameMetroRttMs,
} from "../../core/region-rtt";
export type Hint = RttHint;

/**
 * WAN-RTT.md §6, the worked examples: one quorum round trip (accept out, a
 * majority of answers back) for a proposer at `at`, derived there from the §2
 * matrix by hand. A proposer co-located with an acceptor counts its own vote at
 * ~0 ms. The model (wan.ts) must reproduce these from the real proposer's
 * messages; wan.test.ts checks it does.
 */
export interface WorkedQuorum {
  acceptors: readonly Hint[];
  /** §6.x first table: the proposer sits at each acceptor's site. */
  coLocated: Partial<Record<Hint, number>>;
  /** §6.x second table: a proposer (a Worker) with no acceptor in its region. */
  elsewhere: Partial<Record<Hint, number>>;
}

export const fiveAcceptors: readonly Hint[] = ["wnam", "enam", "weur", "apac", "oc"];
export const threeAcceptors: readonly Hint[] = ["enam", "weur", "apac"];

/** §6.1 (five acceptors, majority 3) and §6.2 (three acceptors, majority 2). */
export const workedQuorums: readonly WorkedQuorum[] = [
  {
    acceptors: fiveAcceptors,
    coLocated: { wnam: 140, enam: 78, weur: 140, apac: 167, oc: 140 },
    elsewhere: { sam: 181, eeur: 161, afr: 220, me: 173 },
  },
  {
    acceptors: threeAcceptors,
    coLocated: { enam: 78, weur: 78, apac: 167 },
    elsewhere: { wnam: 140, sam: 181, eeur: 101, oc: 202, afr: 177, me: 116 },
  },
];
