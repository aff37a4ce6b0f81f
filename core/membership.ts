// The cluster's membership as the acceptors store it (docs/PROTOCOL.md,
// "Membership"). Paxos is safe only while every proposer counts majorities of
// the same set of acceptors: a slot chosen by acceptors 0, 1, 2 of five is
// invisible to the majority 3, 4, 5, 6 of seven. So every acceptor records, at
// its first use, the membership it was created in and the state machine's
// version; from then on it refuses to take part under any other, and every
// Paxos message from a proposer carries the fingerprint of the membership that
// proposer counts, so an acceptor also refuses a proposer configured otherwise.

import type { ClusterConfig } from "./cluster-config";

/**
 * The version of the replicated state machine (what a log entry means to the
 * store). 1: files; 2: sessions, ephemeral files and transactions; 3: the
 * session keeper's terms (keeper-claim, expiries under a term); 4: the
 * leader's terms (leader-move). A replica
 * refuses a log written by a newer version than its own.
 */
export const stateMachineVersion = 4;

/** What an acceptor stores (meta key `membership`) and compares. */
export interface Membership {
  /** The acceptors' names, in order. */
  acceptors: string[];
  /** A short hash of the names (`fingerprintOf`), carried by Paxos messages. */
  fingerprint: string;
  stateMachineVersion: number;
}

export function membershipOf(config: Pick<ClusterConfig, "acceptors">): Membership {
  const acceptors = config.acceptors.map((a) => a.name);
  return { acceptors, fingerprint: fingerprintOf(acceptors), stateMachineVersion };
}

/** FNV-1a (32 bits) over the names joined by commas, as 8 hex digits: short, stable, no I/O. */
export function fingerprintOf(names: readonly string[]): string {
  let hash = 0x811c9dc5;
  for (const char of names.join(",")) {
    hash ^= char.codePointAt(0) ?? 0;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, "0");
}

/** How an acceptor's stored membership is written: JSON of a `Membership`. */
export function encodeMembership(membership: Membership): string {
  return JSON.stringify(membership);
}

/** A stored membership, or undefined if the text is not one (it is then treated as absent and written anew). */
export function decodeMembership(text: string | undefined): Membership | undefined {
  if (text === undefined) return undefined;
  try {
    const value = JSON.parse(text) as Partial<Membership>;
    if (
      Array.isArray(value.acceptors) &&
      value.acceptors.every((n) => typeof n === "string") &&
      typeof value.fingerprint === "string" &&
      typeof value.stateMachineVersion === "number"
    ) {
      return value as Membership;
    }
  } catch {
    // Not JSON: treated as absent.
  }
  return undefined;
}

function describe(names: readonly string[]): string {
  const first = names[0] ?? "none";
  const last = names[names.length - 1] ?? "none";
  return names.length === 1 ? `1 acceptor (${first})` : `${names.length} acceptors (${first} to ${last})`;
}

/**
 * Why an acceptor named `self`, configured with `configured`, must refuse to
 * take part given what it stored (`stored`); undefined when all agree. The
 * message says what to do, for /v1/health, /v1/cluster and the log.
 */
export function membershipRefusal(
  self: string,
  configured: Membership,
  stored: Membership,
): string | undefined {
  if (stored.stateMachineVersion > configured.stateMachineVersion) {
    return `membership: ${self} was written by state machine version ${stored.stateMachineVersion}, and this code runs version ${configured.stateMachineVersion}; deploy the newer code again`;
  }
  if (stored.fingerprint !== configured.fingerprint) {
    return `membership: ${self} was created in a cluster of ${describe(stored.acceptors)} and is now configured for ${describe(configured.acceptors)} (DOOZER_ACCEPTORS); it refuses to take part, as majorities of the two would not intersect. Set DOOZER_ACCEPTORS back to ${stored.acceptors.length} (docs/PROTOCOL.md, "Membership")`;
  }
  if (!stored.acceptors.includes(self)) {
    return `membership: ${self} is not one of the ${describe(stored.acceptors)} of this cluster`;
  }
  return undefined;
}

/** Why an acceptor that stored `stored` refuses a message stamped with `fingerprint`; undefined when they agree. */
export function messageRefusal(self: string, stored: Membership, fingerprint: unknown): string | undefined {
  if (fingerprint === undefined || fingerprint === stored.fingerprint) return undefined;
  return `membership: ${self} belongs to a cluster of ${describe(stored.acceptors)} (fingerprint ${stored.fingerprint}) and refuses a proposer configured for another membership (fingerprint ${String(fingerprint)}); check DOOZER_ACCEPTORS (docs/PROTOCOL.md, "Membership")`;
}

/** The field a proposer's Paxos message carries the fingerprint in. */
export const membershipField = "membership";

/** The Paxos calls whose message is stamped with the membership. */
const stampedCalls = new Set(["prepare", "accept", "commit", "fetchChosen", "transferState"]);

/**
 * A view of an acceptor handle whose Paxos calls (`prepare`, `accept`,
 * `commit`, `fetchChosen`) carry `fingerprint` in their message; every other
 * call is passed through unchanged.
 */
export function stampMembership<T extends object>(target: T, fingerprint: string): T {
  return new Proxy(target, {
    get(object, property) {
      // A member call on the target itself: an RPC stub's methods are remote calls, even `.call`.
      const methods = object as Record<string | symbol, unknown>;
      if (typeof property !== "string" || !stampedCalls.has(property)) return methods[property];
      return (message: object, ...rest: unknown[]) =>
        (methods as Record<string, (...a: unknown[]) => unknown>)[property]?.(
          { ...message, [membershipField]: fingerprint },
          ...rest,
        );
    },
  });
}
