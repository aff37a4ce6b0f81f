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
import { joinPath, nameOf, parentOf, rootPath } from "./path";

/** What a path is from `rev` until its next version. A file's rev is the rev of the version that wrote it. */
export type Version =
  | { readonly rev: number; readonly kind: "file"; readonly value: Uint8Array }
  | { readonly rev: number; readonly kind: "dir" }
  | { readonly rev: number; readonly kind: "none" };
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

export class VersionedTree {
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
