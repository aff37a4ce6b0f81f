// A replica is what each acceptor Durable Object runs: the acceptor's votes,
// the learner's chosen log, and the store that the chosen log builds. The
// Durable Object and the simulator both drive this class; it does no I/O of
// its own beyond the synchronous storage it is handed.

import { assert } from "./assert";
import { batchBytesMax, logSlotsKeptDefault, logTrimRowsPerSlot } from "./limits";
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
import {
  progressAfter,
  readTransferChunk,
  type TransferCursor,
  type TransferReply,
  type TransferRequest,
  transferRequest,
} from "./state-transfer";
import { Store, type StoreOptions } from "./store";
import type { StoreBackend } from "./store-backend";
import { TransferPin } from "./transfer-pin";

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
  /** Deletes the rows at or below `throughSlot` (all chosen and applied), oldest first, at most `rowsMax` of them. */
  trimLog(throughSlot: Slot, rowsMax: number): void;
  /** Every slot at or below this one is gone from the log (0: none is). */
  logTrimmedThrough(): Slot;
  /**
   * Deletes every row at or below `slot`, chosen or only accepted, and records
   * the log as trimmed through it: a state transfer installed the store at `slot`.
   */
  dropLogThrough(slot: Slot): void;
  /** Runs `work` so that its writes land all together or none: a chosen slot and the store it makes. */
  atomically<T>(work: () => T): T;
}

export interface ReplicaStatus {
  promised: Ballot;
  maxAccepted: Slot;
  chosenThrough: Slot;
  rev: number;
  /** Slots at or below this one are gone from the log: a peer that needs them gets a state transfer. */
  logTrimmedThrough: Slot;
}

export interface ReplicaOptions extends StoreOptions {
  /** Chosen slots kept in the log below the applied one (default logSlotsKeptDefault). */
  logSlotsKept?: number;
  /** How long a state transfer's source keeps its pinned state without a chunk asked for (default transferPinIdleMs). */
  transferPinIdleMs?: number;
  /** Bounds of one transfer chunk this replica serves (default transferChunkBytesMax, transferChunkItemsMax); tests make them small. */
  transferChunkBytesMax?: number;
  transferChunkItemsMax?: number;
}

/** What a receiver does after a source's answer: ask for the next chunk, go on from the installed state, or start again. */
export type TransferProgress = "more" | "installed" | "restart";

/** Outcomes kept per slot so that a proposer's repeated commit still gets its answer. */
const outcomeSlotsKept = 1024;

export class Replica {
  private currentStore!: Store;
  private acceptor!: Acceptor;
  private learner!: Learner;
  private outcomes = new Map<Slot, MutationOutcome[]>();
  /** Slots at or below this one are gone from the log. */
  private trimmedThrough: Slot = 0;
  /** The slot of a transfer staged but not installed, if any. */
  private stagedSlot: Slot | undefined;
  private readonly logSlotsKept: number;
  private readonly storeOptions: StoreOptions;
  /** The state this replica keeps readable for peers that transfer it (transfer-pin.ts). */
  private readonly pin: TransferPin;
  private readonly chunkBounds: [bytesMax: number | undefined, itemsMax: number | undefined];

  constructor(
    private readonly storage: ReplicaStorage,
    options: ReplicaOptions = {},
  ) {
    const {
      logSlotsKept = logSlotsKeptDefault,
      transferPinIdleMs,
      transferChunkBytesMax,
      transferChunkItemsMax,
      ...storeOptions
    } = options;
    this.chunkBounds = [transferChunkBytesMax, transferChunkItemsMax];
    if (!Number.isSafeInteger(logSlotsKept) || logSlotsKept < 1) {
      throw new Error(`Replica: logSlotsKept must be a positive integer, not ${logSlotsKept}`);
    }
    this.logSlotsKept = logSlotsKept;
    this.storeOptions = storeOptions;
    this.pin = new TransferPin(transferPinIdleMs);
    this.load();
  }

  /** The store as the applied log made it; a state transfer replaces it (read it anew, do not keep it). */
  get store(): Store {
    return this.currentStore;
  }

  /** Builds the replica's memory from storage: at start, and after a state transfer replaced the store. */
  private load(): void {
    const storage = this.storage;
    const backend = storage.storeBackend;
    this.currentStore = new Store({ ...this.storeOptions, backend });
    this.outcomes = new Map();
    // The store was saved with every slot it applied, so a restart reads no log.
    let applied: Slot = backend.appliedSlot();
    assert(
      applied > 0 || this.store.rev === 0,
      () => `replica: a store at rev ${this.store.rev} that applied no slot`,
    );
    // Replays whatever chosen slots follow the applied one. Slots are applied in the
    // transaction that records them, so this finds none, except once: an acceptor that ran
    // before the store was kept in storage has a log and an empty store, and rebuilds it
    // here (a migration), a page per transaction. After a state transfer, it applies the
    // chosen slots this replica had stored above the installed one.
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
    this.trimmedThrough = storage.logTrimmedThrough();
    this.stagedSlot = backend.stagedTransfer()?.slot;
    storage.atomically(() => this.dropStagedBehind());
    assert(
      this.trimmedThrough <= applied,
      () =>
        `replica: the log is trimmed through slot ${this.trimmedThrough}, above the applied slot ${applied}`,
    );
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
      logTrimmedThrough: this.trimmedThrough,
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

  /** Serves a peer's catch-up; slots trimmed from the log it can only get by a state transfer. */
  fetch(message: Fetch): Fetched {
    if (message.fromSlot <= this.trimmedThrough) {
      return { type: "fetched", entries: [], trimmedThrough: this.trimmedThrough };
    }
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
      const released = this.learner.learn(fresh);
      for (const entry of released) this.apply(entry);
      if (released.length > 0) this.trimLog(released.length);
      this.dropStagedBehind();
    });
    this.acceptor.forgetThrough(this.learner.chosenThrough);
  }

  /**
   * Deletes log rows more than `logSlotsKept` below the applied slot, a few
   * per slot applied: amortized O(1) a slot, and no transaction is big. Only
   * chosen and applied slots go (their votes are no longer needed: phase 1
   * reports the chosen prefix, and nobody proposes into it), and none after
   * a pinned state, whose receivers go on from there by fetching slots.
   */
  private trimLog(slotsApplied: number): void {
    const target = Math.min(
      this.learner.chosenThrough - this.logSlotsKept,
      this.pin.state?.slot ?? Number.POSITIVE_INFINITY,
    );
    if (target <= this.trimmedThrough) return;
    this.storage.trimLog(target, logTrimRowsPerSlot * slotsApplied);
    const trimmed = this.storage.logTrimmedThrough();
    assert(
      trimmed >= this.trimmedThrough && trimmed <= target,
      () =>
        `replica: the log trimmed through ${trimmed}, asked through ${target} from ${this.trimmedThrough}`,
    );
    this.trimmedThrough = trimmed;
  }

  /**
   * Drops a staged transfer this replica no longer needs: it reached the
   * staged slot by fetching slots after all (a peer still kept them), so the
   * staged copy would only take space until the next transfer.
   */
  private dropStagedBehind(): void {
    if (this.stagedSlot === undefined || this.stagedSlot > this.learner.chosenThrough) return;
    this.storage.storeBackend.clearStaged();
    this.stagedSlot = undefined;
  }

  // --- State transfer (state-transfer.ts), source side ---

  /**
   * Answers a peer's request for a chunk of the store's state. The first
   * request of a transfer pins the state at the applied slot (or joins the
   * one pinned already); every chunk is read at the pinned rev.
   */
  transferChunk(request: TransferRequest, nowMs: number): TransferReply {
    this.tick(nowMs);
    const current = {
      slot: this.learner.chosenThrough,
      rev: this.store.rev,
      keeperTerm: this.store.keeperTerm,
      leaderTerm: this.store.leaderTerm.term,
      leader: this.store.leaderTerm.leader,
    };
    const answer = this.pin.answer(request, current, nowMs);
    if (answer.kind === "refuse") return { type: "transfer-refused", reason: answer.reason };
    const backend = this.storage.storeBackend;
    if (answer.taken) {
      // Sessions and outcomes have no history: copy them now, at the pinned slot.
      this.storage.atomically(() => backend.takeTransferSnapshot());
      this.store.holdHistoryFrom(answer.state.rev);
    }
    return readTransferChunk(backend, answer.state, request.cursor, ...this.chunkBounds);
  }

  /** Releases a pinned state no peer asked about for a while: the store forgets its history again. */
  tick(nowMs: number): void {
    if (this.pin.expire(nowMs)) this.releasePin();
  }

  /** True while a state is pinned for peers' transfers (the adapter then ticks now and then). */
  get pinned(): boolean {
    return this.pin.state !== undefined;
  }

  private releasePin(): void {
    this.pin.release();
    this.store.holdHistoryFrom(undefined);
    this.storage.atomically(() => this.storage.storeBackend.dropTransferSnapshot());
  }

  // --- State transfer, receiver side ---

  /** The next request: the one that resumes the staged transfer, or the first of a new one. */
  transferRequest(): TransferRequest {
    return transferRequest(this.storage.storeBackend.stagedTransfer(), this.learner.chosenThrough);
  }

  /**
   * Takes a source's answer to `transferRequest()`. A chunk is staged beside
   * the store, with the progress, in one transaction; the last one is staged
   * and installed in one: the store, the applied slot and the log through it
   * switch together, so a crash leaves the old store or the new one, never a
   * part. A refusal, or a chunk that does not continue what is staged, drops
   * the staged chunks: the transfer starts again.
   */
  takeTransferChunk(reply: TransferReply): TransferProgress {
    const backend = this.storage.storeBackend;
    const staged = backend.stagedTransfer();
    const asked = transferRequest(staged, this.learner.chosenThrough);
    const fits =
      reply.type === "transfer-chunk" &&
      reply.slot > this.learner.chosenThrough &&
      (asked.slot === undefined || asked.slot === reply.slot) &&
      sameCursor(asked.cursor, reply.cursor);
    if (!fits) {
      if (staged !== undefined) this.storage.atomically(() => backend.clearStaged());
      this.stagedSlot = undefined;
      return "restart";
    }
    const progress = progressAfter(staged, reply);
    let installed = false;
    this.storage.atomically(() => {
      backend.stage(progress, reply);
      if (progress.next !== undefined) return;
      backend.installStaged();
      // Its votes at or below the installed slot are forgotten: those slots are chosen.
      this.storage.dropLogThrough(progress.slot);
      installed = true;
    });
    if (!installed) {
      this.stagedSlot = progress.slot;
      return "more";
    }
    const expected = this.learner.expectedThrough;
    // A state it kept for its own peers described the store it just replaced.
    this.pin.release();
    this.load();
    assert(
      this.learner.chosenThrough >= progress.slot && this.store.rev >= progress.rev,
      () => `replica: installed slot ${progress.slot} but stands at ${this.learner.chosenThrough}`,
    );
    this.learner.expect(expected);
    return "installed";
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

function sameCursor(a: TransferCursor, b: TransferCursor): boolean {
  switch (a.part) {
    case "files":
      return b.part === "files" && b.afterPath === a.afterPath;
    case "sessions":
      return b.part === "sessions" && b.afterSession === a.afterSession;
    case "outcomes":
      return b.part === "outcomes" && b.afterIndex === a.afterIndex;
  }
}
