// The store's state in the acceptor's SQLite database, beside the Paxos log.
// The replica applies a chosen slot inside the transaction that records it
// (sqlite-storage.ts, `atomically`), so the store on disk is always the store
// at the applied slot: a restart loads nothing, and memory holds only the
// rows being read plus a byte-bounded cache of values.
//
// The tables mirror tree.ts's VersionedTree: a row per path with a history
// (present now, or at some rev in the window), a row per version, and the
// queue of versions written, which forgetBefore consumes as the window moves.

import { assert } from "../core/assert";
import { storeValueCacheBytesMax } from "../core/limits";
import type { MutationOutcome } from "../core/mutation";
import { joinPath, nameOf, parentOf, rootPath } from "../core/path";
import type { StagedTransfer, TransferItems, TransferOutcome, TransferSession } from "../core/state-transfer";
import type { StoreBackend, StoreCounters, StoredEvent, TreeStore } from "../core/store-backend";
import type { Entry, FileVersion, PresentVersion, Version } from "../core/tree";

type SqlValue = string | number | null | ArrayBuffer | Uint8Array;

/** The part of the Durable Object's `SqlStorage` this file uses; tests hand in node:sqlite behind the same shape. */
export interface SqlExec {
  exec(query: string, ...bindings: SqlValue[]): { toArray(): Record<string, unknown>[] };
}

const kindCodes = { none: 0, file: 1, dir: 2 } as const;
const opCodes = { set: 1, del: 2 } as const;
/** Names read per query while listing a directory, so that a large one is never loaded whole. */
const namesPageSize = 256;
/** Values one statement may bind: a Durable Object's limit. */
const boundValuesMax = 100;
/** Mutation ids per query when a batch's outcomes are read at once. */
const outcomesPerQuery = 64;
const outcomeColumns = ["seq", "id", "outcome"] as const;
const eventColumns = ["rev", "path", "op", "session"] as const;
/** Rows of the queue of versions written read ahead per query, for forgetBefore. */
const writtenPageSize = 64;
/** Paths whose newest version (or whose having none) is kept in memory; each costs about a row's bytes. */
const latestRowsMax = 4_096;

/** A version's row without its value. */
interface VersionRow {
  rev: number;
  kind: number;
  size: number;
  session: string | null;
}

/** A row of the queue of versions written. */
interface WrittenRow {
  seq: number;
  rev: number;
  path: string;
}

const schema = [
  `CREATE TABLE IF NOT EXISTS store_state (key TEXT PRIMARY KEY, value INTEGER NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS store_paths (
     path TEXT PRIMARY KEY, parent TEXT NOT NULL, name TEXT NOT NULL, live_children INTEGER NOT NULL)`,
  `CREATE INDEX IF NOT EXISTS store_paths_by_parent ON store_paths (parent, name)`,
  `CREATE TABLE IF NOT EXISTS store_versions (
     path TEXT NOT NULL, rev INTEGER NOT NULL, kind INTEGER NOT NULL, size INTEGER NOT NULL,
     value BLOB, session TEXT, PRIMARY KEY (path, rev))`,
  `CREATE TABLE IF NOT EXISTS store_written (seq INTEGER PRIMARY KEY, rev INTEGER NOT NULL, path TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS store_events (rev INTEGER PRIMARY KEY, path TEXT NOT NULL, op INTEGER NOT NULL, session TEXT)`,
  `CREATE TABLE IF NOT EXISTS store_outcomes (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, outcome TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS store_sessions (session TEXT PRIMARY KEY, ttl_ms INTEGER NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS store_session_files (session TEXT NOT NULL, path TEXT NOT NULL, PRIMARY KEY (session, path))`,
  // A state transfer's source: the sessions and outcomes as they were when its pin was taken.
  `CREATE TABLE IF NOT EXISTS transfer_source_sessions (session TEXT PRIMARY KEY, ttl_ms INTEGER NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS transfer_source_outcomes (idx INTEGER PRIMARY KEY, id TEXT NOT NULL, outcome TEXT NOT NULL)`,
  // A state transfer's receiver: the chunks staged so far, and where the next one starts.
  `CREATE TABLE IF NOT EXISTS transfer_staged_progress (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS transfer_staged_paths (
     path TEXT PRIMARY KEY, parent TEXT NOT NULL, name TEXT NOT NULL, rev INTEGER NOT NULL,
     kind INTEGER NOT NULL, size INTEGER NOT NULL, value BLOB, session TEXT)`,
  `CREATE TABLE IF NOT EXISTS transfer_staged_sessions (session TEXT PRIMARY KEY, ttl_ms INTEGER NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS transfer_staged_outcomes (idx INTEGER PRIMARY KEY, id TEXT NOT NULL, outcome TEXT NOT NULL)`,
];

/** The staging tables of a transfer's receiver: emptied when a transfer starts again and once it is installed. */
const stagedTables = [
  "transfer_staged_progress",
  "transfer_staged_paths",
  "transfer_staged_sessions",
  "transfer_staged_outcomes",
] as const;

/** The tables this backend owns, for a reset before a state transfer and for the benchmark's row counts. */
export const storeTables = [
  "store_state",
  "store_paths",
  "store_versions",
  "store_written",
  "store_events",
  "store_outcomes",
  "store_sessions",
  "store_session_files",
] as const;

function bytesOf(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  // SQLite hands an empty blob back as null on some hosts.
  if (value === null || value === undefined) return new Uint8Array(0);
  throw new Error(`sqlite store: expected a blob, got ${typeof value}`);
}

/** What an entry of the cache costs beyond its value's bytes: its key and the Map's own entry, roughly. */
const cacheEntryOverheadBytes = 256;

/**
 * Values by (path, rev), least recently used first out, bounded by their
 * bytes plus a cost per entry (else a million tiny values would fit). A version's value
 * never changes once written (a rolled-back apply is redone from the same
 * chosen slot, giving the same value), so an entry is never stale.
 */
export class ValueCache {
  private readonly entries = new Map<string, Uint8Array>();
  private bytes = 0;

  constructor(private readonly bytesMax: number) {}

  /** What the cache counts against its bound now. */
  get costBytes(): number {
    return this.bytes;
  }

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }

  get(key: string): Uint8Array | undefined {
    const value = this.entries.get(key);
    if (value !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, value);
    }
    return value;
  }

  put(key: string, value: Uint8Array): void {
    if (cost(key, value) > this.bytesMax || this.entries.has(key)) return;
    this.entries.set(key, value);
    this.bytes += cost(key, value);
    for (const [oldKey, old] of this.entries) {
      if (this.bytes <= this.bytesMax) break;
      this.entries.delete(oldKey);
      this.bytes -= cost(oldKey, old);
    }
  }
}

function cost(key: string, value: Uint8Array): number {
  return value.length + key.length * 2 + cacheEntryOverheadBytes;
}

class SqliteTree implements TreeStore {
  /**
   * No tree write is at a rev above this one. It may be above the newest
   * write (entriesAt then takes its slower path), never below: at load it is
   * the larger of tree_latest_rev and the store's rev. tree_latest_rev is
   * saved once a batch (saveCounters), not with every write, and stays exact
   * for a version of this file that reads it alone.
   */
  latestRev: number;
  /**
   * Each path's newest version row, or null for a path with no history: the
   * apply of a write reads it several times (the check, the write, the
   * parent's), and forgetBefore once more. Memory follows SQLite because a
   * failed apply ends the object (acceptor-object.ts, `applying`), so no
   * rolled-back row outlives its transaction here.
   */
  private readonly latestRows = new Map<string, VersionRow | null>();
  /** Directories' live_children as read or written, kept the same way: a new file's check reads its parent's. */
  private readonly liveChildren = new Map<string, number>();
  /** The front of store_written, read ahead; rows taken from it are deleted before the next read. */
  private written: WrittenRow[] = [];
  private writtenNext = 0;

  constructor(
    private readonly sql: SqlExec,
    backend: SqliteStoreBackend,
    private readonly cache: ValueCache,
  ) {
    this.latestRev = Math.max(backend.stateValue("tree_latest_rev"), backend.stateValue("rev"));
  }

  current(path: string): PresentVersion | undefined {
    return this.present(this.lastVersionRow(path, Number.MAX_SAFE_INTEGER), path);
  }

  at(path: string, rev: number): PresentVersion | undefined {
    return this.present(this.lastVersionRow(path, rev), path);
  }

  liveEntryCount(dir: string): number {
    const known = this.liveChildren.get(dir);
    if (known !== undefined) return known;
    const row = this.sql.exec(`SELECT live_children FROM store_paths WHERE path = ?`, dir).toArray()[0];
    const count = row === undefined ? 0 : (row.live_children as number);
    keepBounded(this.liveChildren, dir, count);
    return count;
  }

  *entriesAt(dir: string, rev: number, offset = 0): Generator<Entry> {
    const row = this.sql
      .exec(
        `SELECT live_children, (SELECT count(*) FROM store_paths WHERE parent = ?1) AS names
         FROM store_paths WHERE path = ?1`,
        dir,
      )
      .toArray()[0];
    if (row === undefined) return;
    let toSkip = offset;
    let after: string | undefined;
    // When every name is present, the offset-th entry is the offset-th name (tree.ts does the same).
    if (rev >= this.latestRev && row.live_children === row.names && offset > 0) {
      const before = this.sql
        .exec(`SELECT name FROM store_paths WHERE parent = ? ORDER BY name LIMIT 1 OFFSET ?`, dir, offset - 1)
        .toArray()[0];
      if (before === undefined) return;
      after = before.name as string;
      toSkip = 0;
    }
    for (;;) {
      const names = (
        after === undefined
          ? this.sql.exec(
              `SELECT name FROM store_paths WHERE parent = ? ORDER BY name LIMIT ?`,
              dir,
              namesPageSize,
            )
          : this.sql.exec(
              `SELECT name FROM store_paths WHERE parent = ? AND name > ? ORDER BY name LIMIT ?`,
              dir,
              after,
              namesPageSize,
            )
      )
        .toArray()
        .map((r) => r.name as string);
      for (const name of names) {
        const path = joinPath(dir, name);
        const version = this.at(path, rev);
        if (version === undefined) continue;
        if (toSkip > 0) toSkip--;
        else yield { name, path, version };
      }
      if (names.length < namesPageSize) return;
      after = names[names.length - 1];
    }
  }

  write(path: string, version: Version): void {
    if (path === rootPath) throw new Error("SqliteTree.write: the root is never written");
    const parent = parentOf(path);
    const last = this.latestRow(path) ?? undefined;
    // A path with history has a parent with history: a parent is dropped only after its children.
    if (last === undefined) {
      if (!this.hasHistory(parent)) throw new Error(`SqliteTree.write: ${path} has no parent history`);
      this.sql.exec(
        `INSERT INTO store_paths (path, parent, name, live_children) VALUES (?, ?, ?, 0)`,
        path,
        parent,
        nameOf(path),
      );
    }
    assert(
      last === undefined || (last.rev as number) <= version.rev,
      () => `sqlite store: ${path} written at rev ${version.rev} after rev ${last?.rev}`,
    );
    const wasPresent = last !== undefined && last.kind !== kindCodes.none;
    const session = version.kind === "file" ? (version.session ?? null) : null;
    if (version.kind === "file") {
      this.sql.exec(
        `INSERT INTO store_versions (path, rev, kind, size, value, session) VALUES (?, ?, ?, ?, ?, ?)`,
        path,
        version.rev,
        kindCodes.file,
        version.size,
        version.value,
        session,
      );
      this.cache.put(cacheKey(path, version.rev), version.value);
    } else {
      this.sql.exec(
        `INSERT INTO store_versions (path, rev, kind, size) VALUES (?, ?, ?, 0)`,
        path,
        version.rev,
        kindCodes[version.kind],
      );
    }
    this.sql.exec(`INSERT INTO store_written (rev, path) VALUES (?, ?)`, version.rev, path);
    this.setLatestRow(path, {
      rev: version.rev,
      kind: kindCodes[version.kind],
      size: version.kind === "file" ? version.size : 0,
      session,
    });
    if (version.rev > this.latestRev) this.latestRev = version.rev;
    const isPresent = version.kind !== "none";
    if (wasPresent !== isPresent) {
      this.sql.exec(
        `UPDATE store_paths SET live_children = live_children + ? WHERE path = ?`,
        isPresent ? 1 : -1,
        parent,
      );
      const count = this.liveChildren.get(parent);
      if (count !== undefined) keepBounded(this.liveChildren, parent, count + (isPresent ? 1 : -1));
    }
  }

  forgetBefore(oldest: number): void {
    let taken: number | undefined;
    for (;;) {
      if (this.writtenNext === this.written.length) {
        // The rows taken go before the next read, which starts at the front again.
        if (taken !== undefined) this.sql.exec(`DELETE FROM store_written WHERE seq <= ?`, taken);
        taken = undefined;
        this.written = this.sql
          .exec(`SELECT seq, rev, path FROM store_written ORDER BY seq LIMIT ?`, writtenPageSize)
          .toArray() as unknown as WrittenRow[];
        this.writtenNext = 0;
      }
      const next = this.written[this.writtenNext];
      if (next === undefined || next.rev > oldest) break;
      this.writtenNext++;
      taken = next.seq;
      this.forgetPathBefore(next.path, oldest);
    }
    if (taken !== undefined) this.sql.exec(`DELETE FROM store_written WHERE seq <= ?`, taken);
  }

  presentAt(rev: number, afterPath: string, limit: number): { path: string; version: PresentVersion }[] {
    // Each path's version in force at `rev`, by the primary key's order; values load when read.
    const rows = this.sql
      .exec(
        `SELECT p.path AS path, v.rev AS rev, v.kind AS kind, v.size AS size, v.session AS session
         FROM store_paths p JOIN store_versions v ON v.path = p.path
           AND v.rev = (SELECT max(w.rev) FROM store_versions w WHERE w.path = p.path AND w.rev <= ?)
         WHERE p.path > ? AND p.path != ? AND v.kind != ? ORDER BY p.path LIMIT ?`,
        rev,
        afterPath,
        rootPath,
        kindCodes.none,
        limit,
      )
      .toArray();
    return rows.map((row) => {
      const path = row.path as string;
      return { path, version: this.present(row, path) as PresentVersion };
    });
  }

  /** A state transfer replaced the tables: the newest rev is the installed one, and cached values may be of the old store. */
  installed(rev: number): void {
    this.latestRev = rev;
    this.cache.clear();
    this.latestRows.clear();
    this.liveChildren.clear();
    this.written = [];
    this.writtenNext = 0;
  }

  debugSizes(): { paths: number; versions: number; pendingVersions: number } {
    return {
      paths: this.count("store_paths"),
      versions: this.count("store_versions"),
      pendingVersions: this.count("store_written"),
    };
  }

  /** Loads a file version's value, from the cache or from its row; the version must still be kept. */
  valueOf(path: string, rev: number): Uint8Array {
    const key = cacheKey(path, rev);
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached;
    const row = this.sql
      .exec(
        `SELECT value FROM store_versions WHERE path = ? AND rev = ? AND kind = ?`,
        path,
        rev,
        kindCodes.file,
      )
      .toArray()[0];
    assert(row !== undefined, () => `sqlite store: the value of ${path} at rev ${rev} is gone`);
    // A copy: a host may reuse the buffer it returned.
    const value = bytesOf(row.value).slice();
    this.cache.put(key, value);
    return value;
  }

  /** Drops the versions of `path` that no read at `oldest` or later sees, and the path once it has none. */
  private forgetPathBefore(path: string, oldest: number): void {
    const latest = this.latestRow(path);
    if (latest === null) return; // already dropped on an earlier version's turn
    if (latest.rev > oldest) {
      // The version in force at `oldest` stays, and every one after it.
      this.sql.exec(
        `DELETE FROM store_versions WHERE path = ?1
           AND rev < (SELECT max(rev) FROM store_versions WHERE path = ?1 AND rev <= ?2)`,
        path,
        oldest,
      );
      return;
    }
    if (latest.kind !== kindCodes.none) {
      this.sql.exec(`DELETE FROM store_versions WHERE path = ? AND rev < ?`, path, latest.rev);
      return;
    }
    // Absent since before `oldest`: the path goes. A child is absent whenever its parent is,
    // and its last version was queued no later, so it is gone already.
    const child = this.sql.exec(`SELECT 1 FROM store_paths WHERE parent = ? LIMIT 1`, path).toArray();
    assert(child.length === 0, () => `sqlite store: dropping ${path} before its children`);
    this.sql.exec(`DELETE FROM store_versions WHERE path = ?`, path);
    this.sql.exec(`DELETE FROM store_paths WHERE path = ?`, path);
    this.setLatestRow(path, null);
    this.liveChildren.delete(path);
  }

  private hasHistory(path: string): boolean {
    return this.latestRow(path) !== null;
  }

  /** The newest version row of `path`, or null when it has no history. */
  private latestRow(path: string): VersionRow | null {
    const known = this.latestRows.get(path);
    if (known !== undefined) return known;
    const row = this.sql
      .exec(
        `SELECT rev, kind, size, session FROM store_versions WHERE path = ? ORDER BY rev DESC LIMIT 1`,
        path,
      )
      .toArray()[0] as unknown as VersionRow | undefined;
    const latest =
      row === undefined ? null : { rev: row.rev, kind: row.kind, size: row.size, session: row.session };
    this.setLatestRow(path, latest);
    return latest;
  }

  private setLatestRow(path: string, row: VersionRow | null): void {
    keepBounded(this.latestRows, path, row);
  }

  private lastVersionRow(path: string, atRev: number): VersionRow | undefined {
    const latest = this.latestRow(path);
    if (latest === null) return undefined;
    if (latest.rev <= atRev) return latest;
    return this.sql
      .exec(
        `SELECT rev, kind, size, session FROM store_versions WHERE path = ? AND rev <= ? ORDER BY rev DESC LIMIT 1`,
        path,
        atRev,
      )
      .toArray()[0] as unknown as VersionRow | undefined;
  }

  private present(
    row: VersionRow | Record<string, unknown> | undefined,
    path: string,
  ): PresentVersion | undefined {
    if (row === undefined || row.kind === kindCodes.none) return undefined;
    const rev = row.rev as number;
    if (row.kind === kindCodes.dir) return { rev, kind: "dir" };
    const session = row.session as string | null;
    const version = { rev, kind: "file", size: row.size as number, ...(session === null ? {} : { session }) };
    // The value is read only when asked for: a check or a STAT needs the size alone.
    Object.defineProperty(version, "value", { enumerable: true, get: () => this.valueOf(path, rev) });
    return version as FileVersion;
  }

  private count(table: string): number {
    return this.sql.exec(`SELECT count(*) AS n FROM ${table}`).toArray()[0]?.n as number;
  }
}

/** Sets `key` as the newest entry of `map`, and drops the oldest beyond latestRowsMax. */
function keepBounded<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > latestRowsMax) {
    const oldest = map.keys().next();
    if (oldest.done !== true) map.delete(oldest.value);
  }
}

function cacheKey(path: string, rev: number): string {
  return `${rev} ${path}`;
}

export class SqliteStoreBackend implements StoreBackend {
  readonly tree: SqliteTree;
  /** keeper_term as stored, once read: saveCounters writes it only when it changes. */
  private savedKeeperTerm: number | undefined;
  /** leader_term as saved, likewise. */
  private savedLeaderTerm: number | undefined;
  /** tree_latest_rev as stored, once read. */
  private savedTreeLatestRev: number | undefined;
  /**
   * No event has a rev below this one, nor an outcome a seq below that one
   * (undefined until read): the deletes that keep each table to its window
   * run only when they have a row to delete. Memory follows SQLite as in SqliteTree.
   */
  private eventsFloorRev: number | undefined;
  private outcomesFloorSeq: number | undefined;
  /**
   * During a batch (startBatch): the stored outcomes of its ids, read in one
   * query per chunk, and those remembered since, by id; none below
   * `batchTrimmedSeq` is still stored.
   */
  private batch:
    | { ids: Set<string>; rows: Map<string, { seq: number; outcome: string }>; deferred: DeferredRows }
    | undefined;
  private batchTrimmedSeq = 0;
  /** The newest outcome's seq (undefined until read): a batch numbers its rows itself. */
  private outcomesLastSeq: number | undefined;

  constructor(
    private readonly sql: SqlExec,
    valueCacheBytesMax = storeValueCacheBytesMax,
  ) {
    for (const statement of schema) sql.exec(statement);
    // The root always exists and is never written, so its history is this one version.
    sql.exec(
      `INSERT OR IGNORE INTO store_paths (path, parent, name, live_children) VALUES (?, '', '', 0)`,
      rootPath,
    );
    sql.exec(
      `INSERT OR IGNORE INTO store_versions (path, rev, kind, size) VALUES (?, 0, ?, 0)`,
      rootPath,
      kindCodes.dir,
    );
    this.tree = new SqliteTree(sql, this, new ValueCache(valueCacheBytesMax));
    // A pin lives in memory only: a source that restarted holds none, so its copy is of no use.
    this.dropTransferSnapshot();
  }

  stateValue(key: string): number {
    const row = this.sql.exec(`SELECT value FROM store_state WHERE key = ?`, key).toArray()[0];
    return row === undefined ? 0 : (row.value as number);
  }

  setStateValue(key: string, value: number): void {
    this.sql.exec(
      `INSERT INTO store_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      key,
      value,
    );
  }

  loadCounters(): StoreCounters {
    this.savedKeeperTerm = this.stateValue("keeper_term");
    this.savedLeaderTerm = this.stateValue("leader_term");
    return {
      rev: this.stateValue("rev"),
      liveBytes: this.stateValue("live_bytes"),
      keeperTerm: this.savedKeeperTerm,
      leaderTerm: this.savedLeaderTerm,
      leader: this.stateValue("leader"),
      historyFloor: this.stateValue("history_floor"),
    };
  }

  saveCounters(counters: StoreCounters): void {
    this.setStateValue("rev", counters.rev);
    this.setStateValue("live_bytes", counters.liveBytes);
    // It changes only when a keeper takes over: one row write saved per batch, and its read too.
    this.savedKeeperTerm ??= this.stateValue("keeper_term");
    if (counters.keeperTerm !== this.savedKeeperTerm) {
      this.setStateValue("keeper_term", counters.keeperTerm);
      this.savedKeeperTerm = counters.keeperTerm;
    }
    // Likewise the leader's term: it changes only when the leader moves.
    this.savedLeaderTerm ??= this.stateValue("leader_term");
    if (counters.leaderTerm !== this.savedLeaderTerm) {
      this.setStateValue("leader_term", counters.leaderTerm);
      this.setStateValue("leader", counters.leader);
      this.savedLeaderTerm = counters.leaderTerm;
    }
    this.savedTreeLatestRev ??= this.stateValue("tree_latest_rev");
    if (this.tree.latestRev !== this.savedTreeLatestRev) {
      this.setStateValue("tree_latest_rev", this.tree.latestRev);
      this.savedTreeLatestRev = this.tree.latestRev;
    }
    // history_floor: written only by a state transfer's install (below); it never changes while slots apply.
  }

  appliedSlot(): number {
    return this.stateValue("applied_slot");
  }

  setAppliedSlot(slot: number): void {
    this.setStateValue("applied_slot", slot);
  }

  pushEvent(event: StoredEvent): void {
    const deferred = this.batch?.deferred;
    if (deferred) {
      // The floor is of the table and the deferred rows together: read the table's before this row joins them.
      this.eventsFloorRev = Math.min(this.eventsFloorRev ?? this.minimum("rev", "store_events"), event.rev);
      deferred.events.push(event);
      return;
    }
    if (this.eventsFloorRev !== undefined) this.eventsFloorRev = Math.min(this.eventsFloorRev, event.rev);
    this.insertRows("store_events", eventColumns, [eventRow(event)]);
  }

  eventsFrom(fromRev: number): StoredEvent[] {
    this.writeDeferred();
    const rows = this.sql
      .exec(`SELECT rev, path, op, session FROM store_events WHERE rev >= ? ORDER BY rev`, fromRev)
      .toArray();
    return rows.map((row) => {
      const rev = row.rev as number;
      const path = row.path as string;
      const session = row.session as string | null;
      if (row.op === opCodes.del) return { rev, path, op: "del", value: new Uint8Array(0) };
      const event = { rev, path, op: "set", ...(session === null ? {} : { session }) };
      // A set's value is its version's, kept while the event is in the window; read on demand.
      Object.defineProperty(event, "value", { enumerable: true, get: () => this.tree.valueOf(path, rev) });
      return event as StoredEvent;
    });
  }

  forgetEventsBefore(oldest: number): void {
    this.eventsFloorRev ??= this.minimum("rev", "store_events");
    if (oldest <= this.eventsFloorRev) return;
    const deferred = this.batch?.deferred;
    if (deferred) deferred.eventsBefore = oldest;
    else this.sql.exec(`DELETE FROM store_events WHERE rev < ?`, oldest);
    this.eventsFloorRev = oldest;
  }

  eventCount(): number {
    this.writeDeferred();
    return this.count("store_events");
  }

  startBatch(ids: readonly string[]): void {
    const rows = new Map<string, { seq: number; outcome: string }>();
    const unique = [...new Set(ids)];
    for (let i = 0; i < unique.length; i += outcomesPerQuery) {
      const chunk = unique.slice(i, i + outcomesPerQuery);
      const found = this.sql
        .exec(
          `SELECT seq, id, outcome FROM store_outcomes WHERE id IN (${chunk.map(() => "?").join(", ")})`,
          ...chunk,
        )
        .toArray();
      for (const row of found)
        rows.set(row.id as string, { seq: row.seq as number, outcome: row.outcome as string });
    }
    this.batch = { ids: new Set(unique), rows, deferred: noDeferredRows() };
    this.batchTrimmedSeq = 0;
  }

  endBatch(completed: boolean): void {
    // A batch that failed part way leaves its rows unwritten: the transaction is rolled back and the object ends.
    if (completed) this.writeDeferred();
    this.batch = undefined;
  }

  /** Writes what the batch so far deferred: each window's trim, then the rows still inside it. */
  private writeDeferred(): void {
    const batch = this.batch;
    if (!batch) return;
    const { outcomes, events, outcomesThrough, eventsBefore } = batch.deferred;
    batch.deferred = noDeferredRows();
    // Trims first: an id forgotten in the batch may have been remembered again in it.
    if (outcomesThrough !== undefined)
      this.sql.exec(`DELETE FROM store_outcomes WHERE seq <= ?`, outcomesThrough);
    if (eventsBefore !== undefined) this.sql.exec(`DELETE FROM store_events WHERE rev < ?`, eventsBefore);
    this.insertRows(
      "store_outcomes",
      outcomeColumns,
      outcomes.filter((o) => outcomesThrough === undefined || o.seq > outcomesThrough).map(outcomeRow),
    );
    this.insertRows(
      "store_events",
      eventColumns,
      events.filter((e) => eventsBefore === undefined || e.rev >= eventsBefore).map(eventRow),
    );
  }

  /** Inserts `rows` (values in the order of `columns`), as many to a statement as it may bind. */
  private insertRows(table: string, columns: readonly string[], rows: readonly SqlValue[][]): void {
    const perStatement = Math.floor(boundValuesMax / columns.length);
    const tuple = `(${columns.map(() => "?").join(", ")})`;
    for (let i = 0; i < rows.length; i += perStatement) {
      const chunk = rows.slice(i, i + perStatement);
      this.sql.exec(
        `INSERT INTO ${table} (${columns.join(", ")}) VALUES ${chunk.map(() => tuple).join(", ")}`,
        ...chunk.flat(),
      );
    }
  }

  outcome(id: string): MutationOutcome | undefined {
    if (this.batch?.ids.has(id)) {
      const row = this.batch.rows.get(id);
      if (row === undefined || row.seq <= this.batchTrimmedSeq) return undefined;
      return deepFreeze(JSON.parse(row.outcome) as MutationOutcome);
    }
    this.writeDeferred();
    const row = this.sql.exec(`SELECT outcome FROM store_outcomes WHERE id = ?`, id).toArray()[0];
    return row === undefined ? undefined : deepFreeze(JSON.parse(row.outcome as string) as MutationOutcome);
  }

  remember(id: string, outcome: MutationOutcome, idsMax: number): void {
    const json = JSON.stringify(outcome);
    // The seq SQLite would give the row (one past the largest), so rows written now or at the batch's end are one run.
    const seq = (this.outcomesLastSeq ?? this.maximum("seq", "store_outcomes")) + 1;
    if (this.batch !== undefined) {
      this.batch.deferred.outcomes.push({ seq, id, json });
      this.batch.ids.add(id);
      this.batch.rows.set(id, { seq, outcome: json });
    } else {
      this.insertRows("store_outcomes", outcomeColumns, [outcomeRow({ seq, id, json })]);
    }
    this.outcomesLastSeq = seq;
    this.outcomesFloorSeq = Math.min(this.outcomesFloorSeq ?? this.minimum("seq", "store_outcomes"), seq);
    // Rows go in at the back and leave at the front, so their seqs are one run: the oldest beyond idsMax are those below.
    const through = seq - idsMax;
    if (through < this.outcomesFloorSeq) return;
    if (this.batch !== undefined) this.batch.deferred.outcomesThrough = through;
    else this.sql.exec(`DELETE FROM store_outcomes WHERE seq <= ?`, through);
    this.outcomesFloorSeq = through + 1;
    this.batchTrimmedSeq = Math.max(this.batchTrimmedSeq, through);
  }

  outcomeCount(): number {
    this.writeDeferred();
    return this.count("store_outcomes");
  }

  sessionTtlMs(session: string): number | undefined {
    const row = this.sql.exec(`SELECT ttl_ms FROM store_sessions WHERE session = ?`, session).toArray()[0];
    return row === undefined ? undefined : (row.ttl_ms as number);
  }

  openSession(session: string, ttlMs: number): void {
    this.sql.exec(`INSERT INTO store_sessions (session, ttl_ms) VALUES (?, ?)`, session, ttlMs);
  }

  endSession(session: string): void {
    this.sql.exec(`DELETE FROM store_sessions WHERE session = ?`, session);
    this.sql.exec(`DELETE FROM store_session_files WHERE session = ?`, session);
  }

  sessionFiles(session: string): string[] {
    return this.sql
      .exec(`SELECT path FROM store_session_files WHERE session = ? ORDER BY path`, session)
      .toArray()
      .map((row) => row.path as string);
  }

  addSessionFile(session: string, path: string): void {
    if (this.sessionTtlMs(session) === undefined) return;
    this.sql.exec(`INSERT OR IGNORE INTO store_session_files (session, path) VALUES (?, ?)`, session, path);
  }

  removeSessionFile(session: string, path: string): void {
    this.sql.exec(`DELETE FROM store_session_files WHERE session = ? AND path = ?`, session, path);
  }

  sessionList(offset: number, limit: number): { session: string; ttlMs: number }[] {
    return this.sql
      .exec(
        `SELECT session, ttl_ms FROM store_sessions ORDER BY session LIMIT ? OFFSET ?`,
        Number.isFinite(limit) ? limit : -1,
        offset,
      )
      .toArray()
      .map((row) => ({ session: row.session as string, ttlMs: row.ttl_ms as number }));
  }

  sessionCount(): number {
    return this.count("store_sessions");
  }

  // --- State transfer, source side (core/state-transfer.ts) ---

  takeTransferSnapshot(): void {
    this.dropTransferSnapshot();
    // Bounded by sessionsMax and dedupMutationsMax rows, copied inside SQLite, not through memory.
    this.sql.exec(
      `INSERT INTO transfer_source_sessions (session, ttl_ms) SELECT session, ttl_ms FROM store_sessions`,
    );
    // Numbered 1, 2, ... in the order the store forgets them, which every replica shares.
    this.sql.exec(
      `INSERT INTO transfer_source_outcomes (idx, id, outcome)
       SELECT row_number() OVER (ORDER BY seq), id, outcome FROM store_outcomes`,
    );
  }

  dropTransferSnapshot(): void {
    this.sql.exec(`DELETE FROM transfer_source_sessions`);
    this.sql.exec(`DELETE FROM transfer_source_outcomes`);
  }

  presentAt(rev: number, afterPath: string, limit: number): { path: string; version: PresentVersion }[] {
    return this.tree.presentAt(rev, afterPath, limit);
  }

  snapshotSessions(afterSession: string, limit: number): TransferSession[] {
    return this.sql
      .exec(
        `SELECT session, ttl_ms FROM transfer_source_sessions WHERE session > ? ORDER BY session LIMIT ?`,
        afterSession,
        limit,
      )
      .toArray()
      .map((row) => ({ session: row.session as string, ttlMs: row.ttl_ms as number }));
  }

  snapshotOutcomes(afterIndex: number, limit: number): TransferOutcome[] {
    return this.sql
      .exec(
        `SELECT idx, id, outcome FROM transfer_source_outcomes WHERE idx > ? ORDER BY idx LIMIT ?`,
        afterIndex,
        limit,
      )
      .toArray()
      .map((row) => ({
        index: row.idx as number,
        id: row.id as string,
        outcome: JSON.parse(row.outcome as string) as MutationOutcome,
      }));
  }

  // --- State transfer, receiver side ---

  stagedTransfer(): StagedTransfer | undefined {
    const row = this.sql
      .exec(`SELECT value FROM transfer_staged_progress WHERE key = 'progress'`)
      .toArray()[0];
    return row === undefined ? undefined : (JSON.parse(row.value as string) as StagedTransfer);
  }

  stage(progress: StagedTransfer, items: TransferItems): void {
    for (const file of items.files) {
      const isFile = file.kind === "file";
      this.sql.exec(
        `INSERT INTO transfer_staged_paths (path, parent, name, rev, kind, size, value, session)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        file.path,
        parentOf(file.path),
        nameOf(file.path),
        file.rev,
        kindCodes[file.kind],
        isFile ? file.value.length : 0,
        isFile ? file.value : null,
        isFile ? (file.session ?? null) : null,
      );
    }
    for (const { session, ttlMs } of items.sessions) {
      this.sql.exec(`INSERT INTO transfer_staged_sessions (session, ttl_ms) VALUES (?, ?)`, session, ttlMs);
    }
    for (const { index, id, outcome } of items.outcomes) {
      this.sql.exec(
        `INSERT INTO transfer_staged_outcomes (idx, id, outcome) VALUES (?, ?, ?)`,
        index,
        id,
        JSON.stringify(outcome),
      );
    }
    this.sql.exec(
      `INSERT INTO transfer_staged_progress (key, value) VALUES ('progress', ?)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      JSON.stringify(progress),
    );
  }

  clearStaged(): void {
    for (const table of stagedTables) this.sql.exec(`DELETE FROM ${table}`);
  }

  /** One transaction (the caller's): the store's tables take the staged state, the staging is emptied. */
  installStaged(): void {
    const progress = this.stagedTransfer();
    assert(progress !== undefined, "sqlite store: nothing staged to install");
    const { slot, rev, liveBytes, keeperTerm, leaderTerm, leader } = progress;
    for (const table of storeTables) this.sql.exec(`DELETE FROM ${table}`);
    this.sql.exec(
      `INSERT INTO store_paths (path, parent, name, live_children) VALUES (?, '', '', 0)`,
      rootPath,
    );
    this.sql.exec(
      `INSERT INTO store_versions (path, rev, kind, size) VALUES (?, 0, ?, 0)`,
      rootPath,
      kindCodes.dir,
    );
    this.sql.exec(
      `INSERT INTO store_paths (path, parent, name, live_children)
       SELECT path, parent, name, 0 FROM transfer_staged_paths`,
    );
    this.sql.exec(
      `INSERT INTO store_versions (path, rev, kind, size, value, session)
       SELECT path, rev, kind, size, value, session FROM transfer_staged_paths`,
    );
    // Every staged path is present, so a directory's live entries are its staged children.
    this.sql.exec(
      `UPDATE store_paths SET live_children = (SELECT count(*) FROM store_paths c WHERE c.parent = store_paths.path)`,
    );
    // A file names its owner, and only a live session owns files: these are the sessions' file lists.
    this.sql.exec(
      `INSERT INTO store_session_files (session, path)
       SELECT session, path FROM transfer_staged_paths WHERE session IS NOT NULL AND kind = ?`,
      kindCodes.file,
    );
    this.sql.exec(
      `INSERT INTO store_sessions (session, ttl_ms) SELECT session, ttl_ms FROM transfer_staged_sessions`,
    );
    this.sql.exec(
      `INSERT INTO store_outcomes (id, outcome) SELECT id, outcome FROM transfer_staged_outcomes ORDER BY idx`,
    );
    this.setStateValue("rev", rev);
    this.setStateValue("live_bytes", liveBytes);
    this.setStateValue("history_floor", rev);
    this.setStateValue("keeper_term", keeperTerm ?? 0);
    // A transfer staged by code older than leader terms carries none: the configured leader's term 0.
    this.setStateValue("leader_term", leaderTerm ?? 0);
    this.setStateValue("leader", leader ?? 0);
    this.savedKeeperTerm = keeperTerm ?? 0;
    this.savedLeaderTerm = leaderTerm ?? 0;
    this.savedTreeLatestRev = rev;
    this.eventsFloorRev = undefined;
    this.outcomesFloorSeq = undefined;
    this.outcomesLastSeq = undefined;
    this.setStateValue("applied_slot", slot);
    this.setStateValue("tree_latest_rev", rev);
    this.clearStaged();
    this.dropTransferSnapshot();
    this.tree.installed(rev);
  }

  private count(table: string): number {
    return this.sql.exec(`SELECT count(*) AS n FROM ${table}`).toArray()[0]?.n as number;
  }

  /** The least value of an integer column, or +Infinity when the table is empty. */
  private minimum(column: string, table: string): number {
    const value = this.sql.exec(`SELECT min(${column}) AS m FROM ${table}`).toArray()[0]?.m;
    return typeof value === "number" ? value : Number.POSITIVE_INFINITY;
  }

  /** The greatest value of an integer column, or 0 when the table is empty. */
  private maximum(column: string, table: string): number {
    const value = this.sql.exec(`SELECT max(${column}) AS m FROM ${table}`).toArray()[0]?.m;
    return typeof value === "number" ? value : 0;
  }
}

/**
 * What a batch adds to the outcomes and the events, and how far it moved their
 * windows: written when it ends (or before either table is read), in one
 * statement per table and chunk, because a statement costs more than the row
 * it writes (docs/BENCHMARKS.md, "a profile of the isolate").
 */
interface DeferredRows {
  outcomes: { seq: number; id: string; json: string }[];
  events: StoredEvent[];
  /** Outcomes with a seq at or below this one leave the window. */
  outcomesThrough: number | undefined;
  /** Events with a rev below this one leave the window. */
  eventsBefore: number | undefined;
}

/** Outcomes are shared with every retry, so none may be changed (store.ts freezes its own the same way). */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object") {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

function noDeferredRows(): DeferredRows {
  return { outcomes: [], events: [], outcomesThrough: undefined, eventsBefore: undefined };
}

function outcomeRow(o: { seq: number; id: string; json: string }): SqlValue[] {
  return [o.seq, o.id, o.json];
}

function eventRow(e: StoredEvent): SqlValue[] {
  return [e.rev, e.path, opCodes[e.op], e.session ?? null];
}
