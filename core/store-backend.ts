// Where the store keeps its state. The store's rules (store.ts) run over this
// synchronous interface so that the same code serves the simulator, whose
// backend is in memory, and the acceptor, whose backend is SQLite in the same
// database, and the same transaction, as the chosen log: a replica that
// restarts then finds its store exactly at the slot it applied, and holds in
// memory only what it is reading at the moment.

import type { MutationOutcome } from "./mutation";
import type { TransferSource, TransferStaging } from "./state-transfer";
import type { Entry, PresentVersion, Version } from "./tree";

/** The tree with its recent past (see tree.ts for the rules each backend keeps). */
export interface TreeStore {
  /** What `path` is now, or undefined if nothing. */
  current(path: string): PresentVersion | undefined;
  /** What `path` was at `rev` (the caller keeps `rev` within the window), or undefined if nothing. */
  at(path: string, rev: number): PresentVersion | undefined;
  /** The number of entries directory `dir` holds now. */
  liveEntryCount(dir: string): number;
  /** The entries of directory `dir` at `rev` from the `offset`-th on, in bytewise order of name. */
  entriesAt(dir: string, rev: number, offset?: number): Iterable<Entry>;
  /** Makes `version` what `path` is from its rev on; the caller keeps a present path's parent a directory. */
  write(path: string, version: Version): void;
  /** Drops what no read at `oldest` or later can see; amortized O(1) per version written. */
  forgetBefore(oldest: number): void;
  /** Paths present at `rev` (within the window, or held) after `afterPath` in bytewise order, at most `limit`. */
  presentAt(rev: number, afterPath: string, limit: number): { path: string; version: PresentVersion }[];
  /** How much the tree holds, for tests that check history stays bounded. */
  debugSizes(): { paths: number; versions: number; pendingVersions: number };
}

/** A SET, or a DEL that removed a file (store.ts, StoreEvent). */
export interface StoredEvent {
  rev: number;
  path: string;
  op: "set" | "del";
  value: Uint8Array;
  session?: string;
}

/** The store's counters, saved after every batch it applies. */
export interface StoreCounters {
  rev: number;
  liveBytes: number;
  /** The session keeper's term in force (core/keeper-lease.ts). */
  keeperTerm: number;
  /** The leader's term in force (core/leader-term.ts; 0: the configured leader) and its acceptor's index. */
  leaderTerm: number;
  leader: number;
  /** The rev a state transfer installed the store at (0: never); no history before it. */
  historyFloor: number;
}

/** The store's state, and what a state transfer reads from it (source) and stages beside it (receiver). */
export interface StoreBackend extends TransferSource, TransferStaging {
  readonly tree: TreeStore;

  loadCounters(): StoreCounters;
  saveCounters(counters: StoreCounters): void;

  /** The Paxos slot whose batch the store holds last; 0 when it has applied none. */
  appliedSlot(): number;
  setAppliedSlot(slot: number): void;

  /** Appends an event; a set's value is the tree's version at the event's path and rev, which a backend may read back from there. */
  pushEvent(event: StoredEvent): void;
  /** The events with rev ≥ `fromRev`, oldest first; a backend may load each value only when it is read. */
  eventsFrom(fromRev: number): Iterable<StoredEvent>;
  /** Drops the events older than `oldest`. */
  forgetEventsBefore(oldest: number): void;
  eventCount(): number;

  /** The outcome remembered for a mutation id. */
  outcome(id: string): MutationOutcome | undefined;
  /**
   * A batch's mutation ids, before it applies: a backend may read their
   * outcomes in one go, answering `outcome` from them (and from what it
   * remembers meanwhile) until `endBatch`, and may defer the writes of the
   * batch until then; `completed` false: the batch failed part way and its
   * changes are being thrown away, so nothing deferred need be written.
   */
  startBatch?(ids: readonly string[]): void;
  endBatch?(completed: boolean): void;
  /** Remembers an outcome, then forgets the oldest ids beyond `idsMax`. */
  remember(id: string, outcome: MutationOutcome, idsMax: number): void;
  outcomeCount(): number;

  /** A live session's ttl, or undefined. */
  sessionTtlMs(session: string): number | undefined;
  openSession(session: string, ttlMs: number): void;
  /** Forgets the session (its files stay until the store deletes them). */
  endSession(session: string): void;
  /** The paths a live session owns, sorted bytewise. */
  sessionFiles(session: string): string[];
  addSessionFile(session: string, path: string): void;
  removeSessionFile(session: string, path: string): void;
  /** Live sessions sorted by id, paged. */
  sessionList(offset: number, limit: number): { session: string; ttlMs: number }[];
  sessionCount(): number;
}
