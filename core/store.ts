// The Doozer store (SPEC §1) as a deterministic state machine: decided
// mutations go in, in rev order; reads at the current rev or at any rev still
// in the history window come out. Every replica that applies the same log
// holds the same store. The tree and its past live in VersionedTree; here are
// Doozer's rules: the rev checks, implicit directories, events, retries, and
// the edges of the window.

import { DoozerError } from "./errors";
import { compileGlob } from "./glob";
import { RevList } from "./history";
import { dedupMutationsMax, historyRevsDefault, pageEntriesMax, valueBytesMax } from "./limits";
import type { ApplyErrorCode, Mutation, MutationOutcome } from "./mutation";
import { ancestorsOf, rootPath, validatePath } from "./path";
import { VersionedTree } from "./tree";

export interface StoreOptions {
  /** Revs of history kept for reads at a past rev and for events (default historyRevsDefault). */
  historyRevs?: number;
  /** Mutation ids remembered so that a retried write applies once (default dedupMutationsMax). */
  dedupMax?: number;
}

/** A SET, or a DEL that removed a file: what WAIT and WATCH report. `value` is empty for a DEL. */
export interface StoreEvent {
  rev: number;
  path: string;
  op: "set" | "del";
  value: Uint8Array;
}

const emptyValue = new Uint8Array(0);

export class Store {
  private storeRev = 0;
  private readonly historyRevs: number;
  private readonly dedupMax: number;
  private readonly tree = new VersionedTree();
  private readonly events = new RevList<StoreEvent>();
  /** The outcome of each remembered mutation id, oldest first (a Map keeps insertion order). */
  private readonly outcomesById = new Map<string, MutationOutcome>();

  constructor(options: StoreOptions = {}) {
    this.historyRevs = options.historyRevs ?? historyRevsDefault;
    this.dedupMax = options.dedupMax ?? dedupMutationsMax;
    if (!Number.isSafeInteger(this.historyRevs) || this.historyRevs < 0) {
      throw new Error(`Store: historyRevs must be a non-negative integer, not ${this.historyRevs}`);
    }
    if (!Number.isSafeInteger(this.dedupMax) || this.dedupMax < 0) {
      throw new Error(`Store: dedupMax must be a non-negative integer, not ${this.dedupMax}`);
    }
  }

  /** The rev of the last applied change; 0 when new. */
  get rev(): number {
    return this.storeRev;
  }

  /** The oldest rev still readable. */
  get oldestRev(): number {
    return Math.max(0, this.storeRev - this.historyRevs);
  }

  /** Applies a decided batch in order; one outcome per mutation. */
  apply(mutations: readonly Mutation[]): MutationOutcome[] {
    return mutations.map((mutation) => this.applyOne(mutation));
  }

  /** A file's value and rev. The value is the store's own: read it, never change it. */
  get(path: string, atRev?: number): { value: Uint8Array; rev: number } {
    validatePath(path);
    const version = this.tree.at(path, this.readableRev(atRev));
    if (version === undefined) throw new DoozerError("NOENT", `no such file: ${path}`, { rev: 0 });
    if (version.kind === "dir") throw new DoozerError("ISDIR", `${path} is a directory`);
    return { value: version.value, rev: version.rev };
  }

  /** A file: its length and rev; a directory: its entry count and rev -2; missing: length 0, rev 0. */
  stat(path: string, atRev?: number): { len: number; rev: number } {
    validatePath(path);
    const rev = this.readableRev(atRev);
    const version = this.tree.at(path, rev);
    if (version === undefined) return { len: 0, rev: 0 };
    if (version.kind === "file") return { len: version.value.length, rev: version.rev };
    return { len: this.entryCount(path, rev), rev: -2 };
  }

  /** The names in a directory, sorted bytewise, paged. */
  getdir(path: string, atRev?: number, offset = 0, limit = pageEntriesMax): string[] {
    validatePath(path);
    const rev = this.readableRev(atRev);
    const version = this.tree.at(path, rev);
    if (version === undefined) throw new DoozerError("NOENT", `no such directory: ${path}`);
    if (version.kind === "file") throw new DoozerError("NOTDIR", `${path} is a file`);
    const names: string[] = [];
    for (const entry of this.tree.entriesAt(path, rev, offset)) {
      if (names.length >= limit) break;
      names.push(entry.name);
    }
    return names;
  }

  /** The files matching `glob`, depth-first with each directory's entries in bytewise order, paged. */
  walk(
    glob: string,
    atRev?: number,
    offset = 0,
    limit = pageEntriesMax,
  ): { path: string; rev: number; value: Uint8Array }[] {
    const pattern = compileGlob(glob);
    const rev = this.readableRev(atRev);
    const files: { path: string; rev: number; value: Uint8Array }[] = [];
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
            files.push({ path, rev: version.rev, value: version.value });
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
    this.checkInWindow(fromRev);
    for (let index = this.events.firstIndexFrom(fromRev); index < this.events.length; index++) {
      const event = this.events.at(index) as StoreEvent;
      if (pattern.matches(event.path)) return event;
    }
    return undefined;
  }

  /** Every event at or after `fromRev`, in rev order (WATCH filters them). */
  eventsFrom(fromRev: number): readonly StoreEvent[] {
    this.checkInWindow(fromRev);
    return this.events.sliceFrom(fromRev);
  }

  /** The store rev and the whole current tree as text: replicas that applied the same log give equal text. */
  serialize(): string {
    const lines = [`rev ${this.storeRev}`];
    const visit = (dir: string): void => {
      for (const { path, version } of this.tree.entriesAt(dir, this.storeRev)) {
        if (version.kind === "dir") visit(path);
        else lines.push(`${path} ${version.rev} ${toHex(version.value)}`);
      }
    };
    visit(rootPath);
    return `${lines.join("\n")}\n`;
  }

  /** How much the store holds, for tests that check history stays bounded. O(paths). */
  debugSizes(): {
    paths: number;
    versions: number;
    pendingVersions: number;
    events: number;
    dedupIds: number;
  } {
    return { ...this.tree.debugSizes(), events: this.events.length, dedupIds: this.outcomesById.size };
  }

  // --- Applying mutations ---

  private applyOne(mutation: Mutation): MutationOutcome {
    if (mutation.id !== "") {
      const first = this.outcomesById.get(mutation.id);
      if (first !== undefined) return first;
    }
    this.storeRev++;
    const outcome = freezeOutcome(this.execute(mutation, this.storeRev));
    if (mutation.id !== "") this.remember(mutation.id, outcome);
    this.forgetOutsideWindow();
    return outcome;
  }

  private execute(mutation: Mutation, rev: number): MutationOutcome {
    switch (mutation.op) {
      case "nop":
        return { rev };
      case "set":
        return this.set(mutation.path, mutation.rev, mutation.value, rev);
      case "del":
        return this.del(mutation.path, mutation.rev, rev);
    }
  }

  private set(path: string, checkRev: number, value: Uint8Array, rev: number): MutationOutcome {
    const badPath = pathError(path);
    if (badPath !== undefined) return failure(rev, "BAD_PATH", badPath);
    if (value.length > valueBytesMax) {
      return failure(rev, "TOO_LARGE", `value of ${value.length} bytes for ${path} is over ${valueBytesMax}`);
    }
    const current = this.tree.current(path);
    if (current?.kind === "dir") return failure(rev, "ISDIR", `${path} is a directory`);
    const fileAbove = this.fileAbove(path);
    if (fileAbove !== undefined) {
      return failure(rev, "NOTDIR", `${fileAbove} is a file, so ${path} cannot be`);
    }
    const fileRev = current?.rev ?? 0;
    if (!passesRevCheck(checkRev, fileRev)) return revMismatch(rev, path, checkRev, fileRev);

    if (current === undefined) {
      for (const dir of ancestorsOf(path)) {
        if (this.tree.current(dir) === undefined) this.tree.write(dir, { rev, kind: "dir" });
      }
    }
    // The store owns its bytes: a caller may reuse the buffer it handed in.
    const stored = value.slice();
    this.tree.write(path, { rev, kind: "file", value: stored });
    this.events.push({ rev, path, op: "set", value: stored });
    return { rev };
  }

  private del(path: string, checkRev: number, rev: number): MutationOutcome {
    const badPath = pathError(path);
    if (badPath !== undefined) return failure(rev, "BAD_PATH", badPath);
    const current = this.tree.current(path);
    if (current?.kind === "dir") return failure(rev, "ISDIR", `${path} is a directory`);
    const fileRev = current?.rev ?? 0;
    if (!passesRevCheck(checkRev, fileRev)) return revMismatch(rev, path, checkRev, fileRev);
    if (current === undefined) return { rev };

    this.tree.write(path, { rev, kind: "none" });
    for (const dir of ancestorsOf(path).reverse()) {
      if (this.tree.liveEntryCount(dir) > 0) break;
      this.tree.write(dir, { rev, kind: "none" });
    }
    this.events.push({ rev, path, op: "del", value: emptyValue });
    return { rev };
  }

  /** The innermost ancestor of `path` that is a file now, if any. */
  private fileAbove(path: string): string | undefined {
    for (const dir of ancestorsOf(path).reverse()) {
      const kind = this.tree.current(dir)?.kind;
      if (kind === "file") return dir;
      // Above a directory there are only directories.
      if (kind === "dir") return undefined;
    }
    return undefined;
  }

  private remember(id: string, outcome: MutationOutcome): void {
    if (this.dedupMax === 0) return;
    this.outcomesById.set(id, outcome);
    if (this.outcomesById.size > this.dedupMax) {
      const oldest = this.outcomesById.keys().next();
      if (!oldest.done) this.outcomesById.delete(oldest.value);
    }
  }

  /** Drops what no read in the window can see; amortized O(1) per applied mutation. */
  private forgetOutsideWindow(): void {
    const oldest = this.oldestRev;
    this.tree.forgetBefore(oldest);
    this.events.dropFirst(this.events.firstIndexFrom(oldest));
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
      throw new DoozerError("TOO_LATE", message, {});
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

/** Callers validate paths before proposing; this keeps a bad one in the log from breaking the store. */
function pathError(path: string): string | undefined {
  try {
    validatePath(path);
    return undefined;
  } catch (error) {
    if (error instanceof DoozerError) return error.message;
    throw error;
  }
}

function failure(rev: number, code: ApplyErrorCode, message: string): MutationOutcome {
  return { rev, error: { code, message } };
}

function revMismatch(rev: number, path: string, checkRev: number, fileRev: number): MutationOutcome {
  return {
    rev,
    error: {
      code: "REV_MISMATCH",
      message: `${path} has rev ${fileRev}; the write expected rev ${checkRev}`,
      rev: fileRev,
    },
  };
}

/** An outcome is remembered for retries, so no caller may change it afterwards. */
function freezeOutcome(outcome: MutationOutcome): MutationOutcome {
  if (outcome.error !== undefined) Object.freeze(outcome.error);
  return Object.freeze(outcome);
}

const hexByte = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));

function toHex(bytes: Uint8Array): string {
  let hex = "";
  for (const byte of bytes) hex += hexByte[byte];
  return hex;
}
