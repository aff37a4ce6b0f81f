// The store's state in memory: for the simulator and the core tests, where a
// "restart" keeps this object and throws the Replica away. Unbounded by
// design beyond the store's own limits; the acceptor uses SQLite instead.

import { RevList } from "./history";
import type { MutationOutcome } from "./mutation";
import type {
  StagedTransfer,
  TransferFile,
  TransferItems,
  TransferOutcome,
  TransferSession,
} from "./state-transfer";
import type { StoreBackend, StoreCounters, StoredEvent } from "./store-backend";
import { type PresentVersion, VersionedTree } from "./tree";

/** What a state transfer's receiver has staged so far, beside the store it will replace. */
interface Staging {
  progress: StagedTransfer;
  files: TransferFile[];
  sessions: TransferSession[];
  outcomes: TransferOutcome[];
}

export class MemoryStoreBackend implements StoreBackend {
  private currentTree = new VersionedTree();
  private counters: StoreCounters = {
    rev: 0,
    liveBytes: 0,
    keeperTerm: 0,
    leaderTerm: 0,
    leader: 0,
    historyFloor: 0,
  };
  private slot = 0;
  private events = new RevList<StoredEvent>();
  /** Oldest first: a Map keeps insertion order, so the first key is the one to forget. */
  private outcomesById = new Map<string, MutationOutcome>();
  private sessions = new Map<string, { ttlMs: number; files: Set<string> }>();
  /** A transfer source's copy of what is not versioned, taken with its pin. */
  private snapshot: { sessions: TransferSession[]; outcomes: TransferOutcome[] } | undefined;
  private staging: Staging | undefined;

  get tree(): VersionedTree {
    return this.currentTree;
  }

  loadCounters(): StoreCounters {
    return { ...this.counters };
  }

  saveCounters(counters: StoreCounters): void {
    this.counters = { ...counters };
  }

  appliedSlot(): number {
    return this.slot;
  }

  setAppliedSlot(slot: number): void {
    this.slot = slot;
  }

  pushEvent(event: StoredEvent): void {
    this.events.push(event);
  }

  *eventsFrom(fromRev: number): Generator<StoredEvent> {
    // By index, not a copy: WAIT looks at the first few events after its rev, over and over.
    for (let index = this.events.firstIndexFrom(fromRev); index < this.events.length; index++) {
      yield this.events.at(index) as StoredEvent;
    }
  }

  forgetEventsBefore(oldest: number): void {
    this.events.dropFirst(this.events.firstIndexFrom(oldest));
  }

  eventCount(): number {
    return this.events.length;
  }

  outcome(id: string): MutationOutcome | undefined {
    return this.outcomesById.get(id);
  }

  remember(id: string, outcome: MutationOutcome, idsMax: number): void {
    this.outcomesById.set(id, outcome);
    while (this.outcomesById.size > idsMax) {
      const oldest = this.outcomesById.keys().next();
      if (oldest.done) break;
      this.outcomesById.delete(oldest.value);
    }
  }

  outcomeCount(): number {
    return this.outcomesById.size;
  }

  sessionTtlMs(session: string): number | undefined {
    return this.sessions.get(session)?.ttlMs;
  }

  openSession(session: string, ttlMs: number): void {
    this.sessions.set(session, { ttlMs, files: new Set() });
  }

  endSession(session: string): void {
    this.sessions.delete(session);
  }

  sessionFiles(session: string): string[] {
    return [...(this.sessions.get(session)?.files ?? [])].sort();
  }

  addSessionFile(session: string, path: string): void {
    this.sessions.get(session)?.files.add(path);
  }

  removeSessionFile(session: string, path: string): void {
    this.sessions.get(session)?.files.delete(path);
  }

  sessionList(offset: number, limit: number): { session: string; ttlMs: number }[] {
    const ids = [...this.sessions.keys()].sort().slice(offset, offset + limit);
    return ids.map((session) => ({ session, ttlMs: this.sessions.get(session)?.ttlMs ?? 0 }));
  }

  sessionCount(): number {
    return this.sessions.size;
  }

  // --- State transfer, source side ---

  takeTransferSnapshot(): void {
    const sessions = [...this.sessions].map(([session, { ttlMs }]) => ({ session, ttlMs }));
    sessions.sort((a, b) => (a.session < b.session ? -1 : 1));
    const outcomes = [...this.outcomesById].map(([id, outcome], i) => ({ index: i + 1, id, outcome }));
    this.snapshot = { sessions, outcomes };
  }

  dropTransferSnapshot(): void {
    this.snapshot = undefined;
  }

  presentAt(rev: number, afterPath: string, limit: number): { path: string; version: PresentVersion }[] {
    return this.currentTree.presentAt(rev, afterPath, limit);
  }

  snapshotSessions(afterSession: string, limit: number): TransferSession[] {
    const sessions = this.snapshotTaken().sessions;
    return sessions.filter((s) => s.session > afterSession).slice(0, limit);
  }

  snapshotOutcomes(afterIndex: number, limit: number): TransferOutcome[] {
    return this.snapshotTaken().outcomes.slice(afterIndex, afterIndex + limit);
  }

  private snapshotTaken(): { sessions: TransferSession[]; outcomes: TransferOutcome[] } {
    if (this.snapshot === undefined) throw new Error("MemoryStoreBackend: no transfer snapshot taken");
    return this.snapshot;
  }

  // --- State transfer, receiver side ---

  stagedTransfer(): StagedTransfer | undefined {
    return this.staging && { ...this.staging.progress };
  }

  stage(progress: StagedTransfer, items: TransferItems): void {
    this.staging ??= { progress, files: [], sessions: [], outcomes: [] };
    this.staging.progress = { ...progress };
    this.staging.files.push(...items.files);
    this.staging.sessions.push(...items.sessions);
    this.staging.outcomes.push(...items.outcomes);
  }

  clearStaged(): void {
    this.staging = undefined;
  }

  installStaged(): void {
    const staging = this.staging;
    if (staging === undefined) throw new Error("MemoryStoreBackend: nothing staged to install");
    const { slot, rev, liveBytes, keeperTerm, leaderTerm, leader } = staging.progress;
    const tree = new VersionedTree();
    const sessions = new Map<string, { ttlMs: number; files: Set<string> }>();
    for (const { session, ttlMs } of staging.sessions) sessions.set(session, { ttlMs, files: new Set() });
    for (const file of staging.files) {
      if (file.kind === "dir") {
        tree.restore(file.path, { rev: file.rev, kind: "dir" });
        continue;
      }
      const { path, value, session } = file;
      const base = { rev: file.rev, kind: "file" as const, size: value.length, value };
      tree.restore(path, session === undefined ? base : { ...base, session });
      // A file names its owner, and only a live session owns files: this is the session's file list.
      if (session !== undefined) sessions.get(session)?.files.add(path);
    }
    this.currentTree = tree;
    this.sessions = sessions;
    this.outcomesById = new Map(staging.outcomes.map(({ id, outcome }) => [id, outcome]));
    this.events = new RevList<StoredEvent>();
    this.counters = {
      rev,
      liveBytes,
      keeperTerm: keeperTerm ?? 0,
      leaderTerm: leaderTerm ?? 0,
      leader: leader ?? 0,
      historyFloor: rev,
    };
    this.slot = slot;
    this.snapshot = undefined;
    this.staging = undefined;
  }
}
