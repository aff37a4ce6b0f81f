// A replica is what each acceptor Durable Object runs: the acceptor's votes,
// the learner's chosen log, and the store that the chosen log builds. The
// Durable Object and the simulator both drive this class; it does no I/O of
// its own beyond the synchronous storage it is handed.

import { assert } from "./assert";
import { batchBytesMax } from "./limits";
import { decodeBatch, type MutationOutcome } from "./mutation";
import { Acceptor, type AcceptorStorage } from "./paxos/acceptor";
import { type Ballot, compareBallots } from "./paxos/ballot";
import { Learner } from "./paxos/learner";
import type {
  Accept,
  Accepted,
  AcceptedEntry,
  Commit,
  Committed,
  Fetch,
  Fetched,
  LogEntry,
  Prepare,
  Promised,
  Rejected,
  Slot,
} from "./paxos/messages";
import { Store, type StoreOptions } from "./store";
import type { StoreBackend } from "./store-backend";

/** Everything a replica keeps durable. Each write returns only when durable. */
export interface ReplicaStorage extends AcceptorStorage {
  loadPromise(): Ballot;
  /** Accepted entries above `slot`, chosen or not. */
  loadAccepted(aboveSlot: Slot): AcceptedEntry[];
  /** Marks entries chosen, storing the chosen value. */
  saveChosen(entries: readonly LogEntry[]): void;
  /** Chosen entries in [fromSlot, toSlot] in slot order, stopping after `bytesMax` bytes (but never empty if one exists). */
  readChosen(fromSlot: Slot, toSlot: Slot, bytesMax: number): LogEntry[];
  /** The store's state, durable with the log: the replica applies each slot to it inside `atomically`. */
  readonly storeBackend: StoreBackend;
  /** Runs `work` so that its writes land all together or none: a chosen slot and the store it makes. */
  atomically<T>(work: () => T): T;
}

export interface ReplicaStatus {
  promised: Ballot;
  maxAccepted: Slot;
  chosenThrough: Slot;
  rev: number;
}

/** Outcomes kept per slot so that a proposer's repeated commit still gets its answer. */
const outcomeSlotsKept = 1024;

export class Replica {
  readonly store: Store;
  private readonly acceptor: Acceptor;
  private readonly learner: Learner;
  private readonly outcomes = new Map<Slot, MutationOutcome[]>();

  constructor(
    private readonly storage: ReplicaStorage,
    storeOptions: StoreOptions = {},
  ) {
    const backend = storage.storeBackend;
    this.store = new Store({ ...storeOptions, backend });
    // The store was saved with every slot it applied, so a restart reads no log.
    let applied: Slot = backend.appliedSlot();
    assert(
      applied > 0 || this.store.rev === 0,
      () => `replica: a store at rev ${this.store.rev} that applied no slot`,
    );
    // Replays whatever chosen slots follow the applied one. Slots are applied in the
    // transaction that records them, so this finds none, except once: an acceptor that ran
    // before the store was kept in storage has a log and an empty store, and rebuilds it
    // here (a migration), a page per transaction.
    for (;;) {
      const page = storage.readChosen(applied + 1, Number.MAX_SAFE_INTEGER, batchBytesMax * 4);
      let progressed = false;
      storage.atomically(() => {
        for (const [i, entry] of page.entries()) {
          assert(
            entry.slot > applied && (i === 0 || entry.slot > (page[i - 1]?.slot ?? 0)),
            () => `replica: storage read chosen slot ${entry.slot} out of order after slot ${applied}`,
          );
          if (entry.slot !== applied + 1) break;
          this.apply(entry);
          applied = entry.slot;
          progressed = true;
        }
      });
      if (!progressed || page.at(-1)?.slot !== applied) break;
    }
    this.learner = new Learner(applied);
    const above = storage.loadAccepted(applied);
    assert(
      above.every((e) => e.slot > applied),
      () => `replica: storage loaded an accepted entry at or below the applied slot ${applied}`,
    );
    this.acceptor = new Acceptor(storage, storage.loadPromise(), above);
    this.acceptor.forgetThrough(applied);
    // Chosen entries beyond a gap wait in the learner until the gap is fetched.
    const released = this.learner.learn(
      storage.readChosen(applied + 1, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER),
    );
    // The replay above stopped at the first gap, so nothing stored is next in line; were it, it would go unapplied.
    assert(released.length === 0, () => `replica: chosen slot ${applied + 1} was stored but not replayed`);
    assert(this.learner.chosenThrough === applied, "replica: the learner starts where the replay stopped");
  }

  get chosenThrough(): Slot {
    return this.learner.chosenThrough;
  }

  status(): ReplicaStatus {
    return {
      promised: this.acceptor.promised,
      maxAccepted: this.acceptor.maxAccepted,
      chosenThrough: this.learner.chosenThrough,
      rev: this.store.rev,
    };
  }

  prepare(message: Prepare): Promised | Rejected {
    return this.acceptor.prepare(message, this.learner.chosenThrough);
  }

  accept(message: Accept): Accepted | Rejected {
    return this.acceptor.accept(message);
  }

  commit(message: Commit): Committed<MutationOutcome> {
    const entries: LogEntry[] = [];
    for (const { slot, ballot, value } of message.entries) {
      if (slot <= this.learner.chosenThrough) continue;
      if (value) {
        entries.push({ slot, value });
        continue;
      }
      // Any value accepted at the choosing ballot or above is the chosen one (Paxos safety).
      const mine = this.acceptor.acceptedAt(slot);
      if (mine && compareBallots(mine.ballot, ballot) >= 0) entries.push({ slot, value: mine.value });
      else this.learner.expect(slot);
    }
    this.learn(entries);
    const reply: Committed<MutationOutcome> = {
      type: "committed",
      chosenThrough: this.learner.chosenThrough,
    };
    const results = message.outcomeSlot === undefined ? undefined : this.outcomes.get(message.outcomeSlot);
    if (message.outcomeSlot !== undefined && results) reply.outcome = { slot: message.outcomeSlot, results };
    return reply;
  }

  /** Serves a peer's catch-up. */
  fetch(message: Fetch): Fetched {
    return {
      type: "fetched",
      entries: this.storage.readChosen(message.fromSlot, message.toSlot, batchBytesMax * 4),
    };
  }

  /** Takes a peer's answer to `missing()`. */
  learn(entries: readonly LogEntry[]): void {
    const fresh = entries.filter((e) => e.slot > this.learner.chosenThrough);
    if (fresh.length === 0) return;
    // The slots and the store they make land together: a crash leaves both before, or both after.
    this.storage.atomically(() => {
      this.storage.saveChosen(fresh);
      for (const entry of this.learner.learn(fresh)) this.apply(entry);
    });
    this.acceptor.forgetThrough(this.learner.chosenThrough);
  }

  /** Notes that slots through `slot` exist, e.g. from a read barrier, so that `missing()` asks for them. */
  expect(slot: Slot): void {
    this.learner.expect(slot);
  }

  /** The range to fetch from a peer, if this replica knows it is behind. */
  missing(): Fetch | undefined {
    const range = this.learner.missing();
    return range && { type: "fetch", ...range };
  }

  private apply(entry: LogEntry): void {
    const outcomes = this.store.apply(decodeBatch(entry.value));
    this.storage.storeBackend.setAppliedSlot(entry.slot);
    this.outcomes.set(entry.slot, outcomes);
    this.outcomes.delete(entry.slot - outcomeSlotsKept);
  }
}
