// The replica's durable storage on a SQLite-backed Durable Object. Every method
// is synchronous and its writes land in one transaction; the Durable Object's
// output gate then holds the answer until they are durable.

import type { Ballot } from "../core/paxos/ballot";
import type { AcceptedEntry, LogEntry, Slot } from "../core/paxos/messages";
import type { ReplicaStorage } from "../core/replica";
import { SqliteStoreBackend } from "./sqlite-store-backend";

export class SqliteStorage implements ReplicaStorage {
  /** Storage writes since start, for the benchmarks' "storage writes per write". */
  writes = 0;
  readonly storeBackend: SqliteStoreBackend;
  /** Set inside a transaction, so that a nested one joins it rather than opening another. */
  private inTransaction = false;
  /**
   * The meta rows read or written since start (undefined: known to be
   * missing), so that an accept does not write the promise it holds already,
   * nor a trim read the trimmed slot. Every meta write goes through setMeta;
   * a transaction that throws empties it, since its writes rolled back.
   */
  private readonly metaKnown = new Map<string, string | undefined>();

  constructor(private readonly storage: DurableObjectStorage) {
    storage.sql.exec(`CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`);
    storage.sql.exec(`CREATE TABLE IF NOT EXISTS log (
      slot INTEGER PRIMARY KEY,
      ballot_round INTEGER,
      ballot_proposer TEXT,
      value BLOB NOT NULL,
      chosen INTEGER NOT NULL DEFAULT 0
    )`);
    this.storeBackend = new SqliteStoreBackend(storage.sql);
  }

  atomically<T>(work: () => T): T {
    if (this.inTransaction) return work();
    this.inTransaction = true;
    try {
      return this.storage.transactionSync(work);
    } catch (error) {
      this.metaKnown.clear();
      throw error;
    } finally {
      this.inTransaction = false;
    }
  }

  loadPromise(): Ballot {
    const row = this.storage.sql
      .exec<{ value: string }>(`SELECT value FROM meta WHERE key = 'promised'`)
      .toArray()[0];
    return row ? (JSON.parse(row.value) as Ballot) : { round: 0, proposer: "" };
  }

  loadAccepted(aboveSlot: Slot): AcceptedEntry[] {
    return this.storage.sql
      .exec<{ slot: number; ballot_round: number; ballot_proposer: string; value: ArrayBuffer }>(
        `SELECT slot, ballot_round, ballot_proposer, value FROM log
         WHERE slot > ? AND ballot_round IS NOT NULL ORDER BY slot`,
        aboveSlot,
      )
      .toArray()
      .map((r) => ({
        slot: r.slot,
        ballot: { round: r.ballot_round, proposer: r.ballot_proposer },
        value: new Uint8Array(r.value),
      }));
  }

  savePromise(promised: Ballot): void {
    this.writes++;
    this.writePromise(promised);
  }

  saveAccepted(promised: Ballot, entries: readonly AcceptedEntry[]): void {
    this.writes++;
    this.atomically(() => {
      this.writePromise(promised);
      for (const e of entries) {
        // A chosen row keeps its chosen value: by Paxos safety any later accept carries the same one.
        this.storage.sql.exec(
          `INSERT INTO log (slot, ballot_round, ballot_proposer, value, chosen) VALUES (?, ?, ?, ?, 0)
           ON CONFLICT (slot) DO UPDATE SET ballot_round = excluded.ballot_round,
             ballot_proposer = excluded.ballot_proposer,
             value = CASE WHEN log.chosen = 1 THEN log.value ELSE excluded.value END`,
          e.slot,
          e.ballot.round,
          e.ballot.proposer,
          e.value,
        );
      }
    });
  }

  saveChosen(entries: readonly LogEntry[]): void {
    this.writes++;
    this.atomically(() => {
      for (const e of entries) {
        this.storage.sql.exec(
          `INSERT INTO log (slot, value, chosen) VALUES (?, ?, 1)
           ON CONFLICT (slot) DO UPDATE SET value = excluded.value, chosen = 1`,
          e.slot,
          e.value,
        );
      }
    });
  }

  readChosen(fromSlot: Slot, toSlot: Slot, bytesMax: number): LogEntry[] {
    const out: LogEntry[] = [];
    let bytes = 0;
    const cursor = this.storage.sql.exec<{ slot: number; value: ArrayBuffer }>(
      `SELECT slot, value FROM log WHERE chosen = 1 AND slot >= ? AND slot <= ? ORDER BY slot`,
      fromSlot,
      toSlot,
    );
    for (const row of cursor) {
      if (out.length > 0 && bytes + row.value.byteLength > bytesMax) break;
      out.push({ slot: row.slot, value: new Uint8Array(row.value) });
      bytes += row.value.byteLength;
    }
    return out;
  }

  trimLog(throughSlot: Slot, rowsMax: number): void {
    this.atomically(() => {
      this.storage.sql.exec(
        `DELETE FROM log WHERE slot IN (SELECT slot FROM log WHERE slot <= ? ORDER BY slot LIMIT ?)`,
        throughSlot,
        rowsMax,
      );
      // Rows go oldest first, so every slot below the first one left is gone.
      const first = this.storage.sql
        .exec<{ slot: number | null }>(`SELECT min(slot) AS slot FROM log`)
        .toArray()[0]?.slot;
      const trimmed = first === null || first === undefined ? throughSlot : Math.min(throughSlot, first - 1);
      if (trimmed > this.logTrimmedThrough()) this.setMeta("log_trimmed_through", String(trimmed));
    });
  }

  logTrimmedThrough(): Slot {
    return Number(this.getMeta("log_trimmed_through") ?? 0);
  }

  dropLogThrough(slot: Slot): void {
    this.atomically(() => {
      this.storage.sql.exec(`DELETE FROM log WHERE slot <= ?`, slot);
      if (slot > this.logTrimmedThrough()) this.setMeta("log_trimmed_through", String(slot));
    });
  }

  getMeta(key: string): string | undefined {
    if (this.metaKnown.has(key)) return this.metaKnown.get(key);
    const value = this.storage.sql
      .exec<{ value: string }>(`SELECT value FROM meta WHERE key = ?`, key)
      .toArray()[0]?.value;
    this.metaKnown.set(key, value);
    return value;
  }

  setMeta(key: string, value: string): void {
    if (this.metaKnown.has(key) && this.metaKnown.get(key) === value) return;
    this.storage.sql.exec(
      `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      key,
      value,
    );
    this.metaKnown.set(key, value);
  }

  private writePromise(promised: Ballot): void {
    this.setMeta("promised", JSON.stringify(promised));
  }
}
