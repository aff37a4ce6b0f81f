// A mutation is one client write as it travels through a Paxos slot. A slot's
// value is a batch: mutations applied in order, each consuming its own rev.

import type { ErrorCode } from "./errors";

/** `id` names one client intent: a retry carries the same id and applies at most once. */
export type Mutation =
  | { op: "set"; id: string; path: string; rev: number; value: Uint8Array }
  | { op: "del"; id: string; path: string; rev: number }
  | { op: "nop"; id: string };

/** The codes a decided write can fail with; each still consumes its rev. */
export type ApplyErrorCode = Extract<
  ErrorCode,
  "REV_MISMATCH" | "ISDIR" | "NOTDIR" | "BAD_PATH" | "TOO_LARGE"
>;

/** What applying one mutation did: `rev` is the store rev it consumed (or, for a retry, that its first copy consumed). */
export interface MutationOutcome {
  rev: number;
  error?: { code: ApplyErrorCode; message: string; rev?: number };
}

const opCodes = { set: 1, del: 2, nop: 3 } as const;
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/**
 * Encodes a batch for the Paxos log. Binary, not JSON, so that a 1 MiB value
 * costs 1 MiB in every acceptor's storage and every message.
 * Layout: u32 count, then per mutation: u8 op, u16 id length, id,
 * and for set/del: f64 rev, u16 path length, path; for set: u32 value length, value.
 */
export function encodeBatch(mutations: readonly Mutation[]): Uint8Array {
  const parts = mutations.map((m) => ({
    m,
    id: textEncoder.encode(m.id),
    path: m.op === "nop" ? undefined : textEncoder.encode(m.path),
  }));
  let size = 4;
  for (const { m, id, path } of parts) {
    size += 1 + 2 + id.length;
    if (path) size += 8 + 2 + path.length;
    if (m.op === "set") size += 4 + m.value.length;
  }
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  let at = 0;
  view.setUint32(at, parts.length);
  at += 4;
  for (const { m, id, path } of parts) {
    view.setUint8(at, opCodes[m.op]);
    view.setUint16(at + 1, id.length);
    bytes.set(id, at + 3);
    at += 3 + id.length;
    if (m.op === "nop" || !path) continue;
    view.setFloat64(at, m.rev);
    view.setUint16(at + 8, path.length);
    bytes.set(path, at + 10);
    at += 10 + path.length;
    if (m.op === "set") {
      view.setUint32(at, m.value.length);
      bytes.set(m.value, at + 4);
      at += 4 + m.value.length;
    }
  }
  return bytes;
}

export function decodeBatch(bytes: Uint8Array): Mutation[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const count = view.getUint32(at);
  at += 4;
  const mutations: Mutation[] = [];
  for (let i = 0; i < count; i++) {
    const op = view.getUint8(at);
    const idLength = view.getUint16(at + 1);
    const id = textDecoder.decode(bytes.subarray(at + 3, at + 3 + idLength));
    at += 3 + idLength;
    if (op === opCodes.nop) {
      mutations.push({ op: "nop", id });
      continue;
    }
    const rev = view.getFloat64(at);
    const pathLength = view.getUint16(at + 8);
    const path = textDecoder.decode(bytes.subarray(at + 10, at + 10 + pathLength));
    at += 10 + pathLength;
    if (op === opCodes.del) {
      mutations.push({ op: "del", id, path, rev });
    } else if (op === opCodes.set) {
      const valueLength = view.getUint32(at);
      const value = bytes.slice(at + 4, at + 4 + valueLength);
      at += 4 + valueLength;
      mutations.push({ op: "set", id, path, rev, value });
    } else {
      throw new Error(`decodeBatch: unknown op ${op}`);
    }
  }
  if (at !== bytes.length) throw new Error("decodeBatch: trailing bytes");
  return mutations;
}

/** Bytes a mutation adds to an encoded batch, for bounding batches before encoding them. */
export function encodedSize(m: Mutation): number {
  let size = 3 + m.id.length * 3;
  if (m.op !== "nop") size += 10 + m.path.length;
  if (m.op === "set") size += 4 + m.value.length;
  return size;
}
