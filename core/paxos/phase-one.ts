// What a proposer must propose once a quorum has promised its ballot: the
// heart of Paxos safety. Any value that may have been chosen above the
// settled prefix was accepted by some member of every quorum, so this
// quorum's highest-ballot value for each slot is the only one it may propose.

import { assert } from "../assert";
import { compareBallots } from "./ballot";
import { bytesEqual } from "./learner";
import type { AcceptedEntry, LogEntry, Slot } from "./messages";

/**
 * Slots through `settled` are chosen and left alone; above it, each slot up to
 * the highest any promise names takes the value accepted at the highest ballot,
 * and a hole takes `noop()` (nothing can have been chosen there).
 */
export function proposalsAfterPromises(
  promised: Iterable<{ accepted: readonly AcceptedEntry[] }>,
  settled: Slot,
  noop: () => Uint8Array,
): LogEntry[] {
  const highest = new Map<Slot, AcceptedEntry>();
  let top = settled;
  for (const { accepted } of promised) {
    for (const entry of accepted) {
      if (entry.slot <= settled) continue;
      const seen = highest.get(entry.slot);
      const order = seen ? compareBallots(entry.ballot, seen.ballot) : 1;
      assert(
        order !== 0 || (seen && bytesEqual(seen.value, entry.value)),
        () => `phase 1: two values accepted for slot ${entry.slot} under one ballot`,
      );
      if (order > 0) highest.set(entry.slot, entry);
      if (entry.slot > top) top = entry.slot;
    }
  }
  const entries: LogEntry[] = [];
  for (let slot = settled + 1; slot <= top; slot++) {
    entries.push({ slot, value: highest.get(slot)?.value ?? noop() });
  }
  return entries;
}
