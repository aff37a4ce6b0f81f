// The read queries a replica answers, as plain data: the Worker sends them to
// an acceptor Durable Object over RPC and the core executes them on the store.

import type { ErrorCode, ErrorDetails } from "./errors";
import { CodedError } from "./errors";
import type { Slot } from "./paxos/messages";
import type { SessionInfo, Store, StoreEvent, WalkFile } from "./store";

/**
 * `session` and `sessions` read the live sessions, which have no history:
 * they answer at the store's current rev only, so a caller sends them without
 * a `rev` (a past rev is a caller's bug).
 */
export type ReadQuery =
  | { op: "rev" }
  | { op: "get"; path: string }
  | { op: "stat"; path: string }
  | { op: "getdir"; path: string; offset: number; limit: number }
  | { op: "walk"; glob: string; offset: number; limit: number }
  | { op: "session"; session: string }
  | { op: "sessions"; offset: number; limit: number };

/** `session` on get, stat and each walk file: the owner at the rev read, absent for a persistent file (SPEC §6). */
export type ReadResult =
  | { op: "rev" }
  | { op: "get"; value: Uint8Array; rev: number; session?: string }
  | { op: "stat"; len: number; rev: number; session?: string }
  | { op: "getdir"; entries: string[] }
  | { op: "walk"; files: WalkFile[] }
  | ({ op: "session" } & SessionInfo)
  | { op: "sessions"; sessions: SessionInfo[] };

export interface ReadRequest {
  query: ReadQuery;
  /** Read the tree as it was at this rev (default: the replica's current rev). */
  rev?: number;
  /** Do not answer before the replica has applied this slot: the read barrier of a linearizable read. */
  minSlot?: Slot;
  /** How long to wait for `minSlot`, in ms: a replica that stays behind hands the read back to the Worker. */
  catchUpMs?: number;
  /** How long to wait for `rev`, in ms. */
  timeoutMs: number;
}

export interface WaitRequest {
  glob: string;
  rev: number;
  minSlot?: Slot;
  catchUpMs?: number;
  timeoutMs: number;
}

/** An error as it crosses RPC: a value, since an Error object loses its fields on the way. */
export interface ErrorValue extends ErrorDetails {
  code: ErrorCode;
  message: string;
}

/** Where the replica stood when it answered: the Worker checks it against the read barrier. */
export interface ReplicaPosition {
  chosenThrough: Slot;
  storeRev: number;
}

export type ReadReply =
  | ({ ok: true; result: ReadResult; readAt: number } & ReplicaPosition)
  | ({ ok: false; error: ErrorValue } & ReplicaPosition);

export type WaitReply =
  | ({ ok: true; event: StoreEvent | undefined } & ReplicaPosition)
  | ({ ok: false; error: ErrorValue } & ReplicaPosition);

export function executeRead(store: Store, query: ReadQuery, atRev: number): ReadResult {
  switch (query.op) {
    case "rev":
      return { op: "rev" };
    case "get":
      return { op: "get", ...store.get(query.path, atRev) };
    case "stat":
      return { op: "stat", ...store.stat(query.path, atRev) };
    case "getdir":
      return { op: "getdir", entries: store.getdir(query.path, atRev, query.offset, query.limit) };
    case "walk":
      return { op: "walk", files: store.walk(query.glob, atRev, query.offset, query.limit) };
    case "session": {
      currentOnly(store, atRev);
      const session = store.session(query.session);
      if (session === undefined) {
        throw new CodedError("NOSESSION", `session ${query.session} is unknown or has ended`);
      }
      return { op: "session", ...session };
    }
    case "sessions":
      currentOnly(store, atRev);
      return { op: "sessions", sessions: store.sessions(query.offset, query.limit) };
  }
}

function currentOnly(store: Store, atRev: number): void {
  if (atRev !== store.rev)
    throw new Error(`sessions are read at the current rev ${store.rev}, not at ${atRev}`);
}

export function toErrorValue(error: unknown): ErrorValue {
  if (error instanceof CodedError) return { code: error.code, message: error.message, ...error.details };
  return { code: "OTHER", message: error instanceof Error ? error.message : String(error) };
}
