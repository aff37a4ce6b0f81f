// The store's state in memory: for the simulator and the core tests, where a
// "restart" keeps this object and throws the Replica away. Unbounded by
// design beyond the store's own limits; the acceptor uses SQLite instead.

import { RevList } from "./history";
import type { MutationOutcome } from "./mutation";
import type { StoreBackend, StoreCounters, StoredEvent } from "./store-backend";
import { VersionedTree } from "./tree";

export class MemoryStoreBackend implements StoreBackend {
  readonly tree = new VersionedTree();
  private counters: StoreCounters = { rev: 0, liveBytes: 0, keeperTerm: 0 };
  private slot = 0;
  private readonly events = new RevList<StoredEvent>();
  /** Oldest first: a Map keeps insertion order, so the first key is the one to forget. */
  private readonly outcomesById = new Map<string, MutationOutcome>();
  private readonly sessions = new Map<string, { ttlMs: number; files: Set<string> }>();

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
}
