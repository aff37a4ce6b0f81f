// The learner: collects chosen entries, which may arrive in any order, and
// releases them strictly in slot order. A gap is filled by asking peers.

import { assert } from "../assert";
import { fetchSlotsMax } from "../limits";
import type { LogEntry, Slot } from "./messages";

export class Learner {
  /** Every slot through this one is chosen and has been released. */
  private released: Slot;
  /** Chosen entries above the released prefix, waiting for the gap below them to close. */
  private readonly pending = new Map<Slot, Uint8Array>();
  /** The highest slot some message says exists, for asking peers even when nothing is pending. */
  private target: Slot;

  constructor(chosenThrough: Slot = 0) {
    this.released = chosenThrough;
    this.target = chosenThrough;
  }

  get chosenThrough(): Slot {
    return this.released;
  }

  /** The highest slot some message says exists. */
  get expectedThrough(): Slot {
    return this.target;
  }

  /**
   * Takes entries known to be chosen and returns those that now extend the
   * chosen prefix, in slot order. A chosen slot never changes: an entry that
   * contradicts a pending one is a safety violation.
   */
  learn(entries: readonly LogEntry[]): LogEntry[] {
    for (const { slot, value } of entries) {
      if (slot <= this.released) continue;
      const known = this.pending.get(slot);
      assert(
        !known || bytesEqual(known, value),
        () => `learner: slot ${slot} chosen twice with different values`,
      );
      this.pending.set(slot, value);
      if (slot > this.target) this.target = slot;
    }
    const ready: LogEntry[] = [];
    for (let next = this.released + 1; ; next++) {
      const value = this.pending.get(next);
      if (!value) break;
      this.pending.delete(next);
      ready.push({ slot: next, value });
      this.released = next;
    }
    return ready;
  }

  /** Records that slots up to `slot` exist (from a proposer or a read barrier), so the gap can be fetched. */
  expect(slot: Slot): void {
    if (slot > this.target) this.target = slot;
  }

  /** The first range of slots to fetch from peers, or undefined when nothing is missing. */
  missing(): { fromSlot: Slot; toSlot: Slot } | undefined {
    if (this.target <= this.released) return undefined;
    const fromSlot = this.released + 1;
    let toSlot = fromSlot;
    while (toSlot < this.target && toSlot - fromSlot + 1 < fetchSlotsMax && !this.pending.has(toSlot + 1))
      toSlot++;
    return { fromSlot, toSlot };
  }
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
