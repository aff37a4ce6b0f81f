// The cluster's settings, read from the Worker's variables (wrangler.toml
// [vars]). Both the Worker and every acceptor read the same ones, and
// `npm run deploy` checks them before anything is uploaded: a wrong setting is
// refused whole, with the setting's name, rather than half-applied (a typo in
// a hint or an even count cannot be undone once the acceptors exist).

import { placementDefaults } from "./leader-placement";
import { historyRevsDefault, logSlotsKeptDefault, storeBytesMaxDefault } from "./limits";

export interface AcceptorConfig {
  name: string;
  location: string;
}

export interface ClusterConfig {
  acceptors: AcceptorConfig[];
  historyRevs: number;
  /** Live data (paths and values) the store may hold; past it, NOSPACE (SPEC §8). */
  storeBytesMax: number;
  /** Chosen slots a replica keeps in its log below its applied one; older ones are trimmed (docs/PROTOCOL.md). */
  logSlotsKept: number;
  faultsEnabled: boolean;
  /** A write not decided by then answers NO_QUORUM. */
  writeTimeoutMs: number;
  /** One RPC to one acceptor; past it the acceptor counts as unreachable for that message. */
  rpcTimeoutMs: number;
  /** An unanswered Paxos message is sent again after this long. */
  retryMs: number;
  /**
   * Who proposes a write that comes over HTTP: "worker", the isolate that took
   * the request; or "leader", the acceptor named by `leader`, which proposes
   * with its own vote at hand and applies the outcome in place (one quorum
   * round trip per write), falling back to the isolate when it is unreachable.
   */
  writeRoute: "worker" | "leader";
  /** The leader at term 0, before any move (core/leader-term.ts). */
  leader: string;
  /**
   * On the leader route, whether the leader role moves to the acceptor that
   * serves the recent writers best (core/leader-placement.ts); off, the leader stays
   * where it is, though moves already decided stand.
   */
  leaderFollows: boolean;
  /** The writes whose origins the leader weighs: the last this many. */
  leaderWindowWrites: number;
  /** A leader keeps the role at least this long after its term began. */
  leaderTermMs: number;
}

export interface ClusterVars {
  DOOZER_ACCEPTORS?: string;
  DOOZER_LOCATIONS?: string;
  DOOZER_HISTORY_REVS?: string;
  DOOZER_STORE_BYTES_MAX?: string;
  DOOZER_LOG_SLOTS_KEPT?: string;
  DOOZER_FAULTS?: string;
  DOOZER_WRITE_TIMEOUT_MS?: string;
  DOOZER_RPC_TIMEOUT_MS?: string;
  DOOZER_WRITE_ROUTE?: string;
  DOOZER_LEADER?: string;
  DOOZER_LEADER_FOLLOWS?: string;
  DOOZER_LEADER_WINDOW_WRITES?: string;
  DOOZER_LEADER_TERM_MS?: string;
}

/** A setting that cannot be used; `setting` is the variable's name, which the message starts with. */
export class ClusterConfigError extends Error {
  constructor(
    readonly setting: keyof ClusterVars,
    detail: string,
  ) {
    super(`${setting}: ${detail}`);
    this.name = "ClusterConfigError";
  }
}

export const defaultLocations = ["wnam", "enam", "weur", "apac", "oc"];

/**
 * The Durable Object location hints the platform knows (its
 * DurableObjectLocationHint type). Listed here rather than taken from the
 * platform's types because core/ depends on nothing outside it; an unknown
 * hint would otherwise reach `get()` and fail there, request after request.
 */
export const locationHints: readonly string[] = [
  "wnam",
  "enam",
  "sam",
  "weur",
  "eeur",
  "apac",
  "apac-ne",
  "apac-se",
  "oc",
  "afr",
  "me",
];

export function parseClusterConfig(vars: ClusterVars): ClusterConfig {
  const acceptors = acceptorSet(vars);
  const historyRevs = positiveInteger(vars.DOOZER_HISTORY_REVS, historyRevsDefault, "DOOZER_HISTORY_REVS");
  if (historyRevs < historyRevsDefault) {
    throw new ClusterConfigError(
      "DOOZER_HISTORY_REVS",
      `must be at least ${historyRevsDefault}, not ${historyRevs}`,
    );
  }
  return {
    acceptors,
    historyRevs,
    storeBytesMax: positiveInteger(
      vars.DOOZER_STORE_BYTES_MAX,
      storeBytesMaxDefault,
      "DOOZER_STORE_BYTES_MAX",
    ),
    logSlotsKept: positiveInteger(vars.DOOZER_LOG_SLOTS_KEPT, logSlotsKeptDefault, "DOOZER_LOG_SLOTS_KEPT"),
    faultsEnabled: faults(vars.DOOZER_FAULTS),
    writeTimeoutMs: positiveInteger(vars.DOOZER_WRITE_TIMEOUT_MS, 4000, "DOOZER_WRITE_TIMEOUT_MS"),
    rpcTimeoutMs: positiveInteger(vars.DOOZER_RPC_TIMEOUT_MS, 1000, "DOOZER_RPC_TIMEOUT_MS"),
    retryMs: 400,
    writeRoute: writeRoute(vars.DOOZER_WRITE_ROUTE),
    leader: leaderName(vars.DOOZER_LEADER, acceptors),
    leaderFollows: switchOn(vars.DOOZER_LEADER_FOLLOWS, true, "DOOZER_LEADER_FOLLOWS"),
    leaderWindowWrites: positiveInteger(
      vars.DOOZER_LEADER_WINDOW_WRITES,
      placementDefaults.windowWrites,
      "DOOZER_LEADER_WINDOW_WRITES",
    ),
    leaderTermMs: positiveInteger(
      vars.DOOZER_LEADER_TERM_MS,
      placementDefaults.tenureMs,
      "DOOZER_LEADER_TERM_MS",
    ),
  };
}

/**
 * One acceptor per hint, in order. Without DOOZER_LOCATIONS the acceptors take
 * the first hints of the default list; with it, the list must name exactly one
 * hint per acceptor, since a count and a list that disagree leave it unclear
 * which of the two the operator meant.
 */
function acceptorSet(vars: ClusterVars): AcceptorConfig[] {
  const listed = vars.DOOZER_LOCATIONS !== undefined && vars.DOOZER_LOCATIONS.trim() !== "";
  const locations = listed ? hintList(vars.DOOZER_LOCATIONS ?? "") : defaultLocations;
  const count = positiveInteger(vars.DOOZER_ACCEPTORS, defaultLocations.length, "DOOZER_ACCEPTORS");
  if (count % 2 === 0) {
    // A majority of 2k acceptors is k+1, so it survives k-1 failures: what
    // 2k-1 acceptors survive, with one more acceptor to pay for and wait on.
    throw new ClusterConfigError(
      "DOOZER_ACCEPTORS",
      `${count} is even; it survives no more failures than ${count - 1} acceptors do (a majority of ${count} is ${count / 2 + 1}). Use ${count - 1} or ${count + 1}`,
    );
  }
  if (listed && locations.length !== count) {
    throw new ClusterConfigError(
      "DOOZER_LOCATIONS",
      `lists ${locations.length} hints, but DOOZER_ACCEPTORS is ${count}${vars.DOOZER_ACCEPTORS ? "" : " (its default)"}; give one hint per acceptor`,
    );
  }
  if (!listed && count > locations.length) {
    throw new ClusterConfigError(
      "DOOZER_LOCATIONS",
      `is unset and its default names ${locations.length} hints, fewer than the ${count} acceptors of DOOZER_ACCEPTORS; list one hint per acceptor`,
    );
  }
  return locations.slice(0, count).map((location, i) => ({ name: `acceptor-${i}`, location }));
}

/**
 * Distinct hints only: the store survives the loss of a minority of regions
 * because each acceptor is in a region of its own; two in one region lose
 * two votes to one regional outage.
 */
function hintList(text: string): string[] {
  const hints = text.split(",").map((s) => s.trim());
  const seen = new Set<string>();
  hints.forEach((hint, i) => {
    if (hint === "") throw new ClusterConfigError("DOOZER_LOCATIONS", `entry ${i + 1} of "${text}" is empty`);
    if (!locationHints.includes(hint)) {
      throw new ClusterConfigError(
        "DOOZER_LOCATIONS",
        `"${hint}" is not a location hint; the hints are ${locationHints.join(" ")}`,
      );
    }
    if (seen.has(hint))
      throw new ClusterConfigError(
        "DOOZER_LOCATIONS",
        `"${hint}" is listed twice; each acceptor needs a region of its own`,
      );
    seen.add(hint);
  });
  return hints;
}

/**
 * Decimal digits only: Number() would also take "1e3", "0x10", "5.0" and
 * " 5", and a setting that means something other than what it says is worse
 * than one refused.
 */
function positiveInteger(text: string | undefined, fallback: number, name: keyof ClusterVars): number {
  if (text === undefined || text === "") return fallback;
  const value = /^[0-9]+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value <= 0)
    throw new ClusterConfigError(name, `must be a positive integer in decimal digits, not "${text}"`);
  return value;
}

/** Only "1" turns the switch on; any other spelling ("true", "yes") is refused rather than read as off. */
function faults(text: string | undefined): boolean {
  if (text === undefined || text === "" || text === "0") return false;
  if (text === "1") return true;
  throw new ClusterConfigError(
    "DOOZER_FAULTS",
    `must be 1 (the fault switch on) or 0 or unset (off), not "${text}"`,
  );
}

/**
 * "1" on, "0" off, unset the default; any other spelling is refused rather
 * than guessed at, as for DOOZER_FAULTS.
 */
function switchOn(text: string | undefined, fallback: boolean, name: keyof ClusterVars): boolean {
  if (text === undefined || text === "") return fallback;
  if (text === "1") return true;
  if (text === "0") return false;
  throw new ClusterConfigError(name, `must be 1 (on) or 0 (off), not "${text}"`);
}

/**
 * The leader route is the default: one quorum round trip from the leader's
 * region, and no duels between proposers when writes come from many regions
 * (docs/WAN-MODEL.md, docs/BENCHMARKS.md).
 */
function writeRoute(text: string | undefined): ClusterConfig["writeRoute"] {
  if (text === undefined || text === "" || text === "leader") return "leader";
  if (text === "worker") return "worker";
  throw new ClusterConfigError("DOOZER_WRITE_ROUTE", `must be worker or leader, not "${text}"`);
}

/** The default leader is acceptor-1: with the default hints (enam) its quorum round trip is the shortest. */
function leaderName(text: string | undefined, acceptors: AcceptorConfig[]): string {
  const name = text || (acceptors[1] ?? acceptors[0])?.name || "acceptor-0";
  if (!acceptors.some((a) => a.name === name)) {
    throw new ClusterConfigError(
      "DOOZER_LEADER",
      `"${name}" names no acceptor; the acceptors are acceptor-0 to acceptor-${acceptors.length - 1}`,
    );
  }
  return name;
}
