// The WAN model of "the leader follows the writers" (core/leader-placement.ts):
// what a workload's writes cost when the leader role moves to where they come
// from, against the best fixed leader for the same workload.
//
// Each write's cost comes from the WAN model's real runs (wan.ts: the Proposer
// and the replicas over the virtual network): the steady latency of a write
// from its region with the leader where it is, and the cold one (phase 1
// first) for the first write at a new leader, whose ballot must rise above the
// old one's. The leader's decisions are the code's own: placeLeader over the
// window of the last writes' origins, with the default window, margin and
// tenure. A move costs, besides that phase 1, one redirect per client region:
// the first write from each region after a move still goes to the old leader,
// which answers with the new one (one more round trip from that region's
// edge to the old leader). The move itself is a write the old leader proposes
// while no client waits on it; it costs no client time here.
//
// Writes arrive one at a time, `gapMs` apart (so the tenure spans
// tenureMs / gapMs writes), from a deterministic mix of regions.

import { placeLeader, placementDefaults, WriteWindow } from "../../core/leader-placement";
import { acceptorPlace, edgePlace, placeRttMs } from "../../core/region-rtt";
import { runCluster } from "./wan";
import { fiveAcceptors, type Hint, hints } from "./wan-rtt";

export interface FollowResult {
  /** Mean write latency (ms) with the leader following the writers, from the default leader on. */
  followMs: number;
  /** The same, leaving out the writes before the first move settled (the steady state). */
  settledMs: number;
  /** The best fixed leader for this workload and its mean. */
  bestFixed: Hint;
  bestFixedMs: number;
  /** Where the leader ended, and how many times it moved. */
  finalLeader: Hint;
  moves: number;
}

export interface FollowOptions {
  acceptors?: readonly Hint[];
  /** Where the leader starts: acceptor-1, the default (DOOZER_LEADER). */
  startLeader?: number;
  writes?: number;
  gapMs?: number;
}

/** 80 % of the writes from `main`, the rest from each other region in turn. */
export function mostlyFrom(main: Hint, writes: number): Hint[] {
  const others = hints.filter((h) => h !== main);
  return Array.from({ length: writes }, (_, i) =>
    i % 5 === 4 ? (others[Math.floor(i / 5) % others.length] as Hint) : main,
  );
}

/** Every region in turn. */
export function evenly(writes: number): Hint[] {
  return Array.from({ length: writes }, (_, i) => hints[i % hints.length] as Hint);
}

const runsByCluster = new Map<string, ReturnType<typeof runCluster>>();

/** The WAN model's runs for these acceptors: deterministic, so computed once. */
function clusterRuns(acceptors: readonly Hint[]): ReturnType<typeof runCluster> {
  const key = acceptors.join();
  let runs = runsByCluster.get(key);
  if (!runs) {
    runs = runCluster(acceptors);
    runsByCluster.set(key, runs);
  }
  return runs;
}

/** Runs one workload with the leader following and with every fixed leader. */
export function simulateFollowing(origins: readonly Hint[], options: FollowOptions = {}): FollowResult {
  const acceptors = options.acceptors ?? fiveAcceptors;
  const gapMs = options.gapMs ?? 100;
  const results = clusterRuns(acceptors);
  // Column 0 is the worker route; column 1 + i is the leader at acceptor i.
  const steady = (client: Hint, leader: number) => results.runs.get(client)?.[1 + leader]?.steady.latencyMs;
  const cold = (client: Hint, leader: number) => results.runs.get(client)?.[1 + leader]?.cold.latencyMs;
  const cost = (value: number | undefined): number => {
    if (value === undefined) throw new Error("wan-follow: no run for a client and leader");
    return value;
  };

  const fixedMeans = acceptors.map(
    (_, leader) => origins.reduce((sum, o) => sum + cost(steady(o, leader)), 0) / origins.length,
  );
  const bestFixedMs = Math.min(...fixedMeans);
  const best = fixedMeans.indexOf(bestFixedMs);

  let leader = options.startLeader ?? 1;
  let termStartMs = 0;
  let moves = 0;
  let settledFrom = 0;
  let previous: number | undefined;
  /** Regions whose Workers have not heard of the current leader yet (they go to the previous one first). */
  const unaware = new Set<Hint>();
  let coldPending = false;
  const window = new WriteWindow(placementDefaults.windowWrites);
  const latencies: number[] = [];
  origins.forEach((origin, i) => {
    const nowMs = i * gapMs;
    let ms = cost((coldPending ? cold : steady)(origin, leader));
    coldPending = false;
    if (previous !== undefined && unaware.has(origin)) {
      const old = acceptors[previous] as Hint;
      ms += placeRttMs(edgePlace(origin), acceptorPlace(old));
      unaware.delete(origin);
    }
    latencies.push(ms);
    window.record(origin);
    const decision = placeLeader({
      hints: acceptors,
      current: leader,
      window,
      termAgeMs: nowMs - termStartMs,
      settings: placementDefaults,
    });
    if (decision.move) {
      previous = leader;
      leader = decision.to;
      termStartMs = nowMs;
      moves++;
      settledFrom = i + 1;
      coldPending = true;
      window.clear();
      for (const h of hints) unaware.add(h);
    }
  });
  const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  return {
    followMs: mean(latencies),
    settledMs: mean(latencies.slice(settledFrom)),
    bestFixed: acceptors[best] as Hint,
    bestFixedMs,
    finalLeader: acceptors[leader] as Hint,
    moves,
  };
}

const ms = (n: number): string => n.toFixed(1);

/** The tables docs/WAN-MODEL.md holds, as markdown. Deterministic. */
export function followReport(writes = 3000, gapMs = 100): string {
  const lines = [
    `Five acceptors (${fiveAcceptors.join(", ")}); the leader starts at enam (acceptor-1, the default). ${writes} writes,`,
    `one every ${gapMs} ms (${(writes * gapMs) / 1000} s); window ${placementDefaults.windowWrites} writes, tenure ${placementDefaults.tenureMs / 1000} s, margin ${placementDefaults.marginRatio * 100} % and ${placementDefaults.marginMs} ms.`,
    'Mean write latency (ms) at the client. "following": the whole run, the writes before the first move,',
    'the move\'s phase 1 and the redirects included; "settled": after the last move.',
    "",
    "| 80 % of writes from | following | settled | best fixed leader | its mean | ratio (following / best fixed) | leader at the end | moves |",
    "|---|---:|---:|---|---:|---:|---|---:|",
  ];
  for (const main of hints) {
    const r = simulateFollowing(mostlyFrom(main, writes), { gapMs });
    lines.push(
      `| ${main} | ${ms(r.followMs)} | ${ms(r.settledMs)} | ${r.bestFixed} | ${ms(r.bestFixedMs)} | ${(r.followMs / r.bestFixedMs).toFixed(2)} | ${r.finalLeader} | ${r.moves} |`,
    );
  }
  const even = simulateFollowing(evenly(writes), { gapMs });
  lines.push(
    `| evenly, every region | ${ms(even.followMs)} | ${ms(even.settledMs)} | ${even.bestFixed} | ${ms(even.bestFixedMs)} | ${(even.followMs / even.bestFixedMs).toFixed(2)} | ${even.finalLeader} | ${even.moves} |`,
  );
  return lines.join("\n");
}

/** docs/WAN-MODEL.md holds the follow report between these two lines; bench/wan.ts --write puts it there. */
export const followBegin =
  "<!-- wan-follow:begin (written by bench/wan.ts --write; edit the model, not this) -->";
export const followEnd = "<!-- wan-follow:end -->";

/** `doc` with the text between the follow markers replaced by `report`. */
export function withFollowReport(doc: string, report: string): string {
  const begin = doc.indexOf(followBegin);
  const end = doc.indexOf(followEnd);
  if (begin < 0 || end < begin) throw new Error("wan-follow: the document has no follow markers");
  return `${doc.slice(0, begin + followBegin.length)}\n\n${report}\n\n${doc.slice(end)}`;
}
