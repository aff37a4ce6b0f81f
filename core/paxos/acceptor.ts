// The acceptor: the only Paxos role with durable state. It keeps one promise
// for all slots (multi-Paxos) and an accepted (ballot, value) per slot, and it
// writes both to storage before it answers: an answer is a vote, and a vote
// forgotten in a crash could let two values be chosen for one slot.

import { assert } from "../assert";
import { type Ballot, compareBallots, formatBallot, zeroBallot } from "./ballot";
import { bytesEqual } from "./learner";
import type { Accept, Accepted, AcceptedEntry, Prepare, Promised, Rejected, Slot } from "./messages";

/** Durable storage for an acceptor's votes. Each call returns only when its data is durable. */
export interface AcceptorStorage {
  savePromise(promised: Ballot): void;
  /** One atomic write: the promise and every entry. */
  saveAccepted(promised: Ballot, entries: readonly AcceptedEntry[]): void;
}

export class Acceptor {
  private promisedBallot: Ballot;
  /** Accepted entries above the chosen prefix; entries at or below it are the learner's. */
  private readonly accepted = new Map<Slot, AcceptedEntry>();

  constructor(
    private readonly storage: AcceptorStorage,
    promised: Ballot = zeroBallot,
    accepted: Iterable<AcceptedEntry> = [],
  ) {
    this.promisedBallot = promised;
    for (const entry of accepted) {
      // Storage writes a vote and its promise in one transaction, so no vote outranks the promise.
      assert(
        compareBallots(entry.ballot, promised) <= 0,
        () =>
          `acceptor: slot ${entry.slot} accepted at ${formatBallot(entry.ballot)}, above the promise ${formatBallot(promised)}`,
      );
      this.accepted.set(entry.slot, entry);
    }
  }

  get promised(): Ballot {
    return this.promisedBallot;
  }

  /** Slots through this one are chosen and applied: the learner holds them, not this map. */
  private forgottenThrough: Slot = 0;

  /** The highest slot this acceptor has accepted a value for, counting its chosen prefix. */
  get maxAccepted(): Slot {
    let max = this.forgottenThrough;
    for (const slot of this.accepted.keys()) if (slot > max) max = slot;
    return max;
  }

  prepare(message: Prepare, chosenThrough: Slot): Promised | Rejected {
    if (compareBallots(message.ballot, this.promisedBallot) < 0) return this.reject(message.ballot);
    this.promise(message.ballot);
    const from = Math.max(message.fromSlot, chosenThrough + 1);
    const accepted = [...this.accepted.values()]
      .filter((e) => e.slot >= from)
      .sort((a, b) => a.slot - b.slot);
    return { type: "promised", ballot: message.ballot, chosenThrough, accepted };
  }

  accept(message: Accept): Accepted | Rejected {
    if (compareBallots(message.ballot, this.promisedBallot) < 0) return this.reject(message.ballot);
    // A slot already chosen and applied is acknowledged but not stored again: by
    // Paxos safety any later proposal for it carries the chosen value.
    const entries = message.entries
      .filter((e) => e.slot > this.forgottenThrough)
      .map((e) => ({ slot: e.slot, ballot: message.ballot, value: e.value }));
    for (const entry of entries) {
      // A ballot belongs to one proposer, which proposes one value per slot under it.
      const held = this.accepted.get(entry.slot);
      assert(
        !held || compareBallots(held.ballot, entry.ballot) !== 0 || bytesEqual(held.value, entry.value),
        () => `acceptor: two values for slot ${entry.slot} under ballot ${formatBallot(entry.ballot)}`,
      );
    }
    // Persist before the in-memory state changes, so a failed write leaves no vote behind.
    this.storage.saveAccepted(message.ballot, entries);
    this.promisedBallot = message.ballot;
    for (const entry of entries) this.accepted.set(entry.slot, entry);
    return { type: "accepted", ballot: message.ballot, slots: message.entries.map((e) => e.slot) };
  }

  /** The accepted entry for a slot still held in memory (above the chosen prefix). */
  acceptedAt(slot: Slot): AcceptedEntry | undefined {
    return this.accepted.get(slot);
  }

  /** Drops entries the learner has applied: they are chosen and live in the learner's log now. */
  forgetThrough(slot: Slot): void {
    if (slot <= this.forgottenThrough) return;
    for (const key of this.accepted.keys()) if (key <= slot) this.accepted.delete(key);
    this.forgottenThrough = slot;
  }

  private promise(ballot: Ballot): void {
    const order = compareBallots(ballot, this.promisedBallot);
    assert(order >= 0, "acceptor: a promise never goes backwards");
    if (order === 0) return;
    this.storage.savePromise(ballot);
    this.promisedBallot = ballot;
  }

  private reject(ballot: Ballot): Rejected {
    return { type: "rejected", ballot, promised: this.promisedBallot };
  }
}
