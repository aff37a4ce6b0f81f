// The tree of files the viewer shows, kept in memory: built from a WALK and
// kept current by watch events. Directories are implicit, as in the store: one
// exists while a file lies below it. No DOM here: the view flattens the
// expanded part of the tree into rows and draws only the visible ones.

import { ancestorsOf, nameOf, parentOf, rootPath } from "../core/path";

export interface FileEntry {
  kind: "file";
  path: string;
  name: string;
  rev: number;
  value: Uint8Array;
  /** The session that owns this file (an ephemeral file, SPEC §6); undefined for a persistent one. */
  session: string | undefined;
}

/**
 * Who owns a file being set: a session id, `null` for nobody (persistent), or
 * `undefined` when the source does not say (the owner is learnt later from
 * GET /v1/sessions, see `setOwners`).
 */
export type Owner = string | null | undefined;

export interface DirEntry {
  kind: "dir";
  path: string;
  name: string;
  children: Map<string, Entry>;
  /** Files anywhere below: shown beside a folded directory. */
  fileCount: number;
  /** The children in byte order, cached until a child comes or goes. */
  sorted: Entry[] | undefined;
}

export type Entry = FileEntry | DirEntry;

/** One line of the flattened tree. */
export interface Row {
  entry: Entry;
  depth: number;
  expanded: boolean;
}

export class TreeModel {
  readonly root: DirEntry = newDir(rootPath, "");
  private readonly index = new Map<string, Entry>([[rootPath, this.root]]);
  /** The ephemeral files, by path. */
  private readonly owned = new Map<string, FileEntry>();
  /** Grows on every change, so that a view knows when its rows are out of date. */
  version = 0;

  get fileCount(): number {
    return this.root.fileCount;
  }

  /** Files owned by a session now. */
  get ephemeralCount(): number {
    return this.owned.size;
  }

  get(path: string): Entry | undefined {
    return this.index.get(path);
  }

  /** Writes a file, creating its directories. An `undefined` owner keeps the one it had (a new file: none). */
  set(path: string, rev: number, value: Uint8Array, owner?: Owner): void {
    this.version++;
    const existing = this.index.get(path);
    if (existing?.kind === "file") {
      existing.rev = rev;
      existing.value = value;
      if (owner !== undefined) this.own(existing, owner ?? undefined);
      return;
    }
    // The store never lets a file and a directory share a path; a model that
    // disagreed would be stale, and the next resync repairs it.
    if (existing) return;
    let dir = this.root;
    for (const dirPath of ancestorsOf(path)) {
      const next = this.index.get(dirPath);
      if (next?.kind === "file") return;
      if (next) {
        dir = next;
        continue;
      }
      const created = newDir(dirPath, nameOf(dirPath));
      this.adopt(dir, created);
      dir = created;
    }
    const file: FileEntry = { kind: "file", path, name: nameOf(path), rev, value, session: undefined };
    this.adopt(dir, file);
    this.own(file, owner ?? undefined);
    this.countFiles(path, +1);
  }

  /**
   * The owners as GET /v1/sessions saw them at store rev `rev`: every file whose
   * rev is at most `rev` was that version then, so the answer says who owns it
   * (a file not listed is persistent). A newer file is left as it is: the
   * answer says nothing about it. `complete`: the answer lists every live
   * session. Returns the paths whose owner changed.
   */
  setOwners(rev: number, owners: ReadonlyMap<string, string>, complete = true): string[] {
    const changed: string[] = [];
    const check = (file: FileEntry) => {
      if (file.rev > rev) return;
      const owner = owners.get(file.path);
      if (owner === file.session) return;
      this.own(file, owner);
      changed.push(file.path);
    };
    for (const path of owners.keys()) {
      const entry = this.index.get(path);
      if (entry?.kind === "file") check(entry);
    }
    // Files that were owned and are no longer listed (persistent again, or not yet deleted);
    // unless the answer was cut short, and its missing sessions may still own them.
    if (complete) for (const file of [...this.owned.values()]) if (!owners.has(file.path)) check(file);
    if (changed.length > 0) this.version++;
    return changed;
  }

  /** The files owned by a session now. */
  ownedFiles(): Iterable<FileEntry> {
    return this.owned.values();
  }

  private own(file: FileEntry, session: string | undefined): void {
    file.session = session;
    if (session === undefined) this.owned.delete(file.path);
    else this.owned.set(file.path, file);
  }

  /** Removes a file; directories left empty vanish with it. */
  delete(path: string): void {
    const entry = this.index.get(path);
    if (entry?.kind !== "file") return;
    this.version++;
    this.countFiles(path, -1);
    this.owned.delete(path);
    let child: Entry = entry;
    for (;;) {
      const parent = this.index.get(parentOf(child.path)) as DirEntry;
      parent.children.delete(child.name);
      parent.sorted = undefined;
      this.index.delete(child.path);
      if (parent === this.root || parent.children.size > 0) return;
      child = parent;
    }
  }

  /** The visible rows: every entry whose ancestors are all expanded, depth first in byte order. */
  rows(expanded: ReadonlySet<string>): Row[] {
    const rows: Row[] = [];
    const visit = (dir: DirEntry, depth: number) => {
      for (const entry of sortedChildren(dir)) {
        const open = entry.kind === "dir" && expanded.has(entry.path);
        rows.push({ entry, depth, expanded: open });
        if (open) visit(entry as DirEntry, depth + 1);
      }
    };
    visit(this.root, 0);
    return rows;
  }

  private adopt(dir: DirEntry, entry: Entry): void {
    dir.children.set(entry.name, entry);
    dir.sorted = undefined;
    this.index.set(entry.path, entry);
  }

  private countFiles(path: string, delta: number): void {
    this.root.fileCount += delta;
    for (const dirPath of ancestorsOf(path)) {
      const dir = this.index.get(dirPath);
      if (dir?.kind === "dir") dir.fileCount += delta;
    }
  }
}

function newDir(path: string, name: string): DirEntry {
  return { kind: "dir", path, name, children: new Map(), fileCount: 0, sorted: undefined };
}

/** Names are ASCII, so comparing UTF-16 code units is the store's byte order. */
function sortedChildren(dir: DirEntry): Entry[] {
  dir.sorted ??= [...dir.children.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return dir.sorted;
}
