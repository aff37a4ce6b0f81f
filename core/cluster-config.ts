// The cluster's settings, read from the Worker's variables (wrangler.toml
// [vars]). Both the Worker and every acceptor read the same ones.

import { historyRevsDefault } from "./limits";

export interface AcceptorConfig {
  name: string;
  location: string;
}

export interface ClusterConfig {
  acceptors: AcceptorConfig[];
  historyRevs: number;
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
  leader: string;
}

export interface ClusterVars {
  DOOZER_ACCEPTORS?: string;
  DOOZER_LOCATIONS?: string;
  DOOZER_HISTORY_REVS?: string;
  DOOZER_FAULTS?: string;
  DOOZER_WRITE_TIMEOUT_MS?: string;
  DOOZER_RPC_TIMEOUT_MS?: string;
  DOOZER_WRITE_ROUTE?: string;
  DOOZER_LEADER?: string;
}

export const defaultLocations = ["wnam", "enam", "weur", "apac", "oc"];

export function parseClusterConfig(vars: ClusterVars): ClusterConfig {
  const count = positiveInteger(vars.DOOZER_ACCEPTORS, 5, "DOOZER_ACCEPTORS");
  const locations = (vars.DOOZER_LOCATIONS ?? defaultLocations.join(","))
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  const acceptors = Array.from({ length: count }, (_, i) => ({
    name: `acceptor-${i}`,
    location: locations[i % Math.max(1, locations.length)] ?? "",
  }));
  const historyRevs = positiveInteger(vars.DOOZER_HISTORY_REVS, historyRevsDefault, "DOOZER_HISTORY_REVS");
  if (historyRevs < historyRevsDefault) {
    throw new Error(`DOOZER_HISTORY_REVS must be at least ${historyRevsDefault}, not ${historyRevs}`);
  }
  return {
    acceptors,
    historyRevs,
    faultsEnabled: vars.DOOZER_FAULTS === "1",
    writeTimeoutMs: positiveInteger(vars.DOOZER_WRITE_TIMEOUT_MS, 4000, "DOOZER_WRITE_TIMEOUT_MS"),
    rpcTimeoutMs: positiveInteger(vars.DOOZER_RPC_TIMEOUT_MS, 1000, "DOOZER_RPC_TIMEOUT_MS"),
    retryMs: 400,
    writeRoute: writeRoute(vars.DOOZER_WRITE_ROUTE),
    leader: leaderName(vars.DOOZER_LEADER, acceptors),
  };
}

function positiveInteger(text: string | undefined, fallback: number, name: string): number {
  if (text === undefined || text === "") return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value <= 0)
    throw new Error(`${name} must be a positive integer, not "${text}"`);
  return value;
}

/**
 * The leader route is the default: one quorum round trip from the leader's
 * region, and no duels between proposers when writes come from many regions
 * (docs/WAN-MODEL.md, docs/BENCHMARKS.md).
 */
function writeRoute(text: string | undefined): ClusterConfig["writeRoute"] {
  if (text === undefined || text === "" || text === "leader") return "leader";
  if (text === "worker") return "worker";
  throw new Error(`DOOZER_WRITE_ROUTE must be worker or leader, not "${text}"`);
}

/** The default leader is acceptor-1: with the default hints (enam) its quorum round trip is the shortest. */
function leaderName(text: string | undefined, acceptors: AcceptorConfig[]): string {
  const name = text || (acceptors[1] ?? acceptors[0])?.name || "acceptor-0";
  if (!acceptors.some((a) => a.name === name)) throw new Error(`DOOZER_LEADER names no acceptor: "${name}"`);
  return name;
}
