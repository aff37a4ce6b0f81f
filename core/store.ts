// The Doozer store (SPEC §1) as a deterministic state machine: decided
// mutations go in, in rev order; reads at the current rev or at any rev still
// in the history window come out. Every replica that applies the same log
// holds the same store. The tree, its past, the events, the remembered
// outcomes and the sessions live in a StoreBackend (store-backend.ts): in
// memory, or in the acceptor's SQLite; here are Doozer's rules: the rev
// checks, implicit directories, events, retries, and the edges of the window.

import { isValidSessionId } from "./args";
import { CodedError } from "./errors";
import { compileGlob } from "./glob";
import type { LeaderTerm } from "./leader-term";
import {
  dedupMutationsMax,
  historyRevsDefault,
  pageEntriesMax,
  sessionsMax,
  sessionTtlMsMax,
  sessionTtlMsMin,
  storeBytesMaxDefault,
  valueBytesMax,
} from "./limits";
import { MemoryStoreBackend } from "./memory-store-backend";
import type { ApplyErrorCode, Mutation, MutationError, MutationOutcome, TxnCheck, TxnOp } from "./mutation";
import { ancestorsOf, rootPath, validatePath } from "./path";
import type { StoreBackend, TreeStore } from "./store-backend";
import { type FileVersion, fileAbove, type StagedWrite, TreeDraft } from "./tree";

export interface StoreOptions {
  /** Revs of history kept for reads at a past rev and for events (default historyRevsDefault). */
  historyRevs?: number;
  /** Mutation ids remembered so that a retried write applies once (default dedupMutationsMax). */
  dedupMax?: number;
  /** Live data allowed: the sum over every file of its path and value bytes (default storeBytesMaxDefault, SPEC §8). */
  storeBytesMax?: number;
  /** Live sessions allowed at once (default sessionsMax). */
  sessionsMax?: number;
  /** Where the state lives (default: in memory). A backend that holds a store already is read, not reset. */
  backend?: StoreBackend;
}

/**
 * A SET, or a DEL that removed a file: what WAIT and WATCH report. `value` is
 * empty for a DEL. `session` is the owner a SET gave the file; absent for a
 * persistent file and on every DEL (SPEC §6).
 */
export interface StoreEvent {
  rev: number;
  path: string;
  op: "set" | "del";
  value: Uint8Array;
  session?: string;
}

/** A file as GET reads it; `session` only when the file was owned by one at the rev read. */
export interface FileRead {
  value: Uint8Array;
  rev: number;
  session?: string;
}

/** STAT: a file's length and rev (and owner), a directory's entry count and -2, or 0 and 0 when missing. */
export interface StatRead {
  len: number;
  rev: number;
  session?: string;
}

/** A WALK entry. */
export interface WalkFile {
  path: string;
  rev: number;
  value: Uint8Array;
  session?: string;
}

/** A live session as the store knows it: `files` are the paths it owns now, sorted bytewise. */
export interface SessionInfo {
  session: string;
  ttlMs: number;
  files: string[];
}

/** Why one write or one transaction item failed, before it is shaped into an outcome. */
interface ItemFailure {
  code: ApplyErrorCode;
  message: string;
  /** The file's rev as the item saw it: -2 a directory, 0 missing; absent when the path is malformed. */
  rev?: number;
}

const emptyValue = new Uint8Array(0);

export class Store {
  private storeRev = 0;
  private readonly historyRevs: number;
  private readonly dedupMax: number;
  private readonly storeBytesMax: number;
  private readonly sessionsMax: number;
  private readonly backend: StoreBackend;
  private readonly tree: TreeStore;
  private liveByteCount = 0;
  /** The session keeper's term in force (core/keeper-lease.ts): only its expiries apply. */
  private keeperTermInForce = 0;
  /** The leader's term in force and its acceptor (core/leader-term.ts); term 0 is the configured leader. */
  private leaderInForce: LeaderTerm = { term: 0, leader: 0 };
  /** The rev a state transfer installed this store at: no history before it (0: the store's whole life is here). */
  private historyFloor = 0;
  /** A state transfer's pinned rev (transfer-pin.ts): nothing a read at it needs is forgotten. */
  private heldRev: number | undefined;

  constructor(options: StoreOptions = {}) {
    this.historyRevs = options.historyRevs ?? historyRevsDefault;
    this.dedupMax = options.dedupMax ?? dedupMutationsMax;
    this.storeBytesMax = options.storeBytesMax ?? storeBytesMaxDefault;
    this.sessionsMax = options.sessionsMax ?? sessionsMax;
    this.backend = options.backend ?? new MemoryStoreBackend();
    this.tree = this.backend.tree;
    // The counters are the only state kept in memory: every read of the tree goes to the backend.
    const counters = this.backend.loadCounters();
    this.storeRev = counters.rev;
    this.liveByteCount = counters.liveBytes;
    this.keeperTermInForce = counters.keeperTerm;
    this.leaderInForce = { term: counters.leaderTerm, leader: counters.leader };
    this.historyFloor = counters.historyFloor;
    for (const [name, value] of [
      ["historyRevs", this.historyRevs],
      ["dedupMax", this.dedupMax],
      ["storeBytesMax", this.storeBytesMax],
      ["sessionsMax", this.sessionsMax],
    ] as const) {
      if (!Number.isSafeInteger(value) || value < 0) {
        throw new Error(`Store: ${name} must be a non-negative integer, not ${value}`);
      }
    }
  }

  /** The rev of the last applied change; 0 when new. */
  get rev(): number {
    return this.storeRev;
  }

  /** The oldest rev still readable. */
  get oldestRev(): number {
    return Math.max(this.historyFloor, this.storeRev - this.historyRevs);
  }

  /**
   * Whether a read at `rev` (with `events`: a WAIT or WATCH from it) is out of
   * reach here only because a state transfer installed this store above it,
   * while the window the store keeps would hold it: another replica may serve it.
   */
  lacksTransferredHistory(rev: number, events: boolean): boolean {
    if (this.historyFloor === 0) return false;
    const oldest = events ? this.oldestEventRev : this.oldestRev;
    return rev < oldest && rev >= Math.max(0, this.storeRev - this.historyRevs);
  }

  /**
   * The oldest rev whose event WAIT and WATCH can still see. A store
   * installed by a state transfer at rev R holds the tree at R but not the
   * event of rev R, so its events start at R + 1.
   */
  get oldestEventRev(): number {
    return this.historyFloor === 0 ? this.oldestRev : Math.max(this.oldestRev, this.historyFloor + 1);
  }

  /**
   * Keeps everything a read at `rev` needs until released (undefined): the
   * versions in force at `rev` stay while the window moves on. A state
   * transfer's source holds its pinned rev this way.
   */
  holdHistoryFrom(rev: number | undefined): void {
    if (rev !== undefined && rev > this.storeRev) {
      throw new Error(`Store: holding history from rev ${rev}, beyond the store rev ${this.storeRev}`);
    }
    this.heldRev = rev;
  }

  /** The live data now: the sum over every file of its path and value bytes (SPEC §8). */
  get liveBytes(): number {
    return this.liveByteCount;
  }

  /**
   * Whether this store has applied `mutation`, decided with `outcome`: by its
   * rev, or for a keeper's claim, which consumes none, by the term in force.
   */
  hasApplied(mutation: Mutation, outcome: MutationOutcome): boolean {
    if (mutation.op === "keeper-claim") return this.keeperTermInForce >= mutation.term;
    if (mutation.op === "leader-move") return this.leaderInForce.term >= mutation.term;
    return this.storeRev >= outcome.rev;
  }

  /** The session keeper's term in force: 0 until a keeper first claims one. */
  get keeperTerm(): number {
    return this.keeperTermInForce;
  }

  /** The leader's term in force, as stored: at term 0 the configured leader leads (core/leader-term.ts). */
  get leaderTerm(): LeaderTerm {
    return { ...this.leaderInForce };
  }

  /** Applies a decided batch in order; one outcome per mutation. */
  apply(mutations: readonly Mutation[]): MutationOutcome[] {
    if (mutations.length > 1) this.backend.startBatch?.(mutations.map((m) => m.id).filter((id) => id !== ""));
    let completed = false;
    try {
      const outcomes = mutations.map((mutation) => this.applyOne(mutation));
      this.backend.saveCounters({
        rev: this.storeRev,
        liveBytes: this.liveByteCount,
        keeperTerm: this.keeperTermInForce,
        leaderTerm: this.leaderInForce.term,
        leader: this.leaderInForce.leader,
        historyFloor: this.historyFloor,
      });
      completed = true;
      return outcomes;
    } finally {
      if (mutations.length > 1) this.backend.endBatch?.(completed);
    }
  }

  /** A file's value, rev and owner. The value is the store's own: read it, never change it. */
  get(path: string, atRev?: number): FileRead {
    validatePath(path);
    const version = this.tree.at(path, this.readableRev(atRev));
    if (version === undefined) throw new CodedError("NOENT", `no such file: ${path}`, { rev: 0 });
    if (version.kind === "dir") throw new CodedError("ISDIR", `${path} is a directory`);
    return withSession({ value: version.value, rev: version.rev }, version);
  }

  /** A file: its length, rev and owner; a directory: its entry count and rev -2; missing: length 0, rev 0. */
  stat(path: string, atRev?: number): StatRead {
    validatePath(path);
    const rev = this.readableRev(atRev);
    const version = this.tree.at(path, rev);
    if (version === undefined) return { len: 0, rev: 0 };
    if (version.kind === "file") return withSession({ len: version.size, rev: version.rev }, version);
    return { len: this.entryCount(path, rev), rev: -2 };
  }

  /** The names in a directory, sorted bytewise, paged. */
  getdir(path: string, atRev?: number, offset = 0, limit = pageEntriesMax): string[] {
    validatePath(path);
    const rev = this.readableRev(atRev);
    const version = this.tree.at(path, rev);
    if (version === undefined) throw new CodedError("NOENT", `no such directory: ${path}`);
    if (version.kind === "file") throw new CodedError("NOTDIR", `${path} is a file`);
    const names: string[] = [];
    for (const entry of this.tree.entriesAt(path, rev, offset)) {
      if (names.length >= limit) break;
      names.push(entry.name);
    }
    return names;
  }

  /** The files matching `glob`, depth-first with each directory's entries in bytewise order, paged. */
  walk(glob: string, atRev?: number, offset = 0, limit = pageEntriesMax): WalkFile[] {
    const pattern = compileGlob(glob);
    const rev = this.readableRev(atRev);
    const files: WalkFile[] = [];
    let toSkip = offset;
    // Returns true once the page is full, to stop the whole walk.
    const visit = (dir: string): boolean => {
      for (const { path, version } of this.tree.entriesAt(dir, rev)) {
        if (version.kind === "dir") {
          if (pattern.mayMatchBelow(path) && visit(path)) return true;
        } else if (pattern.matches(path)) {
          if (toSkip > 0) {
            toSkip--;
          } else {
            files.push(withSession({ path, rev: version.rev, value: version.value }, version));
            if (files.length >= limit) return true;
          }
        }
      }
      return false;
    };
    const start = pattern.literalPrefix;
    if (limit > 0 && this.tree.at(start, rev)?.kind === "dir" && pattern.mayMatchBelow(start)) visit(start);
    return files;
  }

  /** The first event at or after `fromRev` on a path matching `glob`, or undefined if there is none yet (WAIT). */
  firstEvent(glob: string, fromRev: number): StoreEvent | undefined {
    const pattern = compileGlob(glob);
    this.checkEventsInWindow(fromRev);
    for (const event of this.backend.eventsFrom(fromRev)) {
      // A copy, so that a value a backend loads lazily is read now, while it is in the window.
      if (pattern.matches(event.path)) return { ...event };
    }
    return undefined;
  }

  /** Every event at or after `fromRev`, in rev order (WATCH filters them). */
  eventsFrom(fromRev: number): readonly StoreEvent[] {
    this.checkEventsInWindow(fromRev);
    return [...this.backend.eventsFrom(fromRev)];
  }

  /** A live session now, or undefined if it never opened or has ended. Sessions have no history: this is the current rev only. */
  session(id: string): SessionInfo | undefined {
    const ttlMs = this.backend.sessionTtlMs(id);
    return ttlMs === undefined ? undefined : { session: id, ttlMs, files: this.backend.sessionFiles(id) };
  }

  /** The live sessions now, sorted by id, paged; for the session keeper (takeOver) and the viewer. */
  sessions(offset = 0, limit = Number.POSITIVE_INFINITY): SessionInfo[] {
    return this.backend
      .sessionList(offset, limit)
      .map(({ session, ttlMs }) => ({ session, ttlMs, files: this.backend.sessionFiles(session) }));
  }

  /** A live session's ttl, or undefined when it is not alive: the keeper's question, without the file list. */
  sessionTtlMs(id: string): number | undefined {
    return this.backend.sessionTtlMs(id);
  }

  /** Every live session with its ttl, by id, without their files: what the session keeper compares itself with. */
  sessionLeases(): { session: string; ttlMs: number }[] {
    return this.backend.sessionList(0, Number.POSITIVE_INFINITY);
  }

  /** The outcome remembered for a mutation id: what a retry of it would answer. */
  outcomeOf(id: string): MutationOutcome | undefined {
    return this.backend.outcome(id);
  }

  /** How many sessions are alive now. */
  get sessionCount(): number {
    return this.backend.sessionCount();
  }

  /**
   * The store rev, the whole current tree and the live sessions as text:
   * replicas that applied the same log give equal text. A file line is
   * `path rev hex-value`, then ` session` when owned; then one
   * `session id ttlMs` line per live session.
   */
  serialize(): string {
    const lines = [`rev ${this.storeRev}`];
    const visit = (dir: string): void => {
      for (const { path, version } of this.tree.entriesAt(dir, this.storeRev)) {
        if (version.kind === "dir") visit(path);
        else {
          const owner = version.session === undefined ? "" : ` ${version.session}`;
          lines.push(`${path} ${version.rev} ${toHex(version.value)}${owner}`);
        }
      }
    };
    visit(rootPath);
    for (const { session, ttlMs } of this.sessions()) lines.push(`session ${session} ${ttlMs}`);
    return `${lines.join("\n")}\n`;
  }

  /** How much the store holds, for tests that check history stays bounded. O(paths). */
  debugSizes(): {
    paths: number;
    versions: number;
    pendingVersions: number;
    events: number;
    dedupIds: number;
    sessions: number;
  } {
    return {
      ...this.tree.debugSizes(),
      events: this.backend.eventCount(),
      dedupIds: this.backend.outcomeCount(),
      sessions: this.backend.sessionCount(),
    };
  }

  // --- Applying mutations ---

  private applyOne(mutation: Mutation): MutationOutcome {
    if (mutation.id !== "") {
      const first = this.backend.outcome(mutation.id);
      if (first !== undefined) return first;
    }
    const outcome = freezeOutcome(this.execute(mutation));
    if (mutation.id !== "") this.remember(mutation.id, outcome);
    this.forgetOutsideWindow();
    return outcome;
  }

  /** Each case consumes the revs it says it does, advancing `storeRev` itself. */
  private execute(mutation: Mutation): MutationOutcome {
    switch (mutation.op) {
      case "nop":
        return { rev: ++this.storeRev };
      case "set":
      case "del":
        return this.write(mutation);
      case "session-open":
        return this.openSession(mutation.session, mutation.ttlMs);
      case "session-end":
        if (mutation.keeperTerm !== undefined && mutation.keeperTerm !== this.keeperTermInForce) {
          // A deposed keeper's expiry, decided late: the keeper in force may have heard keepalives since.
          return this.staleTerm(mutation.keeperTerm, mutation.session);
        }
        return this.endSession(mutation.session);
      case "keeper-claim":
        if (!(mutation.term > this.keeperTermInForce)) return this.staleTerm(mutation.term, undefined);
        this.keeperTermInForce = mutation.term;
        return { rev: this.storeRev, revsConsumed: 0 };
      case "leader-move":
        // Terms only rise: a move decided late, after a later one, changes nothing.
        if (!(mutation.term > this.leaderInForce.term)) {
          const message = `leader term ${mutation.term} is not above the term in force (${this.leaderInForce.term})`;
          return { rev: this.storeRev, revsConsumed: 0, error: { code: "REV_MISMATCH", message } };
        }
        this.leaderInForce = { term: mutation.term, leader: mutation.leader };
        return { rev: this.storeRev, revsConsumed: 0 };
      case "txn":
        return this.transact(mutation.checks, mutation.ops);
    }
  }

  /** SET or DEL: one rev, success or failure. */
  private write(op: TxnOp): MutationOutcome {
    const rev = ++this.storeRev;
    const draft = new TreeDraft(this.tree);
    const failed = this.stage(draft, op, rev) ?? this.spaceFailure(draft);
    if (failed !== undefined) {
      // A plain write tells the file's rev only on REV_MISMATCH, as before transactions.
      const { code, message } = failed;
      return { rev, error: code === "REV_MISMATCH" ? { code, message, rev: failed.rev } : { code, message } };
    }
    this.commit(draft.writes[0], rev);
    return { rev };
  }

  /**
   * SPEC §7: the checks against the tree before, each op against the tree as
   * the ops before it left it, then the net size; only if all pass are the
   * staged writes made, one rev each. A failure consumes one rev and changes nothing.
   */
  private transact(checks: readonly TxnCheck[], ops: readonly TxnOp[]): MutationOutcome {
    const firstRev = this.storeRev + 1;
    const draft = new TreeDraft(this.tree);
    const fail = (failed: ItemFailure, path: string, item: { check: number } | { op: number }) => {
      this.storeRev = firstRev;
      const error: MutationError = { code: failed.code, message: failed.message, path, ...item };
      if (failed.rev !== undefined) error.rev = failed.rev;
      return { rev: firstRev, error };
    };
    for (const [index, check] of checks.entries()) {
      const failed = checkFailure(draft, check);
      if (failed !== undefined) return fail(failed, check.path, { check: index });
    }
    let lastSeenRev: number | undefined;
    for (const [index, op] of ops.entries()) {
      lastSeenRev = seenRev(draft, op.path);
      const failed = this.stage(draft, op, firstRev + index);
      if (failed !== undefined) return fail(failed, op.path, { op: index });
    }
    const lastOp = ops.at(-1);
    const noSpace = this.spaceFailure(draft);
    if (noSpace !== undefined && lastOp !== undefined) {
      return fail({ ...noSpace, rev: lastSeenRev }, lastOp.path, { op: ops.length - 1 });
    }
    if (ops.length === 0) {
      this.storeRev = firstRev;
      return { rev: firstRev, results: [] };
    }
    const results = ops.map((op, index) => {
      const rev = firstRev + index;
      this.storeRev = rev;
      this.commit(draft.writes[index], rev);
      return { path: op.path, rev };
    });
    const outcome: MutationOutcome = { rev: this.storeRev, results };
    if (ops.length !== 1) outcome.revsConsumed = ops.length;
    return outcome;
  }

  /**
   * Checks one set or del against `draft` and stages it there, in the order
   * of SPEC §1 and §6: NOSESSION first, then BAD_PATH, TOO_LARGE, ISDIR,
   * NOTDIR, REV_MISMATCH. `rev` is the rev the write would be made at.
   */
  private stage(draft: TreeDraft, op: TxnOp, rev: number): ItemFailure | undefined {
    const session = op.op === "set" ? op.session : undefined;
    if (session !== undefined && this.backend.sessionTtlMs(session) === undefined) {
      const failed: ItemFailure = { code: "NOSESSION", message: `session ${session} is not alive` };
      const fileRev = seenRev(draft, op.path);
      if (fileRev !== undefined) failed.rev = fileRev;
      return failed;
    }
    const badPath = pathError(op.path);
    if (badPath !== undefined) return { code: "BAD_PATH", message: badPath };
    const { path } = op;
    const current = draft.current(path);
    if (op.op === "set" && op.value.length > valueBytesMax) {
      const message = `value of ${op.value.length} bytes for ${path} is over ${valueBytesMax}`;
      return { code: "TOO_LARGE", message, rev: current?.kind === "dir" ? -2 : (current?.rev ?? 0) };
    }
    if (current?.kind === "dir") return { code: "ISDIR", message: `${path} is a directory`, rev: -2 };
    if (op.op === "set") {
      const above = fileAbove(draft, path);
      if (above !== undefined) {
        return { code: "NOTDIR", message: `${above} is a file, so ${path} cannot be`, rev: 0 };
      }
    }
    const fileRev = current?.rev ?? 0;
    if (!passesRevCheck(op.rev, fileRev)) {
      const message = `${path} has rev ${fileRev}; the write expected rev ${op.rev}`;
      return { code: "REV_MISMATCH", message, rev: fileRev };
    }
    if (op.op === "set") draft.set(path, op.value, session, rev);
    else draft.del(path);
    return undefined;
  }

  /** NOSPACE when the staged writes grow the live data past the limit; a change that does not grow it always fits. */
  private spaceFailure(draft: TreeDraft): ItemFailure | undefined {
    const delta = draft.bytesDelta;
    if (delta <= 0 || this.liveByteCount + delta <= this.storeBytesMax) return undefined;
    const message =
      `the write would take the store's live data to ${this.liveByteCount + delta} bytes, ` +
      `past its limit of ${this.storeBytesMax}; delete files to make room`;
    return { code: "NOSPACE", message };
  }

  /** Makes one staged write at `rev`: the tree, the live bytes, the owners and the event. */
  private commit(write: StagedWrite | undefined, rev: number): void {
    if (write === undefined) return;
    if (write.op === "del") {
      this.deleteFile(write.path, rev);
      return;
    }
    const { path, session } = write;
    const current = this.tree.current(path);
    if (current === undefined) {
      for (const dir of ancestorsOf(path)) {
        if (this.tree.current(dir) === undefined) this.tree.write(dir, { rev, kind: "dir" });
      }
    } else if (current.kind === "file") {
      this.liveByteCount -= path.length + current.size;
      this.disown(current, path);
    }
    // The store owns its bytes: a caller may reuse the buffer it handed in.
    const value = write.value.slice();
    const size = value.length;
    const version: FileVersion =
      session === undefined
        ? { rev, kind: "file", size, value }
        : { rev, kind: "file", size, value, session };
    this.tree.write(path, version);
    this.liveByteCount += path.length + size;
    if (session !== undefined) this.backend.addSessionFile(session, path);
    this.backend.pushEvent(withSession({ rev, path, op: "set" as const, value }, version));
  }

  /** Deletes a file that exists now, and every parent directory it leaves empty. */
  private deleteFile(path: string, rev: number): void {
    const current = this.tree.current(path);
    if (current?.kind !== "file") throw new Error(`Store: deleting ${path}, which is no file`);
    this.liveByteCount -= path.length + current.size;
    this.disown(current, path);
    this.tree.write(path, { rev, kind: "none" });
    for (const dir of ancestorsOf(path).reverse()) {
      if (this.tree.liveEntryCount(dir) > 0) break;
      this.tree.write(dir, { rev, kind: "none" });
    }
    this.backend.pushEvent({ rev, path, op: "del", value: emptyValue });
  }

  private disown(version: FileVersion, path: string): void {
    if (version.session !== undefined) this.backend.removeSessionFile(version.session, path);
  }

  /** One rev. The proposer names the session; a bad name in the log fails here rather than breaking the store. */
  private openSession(session: string, ttlMs: number): MutationOutcome {
    const rev = ++this.storeRev;
    const failed = (code: ApplyErrorCode, message: string): MutationOutcome => ({
      rev,
      session,
      error: { code, message },
    });
    if (!isValidSessionId(session)) return failed("BAD_REQUEST", `bad session id ${JSON.stringify(session)}`);
    if (!Number.isSafeInteger(ttlMs) || ttlMs < sessionTtlMsMin || ttlMs > sessionTtlMsMax) {
      return failed(
        "RANGE",
        `session ttl must be from ${sessionTtlMsMin} to ${sessionTtlMsMax} ms, not ${ttlMs}`,
      );
    }
    // Ids are random and a retry is deduplicated by its mutation id, so a live id opened again is a defect.
    if (this.backend.sessionTtlMs(session) !== undefined) {
      return failed("OTHER", `session ${session} is already open`);
    }
    const open = this.backend.sessionCount();
    if (open >= this.sessionsMax) {
      return failed("NOSPACE", `${open} sessions are open, the limit; end some to make room`);
    }
    this.backend.openSession(session, ttlMs);
    return { rev, session, ttlMs };
  }

  /**
   * SPEC §6: deletes every file the session owns in bytewise path order, one
   * rev each (one rev if it owns none); a session not alive consumes nothing.
   */
  private endSession(session: string): MutationOutcome {
    if (this.backend.sessionTtlMs(session) === undefined) {
      const error: MutationError = { code: "NOSESSION", message: `session ${session} is not alive` };
      return { rev: this.storeRev, revsConsumed: 0, session, error };
    }
    const paths = this.backend.sessionFiles(session);
    this.backend.endSession(session);
    if (paths.length === 0) return { rev: ++this.storeRev, session };
    for (const path of paths) this.deleteFile(path, ++this.storeRev);
    const outcome: MutationOutcome = { rev: this.storeRev, session };
    if (paths.length !== 1) outcome.revsConsumed = paths.length;
    return outcome;
  }

  /** A keeper's write under a term that is not in force: it changes nothing and consumes no rev. */
  private staleTerm(term: number, session: string | undefined): MutationOutcome {
    const message = `keeper term ${term} is not in force (term ${this.keeperTermInForce} is)`;
    const outcome: MutationOutcome = {
      rev: this.storeRev,
      revsConsumed: 0,
      error: { code: "REV_MISMATCH", message },
    };
    if (session !== undefined) outcome.session = session;
    return outcome;
  }

  private remember(id: string, outcome: MutationOutcome): void {
    if (this.dedupMax === 0) return;
    this.backend.remember(id, outcome, this.dedupMax);
  }

  /** Drops what no read in the window can see; amortized O(1) per rev. */
  private forgetOutsideWindow(): void {
    const oldest = this.oldestRev;
    this.tree.forgetBefore(this.heldRev === undefined ? oldest : Math.min(oldest, this.heldRev));
    this.backend.forgetEventsBefore(oldest);
  }

  // --- Reading ---

  private readableRev(atRev: number | undefined): number {
    const rev = atRev ?? this.storeRev;
    if (!Number.isSafeInteger(rev)) throw new Error(`Store: rev ${rev} is not an integer`);
    // Callers wait until the store reaches a future rev before reading at it.
    if (rev > this.storeRev) {
      throw new Error(`Store: read at rev ${rev} beyond the store rev ${this.storeRev}`);
    }
    this.checkInWindow(rev);
    return rev;
  }

  private checkInWindow(rev: number): void {
    if (rev < this.oldestRev) {
      const message = `rev ${rev} is before the history window (oldest rev ${this.oldestRev})`;
      throw new CodedError("TOO_LATE", message, {});
    }
  }

  private checkEventsInWindow(rev: number): void {
    if (rev < this.oldestEventRev) {
      const message = `rev ${rev} is before the history window of events (oldest rev ${this.oldestEventRev})`;
      throw new CodedError("TOO_LATE", message, {});
    }
  }

  private entryCount(dir: string, rev: number): number {
    if (rev === this.storeRev) return this.tree.liveEntryCount(dir);
    let count = 0;
    for (const _ of this.tree.entriesAt(dir, rev)) count++;
    return count;
  }
}

/** -1 clobbers; any other rev must not be older than the file (0 when missing): so 0 only creates. */
function passesRevCheck(checkRev: number, fileRev: number): boolean {
  return checkRev === -1 || checkRev >= fileRev;
}

/** A txn check holds when the file's rev is exactly the given one; 0 also holds below a file (SPEC §7). */
function checkFailure(draft: TreeDraft, check: TxnCheck): ItemFailure | undefined {
  const badPath = pathError(check.path);
  if (badPath !== undefined) return { code: "BAD_PATH", message: badPath };
  const current = draft.current(check.path);
  if (current?.kind === "dir") return { code: "ISDIR", message: `${check.path} is a directory`, rev: -2 };
  const fileRev = current?.rev ?? 0;
  if (fileRev === check.rev) return undefined;
  const message = `${check.path} has rev ${fileRev}; the check expected exactly rev ${check.rev}`;
  return { code: "REV_MISMATCH", message, rev: fileRev };
}

/** A path's rev as a write or check sees it: -2 for a directory, 0 when missing; undefined for a malformed path. */
function seenRev(draft: TreeDraft, path: string): number | undefined {
  if (pathError(path) !== undefined) return undefined;
  const current = draft.current(path);
  return current?.kind === "dir" ? -2 : (current?.rev ?? 0);
}

/** Callers validate paths before proposing; this keeps a bad one in the log from breaking the store. */
function pathError(path: string): string | undefined {
  try {
    validatePath(path);
    return undefined;
  } catch (error) {
    if (error instanceof CodedError) return error.message;
    throw error;
  }
}

/** Adds the owner of a file version to what a read answers; a persistent file has no `session` key at all. */
function withSession<T extends object>(answer: T, version: FileVersion): T & { session?: string } {
  return version.session === undefined ? answer : { ...answer, session: version.session };
}

/** An outcome is remembered for retries, so no caller may change it afterwards. */
function freezeOutcome(outcome: MutationOutcome): MutationOutcome {
  if (outcome.error !== undefined) Object.freeze(outcome.error);
  if (outcome.results !== undefined) {
    for (const result of outcome.results) Object.freeze(result);
    Object.freeze(outcome.results);
  }
  return Object.freeze(outcome);
}

const hexByte = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));

function toHex(bytes: Uint8Array): string {
  let hex = "";
  for (const byte of bytes) hex += hexByte[byte];
  return hex;
}
