// State transfer: how a replica that needs slots its peers have trimmed from
// their logs gets the store's whole state from one of them instead, in
// bounded chunks that all describe the source's store at one slot S (its rev
// R), and then goes on with ordinary log catch-up from S + 1
// (docs/PROTOCOL.md, "Log trimming and state transfer").
//
// The state at S is the tree as of R (the source keeps the versions readable
// at R while it is pinned: transfer-pin.ts), the live sessions and the
// remembered mutation outcomes (copied once, when the pin is taken, since
// neither is versioned). Everything else is derived by the receiver: which
// files each session owns (a file's version names its owner), the live bytes,
// the rev. The chunk order is fixed by the state alone (paths, session ids,
// the outcomes' order), so a cursor means the same thing at every source
// pinned at the same slot, and a receiver that crashed can resume.

import { assert } from "./assert";
import { transferChunkBytesMax, transferChunkItemsMax } from "./limits";
import type { MutationOutcome } from "./mutation";
import type { Slot } from "./paxos/messages";
import type { PinnedState } from "./transfer-pin";
import type { PresentVersion } from "./tree";

/** Where a chunk starts: the parts go in this order, each in its own order. */
export type TransferCursor =
  | { part: "files"; afterPath: string }
  | { part: "sessions"; afterSession: string }
  | { part: "outcomes"; afterIndex: number };

/** A path present at the transfer's rev: a file with its value and owner, or a directory. */
export type TransferFile =
  | { path: string; rev: number; kind: "file"; value: Uint8Array; session?: string }
  | { path: string; rev: number; kind: "dir" };

export interface TransferSession {
  session: string;
  ttlMs: number;
}

/** A remembered mutation outcome; `index` is its place in the order the store would forget them (1 = first). */
export interface TransferOutcome {
  index: number;
  id: string;
  outcome: MutationOutcome;
}

/** The items of one chunk, in the parts' order. */
export interface TransferItems {
  files: TransferFile[];
  sessions: TransferSession[];
  outcomes: TransferOutcome[];
}

/**
 * Between acceptors: send me a chunk of your store's state. Without `slot`,
 * start (or join) a transfer at your applied slot; with it, go on with the
 * transfer at that slot. `aboveSlot` is the asker's applied slot: a state at
 * or below it is of no use.
 */
export interface TransferRequest {
  type: "transfer";
  slot?: Slot;
  aboveSlot: Slot;
  cursor: TransferCursor;
}

export type TransferReply =
  | ({
      type: "transfer-chunk";
      slot: Slot;
      rev: number;
      /** The session keeper's term in force at the slot. */
      keeperTerm: number;
      /** The leader's term in force at the slot, and its acceptor (core/leader-term.ts). */
      leaderTerm: number;
      leader: number;
      cursor: TransferCursor;
      /** Where the next chunk starts; absent when this was the last one. */
      next?: TransferCursor;
    } & TransferItems)
  /** The source holds no state at that slot (any more), or none above `aboveSlot`: start again. */
  | { type: "transfer-refused"; reason: string };

/** A receiver's progress, kept durable beside the chunks it staged. */
export interface StagedTransfer {
  slot: Slot;
  rev: number;
  /** The session keeper's term in force at the slot (store.ts, keeper-claim). */
  keeperTerm: number;
  /** The leader's term in force at the slot, and its acceptor (store.ts, leader-move). */
  leaderTerm: number;
  leader: number;
  /** Where the next chunk starts; undefined once every chunk is staged. */
  next: TransferCursor | undefined;
  /** The sum over the staged files of their path and value bytes: the store's live bytes at `rev`. */
  liveBytes: number;
}

/** What a backend reads for a transfer's source: the tree as of a rev, and the copy taken when the pin was. */
export interface TransferSource {
  /** Copies the live sessions and the remembered outcomes as they are now; replaces an earlier copy. */
  takeTransferSnapshot(): void;
  dropTransferSnapshot(): void;
  /** Paths present at `rev` after `afterPath` in bytewise order, at most `limit`; a file's value may load only when read. */
  presentAt(rev: number, afterPath: string, limit: number): { path: string; version: PresentVersion }[];
  /** The copied sessions after `afterSession`, by id. */
  snapshotSessions(afterSession: string, limit: number): TransferSession[];
  /** The copied outcomes after `afterIndex`, in order. */
  snapshotOutcomes(afterIndex: number, limit: number): TransferOutcome[];
}

/** What a backend keeps for a transfer's receiver: a staging area beside the store, and the switch-over. */
export interface TransferStaging {
  stagedTransfer(): StagedTransfer | undefined;
  /** Adds a chunk's items to the staging area and records the progress; called inside one transaction. */
  stage(progress: StagedTransfer, items: TransferItems): void;
  clearStaged(): void;
  /**
   * Replaces the store with the staged state, at `slot`; called inside the
   * transaction that also drops the log through that slot. The history
   * starts at the staged rev: nothing older is readable.
   */
  installStaged(): void;
}

/** Times one transfer starts again (its source released the state, or another was pinned) before the catch-up gives it up. */
export const transferRestartsMax = 2;

const startCursor: TransferCursor = { part: "files", afterPath: "" };

/** The first request of a transfer, or the one that resumes a staged one. */
export function transferRequest(staged: StagedTransfer | undefined, appliedSlot: Slot): TransferRequest {
  if (staged?.next === undefined) return { type: "transfer", aboveSlot: appliedSlot, cursor: startCursor };
  return { type: "transfer", slot: staged.slot, aboveSlot: appliedSlot, cursor: staged.next };
}

/** What an item costs against a chunk's bytes beyond its own bytes: its keys and the message's framing, roughly. */
const itemOverheadBytes = 64;

/**
 * One chunk of the state at (`slot`, `rev`) from `cursor` on, at most
 * `bytesMax` bytes and `itemsMax` items (never empty while items remain: one
 * file is at most a value and a path, well below the bound). A part that ends
 * with room left goes on with the next part in the same chunk.
 */
export function readTransferChunk(
  source: TransferSource,
  pinned: PinnedState,
  cursor: TransferCursor,
  bytesMax = transferChunkBytesMax,
  itemsMax = transferChunkItemsMax,
): TransferReply {
  const reply: TransferReply & { type: "transfer-chunk" } = {
    type: "transfer-chunk",
    ...pinned,
    cursor,
    files: [],
    sessions: [],
    outcomes: [],
  };
  let bytes = 0;
  let items = 0;
  /** Takes an item of `size` bytes if it fits; the first always does. */
  const fits = (size: number) => {
    const cost = size + itemOverheadBytes;
    if (items > 0 && (bytes + cost > bytesMax || items >= itemsMax)) return false;
    bytes += cost;
    items++;
    return true;
  };
  // Read a page at a time, so that neither side holds more than a chunk.
  const page = Math.min(itemsMax, 256);
  let at: TransferCursor = cursor;
  for (;;) {
    switch (at.part) {
      case "files": {
        const files = source.presentAt(pinned.rev, at.afterPath, page);
        for (const { path, version } of files) {
          if (!fits(path.length + (version.kind === "file" ? version.size : 0)))
            return { ...reply, next: at };
          reply.files.push(transferFile(path, version));
          at = { part: "files", afterPath: path };
        }
        if (files.length < page) at = { part: "sessions", afterSession: "" };
        break;
      }
      case "sessions": {
        const sessions = source.snapshotSessions(at.afterSession, page);
        for (const session of sessions) {
          if (!fits(session.session.length)) return { ...reply, next: at };
          reply.sessions.push(session);
          at = { part: "sessions", afterSession: session.session };
        }
        if (sessions.length < page) at = { part: "outcomes", afterIndex: 0 };
        break;
      }
      case "outcomes": {
        const outcomes = source.snapshotOutcomes(at.afterIndex, page);
        for (const outcome of outcomes) {
          if (!fits(outcome.id.length + JSON.stringify(outcome.outcome).length))
            return { ...reply, next: at };
          reply.outcomes.push(outcome);
          at = { part: "outcomes", afterIndex: outcome.index };
        }
        // The last part: the chunk that ends it is the last one.
        if (outcomes.length < page) return reply;
        break;
      }
    }
  }
}

/** A plain copy of a version, its value loaded now (only once it fits in the chunk). */
function transferFile(path: string, version: PresentVersion): TransferFile {
  if (version.kind === "dir") return { path, rev: version.rev, kind: "dir" };
  const file: TransferFile = { path, rev: version.rev, kind: "file", value: version.value };
  if (version.session !== undefined) file.session = version.session;
  return file;
}

/** The receiver's progress after staging `chunk`, checking it continues what was staged. */
export function progressAfter(
  staged: StagedTransfer | undefined,
  chunk: TransferReply & { type: "transfer-chunk" },
): StagedTransfer {
  const continuing = staged !== undefined && staged.next !== undefined;
  assert(
    !continuing || (chunk.slot === staged.slot && chunk.rev === staged.rev),
    () => `state transfer: a chunk at slot ${chunk.slot} continues a transfer at slot ${staged?.slot}`,
  );
  let liveBytes = continuing ? staged.liveBytes : 0;
  for (const file of chunk.files) if (file.kind === "file") liveBytes += file.path.length + file.value.length;
  return {
    slot: chunk.slot,
    rev: chunk.rev,
    keeperTerm: chunk.keeperTerm,
    leaderTerm: chunk.leaderTerm,
    leader: chunk.leader,
    next: chunk.next,
    liveBytes,
  };
}
