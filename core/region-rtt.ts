// Round-trip times between the regions Durable Object location hints stand
// for: what the leader's placement (leader-placement.ts) weighs, and what the
// WAN model (test/sim/wan.ts) runs its virtual network on. One table for both,
// so that the model measures the very figures the code decides by.
//
// Transcribed from WAN-RTT.md, a survey of published round-trip times that is
// not part of this repository (docs/WAN-MODEL.md gives the model and its
// sources); the section numbers below (§2, §4, §6) are that survey's.
//
// Sources (numbered as in WAN-RTT.md §7):
//  [1] Microsoft Learn, "Azure network round-trip latency statistics",
//      https://learn.microsoft.com/en-us/azure/networking/azure-network-latency
//      monthly P50 inter-region RTT, 30-day window ending 30 July 2026. The
//      source table is directional; every figure here is the mean of the two
//      directions, rounded half up (they never differ by more than 7 ms).
//  [3] Cloudflare Docs, Durable Objects "Data location" (location hints),
//      https://developers.cloudflare.com/durable-objects/reference/data-location/
//      (cloudflare/cloudflare-docs at commit 398302a): no Durable Objects are
//      spawned in South America, Africa or the Middle East.
//  [7] where.durableobjects.live data snapshot of 4 January 2026 (mirrored in
//      connyay/cf-colo-hint, commit 7528acc): where hinted objects land.
//
// One city per hint (WAN-RTT.md §1): wnam San Francisco Bay Area (Azure West
// US), enam northern Virginia (East US), sam São Paulo (Brazil South), weur
// London (UK South), eeur Warsaw (Poland Central), apac Singapore (Southeast
// Asia), oc Sydney (Australia East), afr Johannesburg (South Africa North),
// me Dubai (UAE North). The hints apac-ne and apac-se have no row: code that
// weighs placements leaves acceptors and writes there out rather than guess.

export const rttHints = ["wnam", "enam", "sam", "weur", "eeur", "apac", "oc", "afr", "me"] as const;
export type RttHint = (typeof rttHints)[number];

/**
 * Two distinct nodes in one metro: a client and the Worker at its edge, or a
 * Worker and a Durable Object of its own region. WAN-RTT.md's preamble puts
 * the same metro at 1–2 ms and counts it as about 0; we take 1 ms round trip
 * (0.5 ms each way), small enough not to move any conclusion.
 */
export const sameMetroRttMs = 1;

/**
 * Two Durable Objects in one region but different data centres: an object
 * hinted sam, afr or me runs in a data centre of enam, weur or eeur, not
 * necessarily the one an object hinted there uses. WAN-RTT.md §4 says "add a
 * within-region RTT of roughly 10–20 ms", from [1]: East US↔East US 2 9 ms,
 * UK South↔West Europe 11 ms, Poland Central↔Austria East 17 ms. We take
 * the middle of that range.
 */
export const nearbyDataCenterRttMs = 15;

/** WAN-RTT.md §2: P50 RTT in ms for all 36 pairs, each from [1] (Azure regions named per pair). */
const p50Pairs: ReadonlyArray<readonly [RttHint, RttHint, number]> = [
  ["wnam", "enam", 68], // [1] West US ↔ East US
  ["wnam", "sam", 169], // [1] West US ↔ Brazil South
  ["wnam", "weur", 140], // [1] West US ↔ UK South
  ["wnam", "eeur", 161], // [1] West US ↔ Poland Central
  ["wnam", "apac", 170], // [1] West US ↔ Southeast Asia
  ["wnam", "oc", 140], // [1] West US ↔ Australia East
  ["wnam", "afr", 273], // [1] West US ↔ South Africa North
  ["wnam", "me", 235], // [1] West US ↔ UAE North
  ["enam", "sam", 118], // [1] East US ↔ Brazil South
  ["enam", "weur", 78], // [1] East US ↔ UK South
  ["enam", "eeur", 101], // [1] East US ↔ Poland Central
  ["enam", "apac", 224], // [1] East US ↔ Southeast Asia
  ["enam", "oc", 202], // [1] East US ↔ Australia East
  ["enam", "afr", 220], // [1] East US ↔ South Africa North
  ["enam", "me", 175], // [1] East US ↔ UAE North
  ["sam", "weur", 181], // [1] Brazil South ↔ UK South
  ["sam", "eeur", 203], // [1] Brazil South ↔ Poland Central
  ["sam", "apac", 331], // [1] Brazil South ↔ Southeast Asia
  ["sam", "oc", 295], // [1] Brazil South ↔ Australia East
  ["sam", "afr", 321], // [1] Brazil South ↔ South Africa North
  ["sam", "me", 276], // [1] Brazil South ↔ UAE North
  ["weur", "eeur", 29], // [1] UK South ↔ Poland Central
  ["weur", "apac", 167], // [1] UK South ↔ Southeast Asia
  ["weur", "oc", 261], // [1] UK South ↔ Australia East
  ["weur", "afr", 164], // [1] UK South ↔ South Africa North
  ["weur", "me", 116], // [1] UK South ↔ UAE North
  ["eeur", "apac", 184], // [1] Poland Central ↔ Southeast Asia
  ["eeur", "oc", 278], // [1] Poland Central ↔ Australia East
  ["eeur", "afr", 186], // [1] Poland Central ↔ South Africa North
  ["eeur", "me", 118], // [1] Poland Central ↔ UAE North
  ["apac", "oc", 95], // [1] Southeast Asia ↔ Australia East
  ["apac", "afr", 177], // [1] Southeast Asia ↔ South Africa North
  ["apac", "me", 83], // [1] Southeast Asia ↔ UAE North
  ["oc", "afr", 328], // [1] Australia East ↔ South Africa North
  ["oc", "me", 173], // [1] Australia East ↔ UAE North
  ["afr", "me", 103], // [1] South Africa North ↔ UAE North
];

const p50 = new Map<string, number>();
for (const [a, b, ms] of p50Pairs) {
  p50.set(`${a}-${b}`, ms);
  p50.set(`${b}-${a}`, ms);
}

/** Whether the table has a row for this location hint. */
export function isRttHint(hint: string): hint is RttHint {
  return (rttHints as readonly string[]).includes(hint);
}

/** The P50 RTT between two regions; `sameMetroRttMs` within one. */
export function rttMs(a: RttHint, b: RttHint): number {
  if (a === b) return sameMetroRttMs;
  const ms = p50.get(`${a}-${b}`);
  if (ms === undefined) throw new Error(`region-rtt: no RTT for ${a}–${b}`);
  return ms;
}

/**
 * WAN-RTT.md §4, from [3] and [7]: Cloudflare runs no Durable Objects in sam,
 * afr or me; an object hinted there lands in enam, weur or eeur respectively.
 * Workers (proposers on the worker route, and the edge a client talks to) do
 * run there, so for them the hint is the region.
 */
export function durableObjectRegion(hint: RttHint): RttHint {
  switch (hint) {
    case "sam":
      return "enam";
    case "afr":
      return "weur";
    case "me":
      return "eeur";
    default:
      return hint;
  }
}

/** Where a node runs: its region, and the hint it was created with (which picks its data centre there). */
export interface Place {
  region: RttHint;
  hint: RttHint;
}

/** A client, or a Worker at its edge. */
export function edgePlace(hint: RttHint): Place {
  return { region: hint, hint };
}

/** An acceptor Durable Object created with this location hint. */
export function acceptorPlace(hint: RttHint): Place {
  return { region: durableObjectRegion(hint), hint };
}

/**
 * The RTT between two distinct nodes: the matrix across regions; within one,
 * the same metro when both asked for that region, or a nearby data centre when
 * one of them was moved there by §4 (say an acceptor hinted sam, in enam).
 */
export function placeRttMs(a: Place, b: Place): number {
  if (a.region !== b.region) return rttMs(a.region, b.region);
  return a.hint === b.hint ? sameMetroRttMs : nearbyDataCenterRttMs;
}
