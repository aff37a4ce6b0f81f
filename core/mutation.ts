// A mutation is one client write as it travels through a Paxos slot. A slot's
// value is a batch: mutations applied in order. Most consume one rev each; a
// session's end and a transaction may consume several, and the end of a
// session that is not alive consumes none (SPEC §6, §7).

import type { ErrorCode } from "./errors";

/** One write inside a transaction, checked against the tree as the ops before it left it. */
export type TxnOp =
  | { op: "set"; path: string; rev: number; value: Uint8Array; session?: string }
  | { op: "del"; path: string; rev: number };

/** Holds when the file's rev is exactly `rev` (0: the file does not exist), against the tree before the transaction. */
export interface TxnCheck {
  path: string;
  rev: number;
}

/** Why a session ends: only for logs and tests; both end it the same way. */
export type SessionEndReason = "client" | "expired";

/** `id` names one client intent: a retry carries the same id and applies at most once. */
export type Mutation =
  | {
      op: "set";
      id: string;
      path: string;
      rev: number;
      value: Uint8Array;
      /** The file becomes owned by this session; without it, the file is persistent. */
      session?: string;
    }
  | { op: "del"; id: string; path: string; rev: number }
  | { op: "nop"; id: string }
  /** Opens a session the proposer named (a random id); consumes one rev. */
  | { op: "session-open"; id: string; session: string; ttlMs: number }
  /** Ends a session and deletes its files: one rev per file, or one if it owns none; none if it is not alive. */
  /**
   * Ends a session and deletes its files: one rev per file, or one if it owns none; none if it is not alive.
   * An expiry names the keeper's term (core/keeper-lease.ts): under another term it changes nothing.
   */
  | { op: "session-end"; id: string; session: string; reason?: SessionEndReason; keeperTerm?: number }
  /** The session keeper's claim of a term above the store's (core/keeper-lease.ts); consumes no rev. */
  | { op: "keeper-claim"; id: string; term: number }
  /** The leader role moves to acceptor `leader` (its index) at `term`, above the store's (core/leader-term.ts); consumes no rev. */
  | { op: "leader-move"; id: string; term: number; leader: number }
  /** All or nothing: consumes one rev per op when every item passes, else one. */
  | { op: "txn"; id: string; checks: TxnCheck[]; ops: TxnOp[] };

/** The codes a decided mutation can fail with. */
export type ApplyErrorCode = Extract<
  ErrorCode,
  | "REV_MISMATCH"
  | "ISDIR"
  | "NOTDIR"
  | "BAD_PATH"
  | "TOO_LARGE"
  | "NOSESSION"
  | "NOSPACE"
  | "BAD_REQUEST"
  | "RANGE"
  | "OTHER"
>;

export interface MutationError {
  code: ApplyErrorCode;
  message: string;
  /** The file's rev as the failing write or item saw it: always on REV_MISMATCH, and on every txn item failure but BAD_PATH (-2 for a directory, 0 for a missing file). */
  rev?: number;
  /** Txn only: the failing item's path. */
  path?: string;
  /** Txn only: the index of the failing check in `checks`. */
  check?: number;
  /** Txn only: the index of the failing op in `ops` (NOSPACE: the last op). */
  op?: number;
}

/**
 * What applying one mutation did. `rev` is the last store rev it consumed (for
 * a retry: that its first copy consumed); when it consumed none, the store rev
 * at the time. A failure that consumed a rev reports `rev` as `error.storeRev`.
 */
export interface MutationOutcome {
  rev: number;
  /** Revs consumed when not exactly one: 0 (session-end of a session not alive), or k (k deletions, k txn ops). The first is `rev - revsConsumed + 1`. */
  revsConsumed?: number;
  /** session-open and session-end: the session. */
  session?: string;
  /** session-open: the session's ttl. */
  ttlMs?: number;
  /** txn that passed: one per op, the rev it consumed. */
  results?: { path: string; rev: number }[];
  error?: MutationError;
}

const opCodes = {
  set: 1,
  del: 2,
  nop: 3,
  setInSession: 4,
  sessionOpen: 5,
  sessionEnd: 6,
  txn: 7,
  keeperClaim: 8,
  leaderMove: 9,
} as const;
const reasonCodes: Record<SessionEndReason | "none", number> = { none: 0, client: 1, expired: 2 };
/** A session end's reason byte when the end is an expiry under a keeper's term (f64 term follows). */
const expiredInTermCode = 3;
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/**
 * Encodes a batch for the Paxos log. Binary, not JSON, so that a 1 MiB value
 * costs 1 MiB in every acceptor's storage and every message. Layout, with
 * text as (u16 length, UTF-8) and values as (u32 length, bytes):
 *   u32 count, then per mutation: u8 op, text id, and
 *   1 set: f64 rev, text path, value
 *   2 del: f64 rev, text path
 *   3 nop: nothing
 *   4 set in a session: f64 rev, text path, value, text session
 *   5 session-open: text session, f64 ttlMs
 *   6 session-end: text session, u8 reason (0 none, 1 client, 2 expired, 3 expired under a term: f64 term)
 *   7 txn: u16 checks, each f64 rev, text path; u16 ops, each u8 op (1, 2 or 4) and that op's fields as above
 *   8 keeper-claim: f64 term
 *   9 leader-move: f64 term, u16 leader
 * Codes 1–3 are the original layout: logs written before sessions decode unchanged.
 */
export function encodeBatch(mutations: readonly Mutation[]): Uint8Array {
  const out = new Writer();
  out.u32(mutations.length);
  for (const m of mutations) {
    switch (m.op) {
      case "set":
      case "del":
        writeFileOp(out, m, m.id);
        break;
      case "nop":
        out.u8(opCodes.nop);
        out.text(m.id);
        break;
      case "session-open":
        out.u8(opCodes.sessionOpen);
        out.text(m.id);
        out.text(m.session);
        out.f64(m.ttlMs);
        break;
      case "session-end":
        out.u8(opCodes.sessionEnd);
        out.text(m.id);
        out.text(m.session);
        if (m.keeperTerm !== undefined) {
          out.u8(expiredInTermCode);
          out.f64(m.keeperTerm);
        } else out.u8(reasonCodes[m.reason ?? "none"]);
        break;
      case "keeper-claim":
        out.u8(opCodes.keeperClaim);
        out.text(m.id);
        out.f64(m.term);
        break;
      case "leader-move":
        out.u8(opCodes.leaderMove);
        out.text(m.id);
        out.f64(m.term);
        out.u16(m.leader, "the leader");
        break;
      case "txn":
        out.u8(opCodes.txn);
        out.text(m.id);
        out.u16(m.checks.length, "checks");
        for (const check of m.checks) {
          out.f64(check.rev);
          out.text(check.path);
        }
        out.u16(m.ops.length, "ops");
        for (const op of m.ops) writeFileOp(out, op, undefined);
        break;
    }
  }
  return out.finish();
}

/** A set or del, at the top of a batch (`id` given) or inside a txn (no id). */
function writeFileOp(out: Writer, m: TxnOp, id: string | undefined): void {
  const inSession = m.op === "set" && m.session !== undefined;
  out.u8(m.op === "del" ? opCodes.del : inSession ? opCodes.setInSession : opCodes.set);
  if (id !== undefined) out.text(id);
  out.f64(m.rev);
  out.text(m.path);
  if (m.op === "set") {
    out.bytes(m.value);
    if (m.session !== undefined) out.text(m.session);
  }
}

export function decodeBatch(bytes: Uint8Array): Mutation[] {
  const input = new Reader(bytes);
  const count = input.u32();
  const mutations: Mutation[] = [];
  for (let i = 0; i < count; i++) {
    const op = input.u8();
    const id = input.text();
    switch (op) {
      case opCodes.nop:
        mutations.push({ op: "nop", id });
        break;
      case opCodes.set:
      case opCodes.del:
      case opCodes.setInSession:
        mutations.push({ ...readFileOp(input, op), id });
        break;
      case opCodes.sessionOpen: {
        const session = input.text();
        mutations.push({ op: "session-open", id, session, ttlMs: input.f64() });
        break;
      }
      case opCodes.sessionEnd: {
        const session = input.text();
        const reasonCode = input.u8();
        if (reasonCode === expiredInTermCode) {
          mutations.push({ op: "session-end", id, session, reason: "expired", keeperTerm: input.f64() });
          break;
        }
        const reason = reasonCode === 1 ? "client" : reasonCode === 2 ? "expired" : undefined;
        if (reasonCode > 2) throw new Error(`decodeBatch: unknown session end reason ${reasonCode}`);
        mutations.push(
          reason === undefined
            ? { op: "session-end", id, session }
            : { op: "session-end", id, session, reason },
        );
        break;
      }
      case opCodes.keeperClaim:
        mutations.push({ op: "keeper-claim", id, term: input.f64() });
        break;
      case opCodes.leaderMove: {
        const term = input.f64();
        mutations.push({ op: "leader-move", id, term, leader: input.u16() });
        break;
      }
      case opCodes.txn: {
        const checks: TxnCheck[] = [];
        for (let n = input.u16(); n > 0; n--) {
          const rev = input.f64();
          checks.push({ path: input.text(), rev });
        }
        const ops: TxnOp[] = [];
        for (let n = input.u16(); n > 0; n--) ops.push(readFileOp(input, input.u8()));
        mutations.push({ op: "txn", id, checks, ops });
        break;
      }
      default:
        throw new Error(`decodeBatch: unknown op ${op}`);
    }
  }
  if (!input.atEnd()) throw new Error("decodeBatch: trailing bytes");
  return mutations;
}

function readFileOp(input: Reader, op: number): TxnOp {
  const rev = input.f64();
  const path = input.text();
  if (op === opCodes.del) return { op: "del", path, rev };
  if (op !== opCodes.set && op !== opCodes.setInSession)
    throw new Error(`decodeBatch: unknown file op ${op}`);
  const value = input.bytes();
  if (op === opCodes.set) return { op: "set", path, rev, value };
  return { op: "set", path, rev, value, session: input.text() };
}

/** Bytes a mutation adds to an encoded batch, at most: for bounding batches before encoding them. */
export function encodedSize(m: Mutation): number {
  const header = 1 + textSize(m.id);
  switch (m.op) {
    case "set":
    case "del":
      return header + fileOpSize(m) - 1;
    case "nop":
      return header;
    case "session-open":
      return header + textSize(m.session) + 8;
    case "session-end":
      return header + textSize(m.session) + 1 + (m.keeperTerm === undefined ? 0 : 8);
    case "keeper-claim":
      return header + 8;
    case "leader-move":
      return header + 8 + 2;
    case "txn": {
      let size = header + 4;
      for (const check of m.checks) size += 8 + textSize(check.path);
      for (const op of m.ops) size += fileOpSize(op);
      return size;
    }
  }
}

/** A set or del with its op byte and without an id. */
function fileOpSize(m: TxnOp): number {
  let size = 1 + 8 + textSize(m.path);
  if (m.op === "set") {
    size += 4 + m.value.length;
    if (m.session !== undefined) size += textSize(m.session);
  }
  return size;
}

/** UTF-8 takes at most 3 bytes per UTF-16 unit. */
function textSize(text: string): number {
  return 2 + text.length * 3;
}

/** Grows a buffer as it writes, so that encoding does not have to size everything twice. */
class Writer {
  private buffer = new Uint8Array(256);
  private view = new DataView(this.buffer.buffer);
  private at = 0;

  u8(value: number): void {
    this.reserve(1);
    this.view.setUint8(this.at, value);
    this.at += 1;
  }

  u16(value: number, what: string): void {
    if (value > 0xffff) throw new Error(`encodeBatch: ${value} ${what} is over 65535`);
    this.reserve(2);
    this.view.setUint16(this.at, value);
    this.at += 2;
  }

  u32(value: number): void {
    this.reserve(4);
    this.view.setUint32(this.at, value);
    this.at += 4;
  }

  f64(value: number): void {
    this.reserve(8);
    this.view.setFloat64(this.at, value);
    this.at += 8;
  }

  text(text: string): void {
    const bytes = textEncoder.encode(text);
    this.u16(bytes.length, "bytes of text");
    this.raw(bytes);
  }

  bytes(bytes: Uint8Array): void {
    this.u32(bytes.length);
    this.raw(bytes);
  }

  finish(): Uint8Array {
    return this.buffer.slice(0, this.at);
  }

  private raw(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buffer.set(bytes, this.at);
    this.at += bytes.length;
  }

  private reserve(size: number): void {
    if (this.at + size <= this.buffer.length) return;
    const grown = new Uint8Array(Math.max(this.buffer.length * 2, this.at + size));
    grown.set(this.buffer.subarray(0, this.at));
    this.buffer = grown;
    this.view = new DataView(grown.buffer);
  }
}

class Reader {
  private readonly view: DataView;
  private at = 0;

  constructor(private readonly buffer: Uint8Array) {
    this.view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  }

  u8(): number {
    const value = this.view.getUint8(this.at);
    this.at += 1;
    return value;
  }

  u16(): number {
    const value = this.view.getUint16(this.at);
    this.at += 2;
    return value;
  }

  u32(): number {
    const value = this.view.getUint32(this.at);
    this.at += 4;
    return value;
  }

  f64(): number {
    const value = this.view.getFloat64(this.at);
    this.at += 8;
    return value;
  }

  text(): string {
    return textDecoder.decode(this.take(this.u16()));
  }

  /**
   * A copy, so that a small value does not keep a large batch alive. A value
   * that is most of its batch is a view instead: keeping the batch then costs
   * little, and a copy would double the memory a large write takes.
   */
  bytes(): Uint8Array {
    const part = this.take(this.u32());
    return part.length * 2 >= this.buffer.length ? part : part.slice();
  }

  atEnd(): boolean {
    return this.at === this.buffer.length;
  }

  private take(length: number): Uint8Array {
    if (this.at + length > this.buffer.length) throw new Error("decodeBatch: truncated");
    const part = this.buffer.subarray(this.at, this.at + length);
    this.at += length;
    return part;
  }
}
