// A replica's durable storage held in memory: it survives a simulated crash
// because the simulator keeps it while it throws the Replica object away.

import { MemoryStoreBackend } from "../../core/memory-store-backend";
import { type Ballot, zeroBallot } from "../../core/paxos/ballot";
import type { AcceptedEntry, LogEntry, Slot } from "../../core/paxos/messages";
import type { ReplicaStorage } from "../../core/replica";

interface Row {
  ballot?: Ballot;
  value: Uint8Array;
  chosen: boolean;
}

export class MemoryStorage implements ReplicaStorage {
  promised: Ballot = zeroBallot;
  readonly rows = new Map<Slot, Row>();
  writes = 0;
  trimmedThrough: Slot = 0;
  /** Kept across a simulated crash like the log, so a restarted replica replays nothing. */
  readonly storeBackend = new MemoryStoreBackend();

  /** Nothing here can fail halfway, so there is nothing to roll back. */
  atomically<T>(work: () => T): T {
    return work();
  }

  loadPromise(): Ballot {
    return this.promised;
  }

  loadAccepted(aboveSlot: Slot): AcceptedEntry[] {
    const out: AcceptedEntry[] = [];
    for (const [slot, row] of this.rows) {
      if (slot > aboveSlot && row.ballot) out.push({ slot, ballot: row.ballot, value: row.value });
    }
    return out.sort((a, b) => a.slot - b.slot);
  }

  savePromise(promised: Ballot): void {
    this.writes++;
    this.promised = promised;
  }

  saveAccepted(promised: Ballot, entries: readonly AcceptedEntry[]): void {
    this.writes++;
    this.promised = promised;
    for (const e of entries) {
      const row = this.rows.get(e.slot);
      if (row?.chosen) row.ballot = e.ballot;
      else this.rows.set(e.slot, { ballot: e.ballot, value: e.value, chosen: false });
    }
  }

  saveChosen(entries: readonly LogEntry[]): void {
    this.writes++;
    for (const e of entries) {
      const row = this.rows.get(e.slot);
      this.rows.set(e.slot, { ballot: row?.ballot, value: e.value, chosen: true });
    }
  }

  readChosen(fromSlot: Slot, toSlot: Slot, bytesMax: number): LogEntry[] {
    const out: LogEntry[] = [];
    let bytes = 0;
    const slots = [...this.rows.keys()].filter((s) => s >= fromSlot && s <= toSlot).sort((a, b) => a - b);
    for (const slot of slots) {
      const row = this.rows.get(slot);
      if (!row?.chosen) continue;
      if (out.length > 0 && bytes + row.value.length > bytesMax) break;
      out.push({ slot, value: row.value });
      bytes += row.value.length;
    }
    return out;
  }

  trimLog(throughSlot: Slot, rowsMax: number): void {
    const slots = [...this.rows.keys()].filter((s) => s <= throughSlot).sort((a, b) => a - b);
    for (const slot of slots.slice(0, rowsMax)) this.rows.delete(slot);
    // Rows go oldest first, so every slot below the first one left is gone.
    const left = slots[rowsMax];
    const trimmed = left === undefined ? throughSlot : left - 1;
    this.trimmedThrough = Math.max(this.trimmedThrough, trimmed);
  }

  logTrimmedThrough(): Slot {
    return this.trimmedThrough;
  }

  dropLogThrough(slot: Slot): void {
    for (const key of [...this.rows.keys()]) if (key <= slot) this.rows.delete(key);
    this.trimmedThrough = Math.max(this.trimmedThrough, slot);
  }
}
