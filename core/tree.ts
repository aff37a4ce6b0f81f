// The store's tree with its recent past: what every path is now, and what it
// was at every rev still in the history window.
//
// Each path has a history: a list of versions, each saying what the path is
// (a file with its value, a directory, or nothing) from its rev on. A
// directory's existence is a version too, written when its first file appears
// and when its last file goes, so that a read at a past rev finds any path's
// kind with one binary search. History leaves the window one rev at a time:
// every version written is queued, and when the window passes it the older
// versions of its path, and at last the path itself, are dropped. So the tree
// holds the live files plus the changes in the window, never more.

import { RevList } from "./history";
import { ancestorsOf, joinPath, nameOf, parentOf, rootPath } from "./path";
import type { TreeStore } from "./store-backend";

/**
 * What a path is from `rev` until its next version. A file's rev is the rev of
 * the version that wrote it; its `session`, when present, is the session that
 * owned it from then on (SPEC §6), kept per version so a read at a past rev
 * shows the owner at that rev.
 */
export type Version =
  | FileVersion
  | { readonly rev: number; readonly kind: "dir" }
  | { readonly rev: number; readonly kind: "none" };
export interface FileVersion {
  readonly rev: number;
  readonly kind: "file";
  /** The value's length: what checks and counters need, without loading a value a backend keeps on disk. */
  readonly size: number;
  readonly value: Uint8Array;
  readonly session?: string;
}
export type PresentVersion = Exclude<Version, { kind: "none" }>;

export interface Entry {
  name: string;
  path: string;
  version: PresentVersion;
}

interface PathHistory {
  readonly versions: RevList<Version>;
  /** Names of the children that have a history (present now or at some rev in the window). */
  readonly children: Set<string>;
  /** `children` sorted bytewise, computed on the first read after a name comes or goes. */
  sortedChildren: string[] | undefined;
  /** Children present now: the entry count, and whether the directory must vanish. */
  liveChildren: number;
}

/** A version written at `rev`: once the window passes `rev`, the versions before it are unreadable. */
interface WrittenVersion {
  readonly rev: number;
  readonly path: string;
}

/** The tree in memory: the simulator's and the core tests' backend. */
export class VersionedTree implements TreeStore {
  private readonly histories = new Map<string, PathHistory>();
  private readonly written = new RevList<WrittenVersion>();
  /** The rev of the newest version: a read at it or later is a read of now. */
  private latestRev = 0;

  constructor() {
    // The root always exists and is never written, so its history is this one version.
    const root = newHistory();
    root.versions.push({ rev: 0, kind: "dir" });
    this.histories.set(rootPath, root);
  }

  /** What `path` is now, or undefined if nothing. */
  current(path: string): PresentVersion | undefined {
    const version = this.histories.get(path)?.versions.last();
    return isPresent(version) ? version : undefined;
  }

  /** What `path` was at `rev` (the caller keeps `rev` within the window), or undefined if nothing. */
  at(path: string, rev: number): PresentVersion | undefined {
    const version = this.histories.get(path)?.versions.inForceAt(rev);
    return isPresent(version) ? version : undefined;
  }

  /** The number of entries directory `dir` holds now. */
  liveEntryCount(dir: string): number {
    return this.histories.get(dir)?.liveChildren ?? 0;
  }

  /**
   * The entries of directory `dir` at `rev` from the `offset`-th on, in
   * bytewise order of name. Touches only `dir`'s children.
   */
  *entriesAt(dir: string, rev: number, offset = 0): Generator<Entry> {
    const history = this.histories.get(dir);
    if (history === undefined) return;
    history.sortedChildren ??= [...history.children].sort();
    const names = history.sortedChildren;
    let first = 0;
    let toSkip = offset;
    // When every name is present, the offset-th entry is the offset-th name:
    // paging through a large directory then costs one page per page.
    if (rev >= this.latestRev && history.liveChildren === names.length) {
      first = offset;
      toSkip = 0;
    }
    for (let index = first; index < names.length; index++) {
      const name = names[index] as string;
      const path = joinPath(dir, name);
      const version = this.at(path, rev);
      if (version === undefined) continue;
      if (toSkip > 0) toSkip--;
      else yield { name, path, version };
    }
  }

  /**
   * Makes `version` what `path` is from its rev on. The caller keeps the tree
   * whole: a path's parent is a directory whenever the path is present.
   */
  write(path: string, version: Version): void {
    if (path === rootPath) throw new Error("VersionedTree.write: the root is never written");
    const parent = this.histories.get(parentOf(path));
    if (parent === undefined) throw new Error(`VersionedTree.write: ${path} has no parent history`);
    let history = this.histories.get(path);
    if (history === undefined) {
      history = newHistory();
      this.histories.set(path, history);
      parent.children.add(nameOf(path));
      parent.sortedChildren = undefined;
    }
    const wasPresent = isPresent(history.versions.last());
    history.versions.push(version);
    this.written.push({ rev: version.rev, path });
    this.latestRev = version.rev;
    if (wasPresent !== isPresent(version)) parent.liveChildren += wasPresent ? -1 : 1;
  }

  /** Drops what no read at `oldest` or later can see; amortized O(1) per version written. */
  forgetBefore(oldest: number): void {
    for (
      let next = this.written.first();
      next !== undefined && next.rev <= oldest;
      next = this.written.first()
    ) {
      this.written.dropFirst(1);
      this.forgetPathBefore(next.path, oldest);
    }
  }

  /**
   * Paths present at `rev` after `afterPath` in bytewise order, at most
   * `limit`. Sorts every path it holds: this tree is the simulator's and the
   * tests', whose stores are small; the SQLite tree reads its index instead.
   */
  presentAt(rev: number, afterPath: string, limit: number): { path: string; version: PresentVersion }[] {
    const found: { path: string; version: PresentVersion }[] = [];
    const paths = [...this.histories.keys()].filter((path) => path > afterPath && path !== rootPath).sort();
    for (const path of paths) {
      if (found.length >= limit) break;
      const version = this.at(path, rev);
      if (version !== undefined) found.push({ path, version });
    }
    return found;
  }

  /**
   * Makes `version` the only version of `path`, present from its rev on, as a
   * state transfer installs it: the parent comes first (bytewise order puts
   * it there), and nothing is queued for forgetting, since nothing older exists.
   */
  restore(path: string, version: PresentVersion): void {
    const parent = this.histories.get(parentOf(path));
    if (parent === undefined || this.histories.has(path)) {
      throw new Error(`VersionedTree.restore: ${path} has no parent, or is restored twice`);
    }
    const history = newHistory();
    history.versions.push(version);
    this.histories.set(path, history);
    parent.children.add(nameOf(path));
    parent.sortedChildren = undefined;
    parent.liveChildren++;
    if (version.rev > this.latestRev) this.latestRev = version.rev;
  }

  /** How much the tree holds, for tests that check history stays bounded. O(paths). */
  debugSizes(): { paths: number; versions: number; pendingVersions: number } {
    let versions = 0;
    for (const history of this.histories.values()) versions += history.versions.length;
    return { paths: this.histories.size, versions, pendingVersions: this.written.length };
  }

  /** Keeps only the versions of `path` readable at `oldest` or later; drops the path once it is absent throughout. */
  private forgetPathBefore(path: string, oldest: number): void {
    const history = this.histories.get(path);
    if (history === undefined) return; // already dropped on an earlier version's turn
    const versions = history.versions;
    versions.dropFirst(versions.firstIndexFrom(oldest + 1) - 1);
    const only = versions.length === 1 ? versions.first() : undefined;
    if (only?.kind !== "none" || only.rev > oldest) return;
    // A child is absent whenever its parent is, and its last version was queued no later, so it is gone already.
    if (history.children.size > 0) throw new Error(`VersionedTree: dropping ${path} before its children`);
    const parent = this.histories.get(parentOf(path));
    if (parent === undefined) throw new Error(`VersionedTree: ${path} outlived its parent`);
    this.histories.delete(path);
    parent.children.delete(nameOf(path));
    parent.sortedChildren = undefined;
  }
}

function newHistory(): PathHistory {
  return {
    versions: new RevList<Version>(),
    children: new Set(),
    sortedChildren: undefined,
    liveChildren: 0,
  };
}

function isPresent(version: Version | undefined): version is PresentVersion {
  return version !== undefined && version.kind !== "none";
}

/** What a write's checks need to know of a tree: what each path is now. */
export interface TreeView {
  current(path: string): PresentVersion | undefined;
}

/** A write staged in a draft, to be made in order once the whole change has passed its checks. */
export type StagedWrite =
  | { readonly op: "set"; readonly path: string; readonly value: Uint8Array; readonly session?: string }
  | { readonly op: "del"; readonly path: string };

const draftDirVersion: PresentVersion = { rev: -2, kind: "dir" };

/**
 * The tree as a change in progress would leave it, without touching the tree:
 * a transaction checks each op against the ops before it here, and only if
 * every item passes are the staged writes made, so a failed change leaves no
 * trace. Directories stay implicit: a directory's live entry count is the
 * tree's plus what the draft added or removed, and a path that is no file is a
 * directory while that count is above zero.
 */
export class TreeDraft implements TreeView {
  /** Files the draft wrote (a version) or deleted (null). */
  private readonly files = new Map<string, FileVersion | null>();
  private readonly entryCountDeltas = new Map<string, number>();
  private readonly staged: (StagedWrite | undefined)[] = [];
  /** How much the staged writes change the sum of path and value bytes (SPEC §8). */
  bytesDelta = 0;

  constructor(private readonly tree: TreeStore) {}

  /** One entry per staged set or del; undefined for a del of a missing file, which changes nothing. */
  get writes(): readonly (StagedWrite | undefined)[] {
    return this.staged;
  }

  current(path: string): PresentVersion | undefined {
    const drafted = this.files.get(path);
    if (drafted) return drafted;
    if (drafted === undefined) {
      const base = this.tree.current(path);
      if (base?.kind === "file") return base;
    }
    if (path === rootPath || this.entryCount(path) > 0) return draftDirVersion;
    return undefined;
  }

  /** Stages a set that the caller checked: `path` is no directory and has no file above it. `rev` is the rev it will be written at. */
  set(path: string, value: Uint8Array, session: string | undefined, rev: number): void {
    const before = this.current(path);
    if (before?.kind === "dir") throw new Error(`TreeDraft.set: ${path} is a directory`);
    const size = value.length;
    this.files.set(path, { rev, kind: "file", size, value, ...(session === undefined ? {} : { session }) });
    this.bytesDelta += path.length + size - (before ? path.length + before.size : 0);
    this.staged.push(
      session === undefined ? { op: "set", path, value } : { op: "set", path, value, session },
    );
    if (before !== undefined) return;
    // The new file is an entry of its parent, which may itself be new, up to a directory that exists.
    for (let child = path; child !== rootPath; child = parentOf(child)) {
      const parent = parentOf(child);
      const existed = parent === rootPath || this.entryCount(parent) > 0;
      this.addEntries(parent, 1);
      if (existed) return;
    }
  }

  /** Stages a del that the caller checked: `path` is no directory. Deleting a missing file stages nothing. */
  del(path: string): void {
    const before = this.current(path);
    if (before?.kind === "dir") throw new Error(`TreeDraft.del: ${path} is a directory`);
    if (before === undefined) {
      this.staged.push(undefined);
      return;
    }
    this.files.set(path, null);
    this.bytesDelta -= path.length + before.size;
    this.staged.push({ op: "del", path });
    // Empty parent directories vanish, up to one that still holds something.
    for (let child = path; child !== rootPath; child = parentOf(child)) {
      const parent = parentOf(child);
      this.addEntries(parent, -1);
      if (parent === rootPath || this.entryCount(parent) > 0) return;
    }
  }

  private entryCount(dir: string): number {
    return this.tree.liveEntryCount(dir) + (this.entryCountDeltas.get(dir) ?? 0);
  }

  private addEntries(dir: string, delta: number): void {
    this.entryCountDeltas.set(dir, (this.entryCountDeltas.get(dir) ?? 0) + delta);
  }
}

/** The innermost ancestor of `path` that is a file in `view`, if any. */
export function fileAbove(view: TreeView, path: string): string | undefined {
  for (const dir of ancestorsOf(path).reverse()) {
    const kind = view.current(dir)?.kind;
    if (kind === "file") return dir;
    // Above a directory there are only directories.
    if (kind === "dir") return undefined;
  }
  return undefined;
}
