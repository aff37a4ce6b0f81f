// Request arguments as they arrive (query strings over HTTP, JSON over the
// WebSocket) checked into numbers, each with the SPEC's error: MISSING_ARG
// when absent or malformed, RANGE when out of range.

import { CodedError } from "./errors";
import {
  pageEntriesMax,
  revAbsMax,
  sessionIdLengthMax,
  sessionTtlMsDefault,
  sessionTtlMsMax,
  sessionTtlMsMin,
  timeoutMsMax,
  txnBytesMax,
  txnChecksMax,
  txnOpsMax,
  valueBytesMax,
} from "./limits";
import type { TxnCheck, TxnOp } from "./mutation";
import { validatePath } from "./path";
import { decodeValue } from "./value-encoding";

type Raw = string | number | boolean | null | undefined;

const integerText = /^-?[0-9]+$/;

function integer(raw: Raw, name: string): number | undefined {
  if (raw === undefined || raw === null) return undefined;
  const exact =
    typeof raw === "number" && Number.isInteger(raw)
      ? BigInt(raw)
      : typeof raw === "string" && integerText.test(raw)
        ? BigInt(raw)
        : undefined;
  if (exact === undefined) {
    throw new CodedError("MISSING_ARG", `${name} must be a decimal integer, not ${JSON.stringify(raw)}`);
  }
  if (exact > BigInt(revAbsMax) || exact < -BigInt(revAbsMax)) {
    throw new CodedError("MISSING_ARG", `${name} must be an integer within ±2^53, not ${raw}`);
  }
  return Number(exact);
}

/** A rev a write checks against: -1 clobbers, 0 creates, N checks. Required. */
export function writeRev(raw: Raw): number {
  const rev = integer(raw, "rev");
  if (rev === undefined)
    throw new CodedError("MISSING_ARG", "rev is required: 0 to create, -1 to clobber, or the file's rev");
  return rev;
}

/** A rev to read at; absent means the current one. */
export function readRev(raw: Raw): number | undefined {
  const rev = integer(raw, "rev");
  if (rev !== undefined && rev < 0)
    throw new CodedError("MISSING_ARG", `rev to read at must be 0 or more, not ${rev}`);
  return rev;
}

/** The rev WAIT starts from. Required. */
export function waitRev(raw: Raw): number {
  const rev = readRev(raw);
  if (rev === undefined) throw new CodedError("MISSING_ARG", "rev is required: the first rev to wait for");
  return rev;
}

export function offset(raw: Raw): number {
  const value = integer(raw, "offset") ?? 0;
  if (value < 0) throw new CodedError("RANGE", `offset must be 0 or more, not ${value}`);
  return value;
}

export function limit(raw: Raw): number {
  const value = integer(raw, "limit") ?? pageEntriesMax;
  if (value < 1 || value > pageEntriesMax) {
    throw new CodedError("RANGE", `limit must be from 1 to ${pageEntriesMax}, not ${value}`);
  }
  return value;
}

export function timeoutMs(raw: Raw, fallback: number): number {
  const value = integer(raw, "timeout") ?? fallback;
  if (value < 0 || value > timeoutMsMax) {
    throw new CodedError("RANGE", `timeout must be from 0 to ${timeoutMsMax} ms, not ${value}`);
  }
  return value;
}

export function flag(raw: Raw, name: string): boolean {
  if (raw === undefined || raw === null || raw === false || raw === "0" || raw === "false" || raw === "")
    return false;
  if (raw === true || raw === 1 || raw === "1" || raw === "true") return true;
  throw new CodedError("MISSING_ARG", `${name} must be 1 or 0, not ${JSON.stringify(raw)}`);
}

export type ValueEncoding = "base64";

export function encoding(raw: Raw): ValueEncoding | undefined {
  if (raw === undefined || raw === null || raw === "") return undefined;
  if (raw === "base64") return "base64";
  throw new CodedError("MISSING_ARG", `encoding must be base64, not ${JSON.stringify(raw)}`);
}

// --- Sessions (SPEC §6) ---

const sessionIdPattern = new RegExp(`^[A-Za-z0-9_-]{1,${sessionIdLengthMax}}$`);

export function isValidSessionId(id: unknown): id is string {
  return typeof id === "string" && sessionIdPattern.test(id);
}

/** A session id a request names. Required. */
export function sessionId(raw: unknown): string {
  if (!isValidSessionId(raw)) {
    throw new CodedError(
      "BAD_REQUEST",
      `a session id is 1 to ${sessionIdLengthMax} of A-Z a-z 0-9 _ -, not ${abbreviatedJson(raw)}`,
    );
  }
  return raw;
}

/** The session a SET names, if any: absent (undefined or null) means a persistent file; an empty one is BAD_REQUEST. */
export function optionalSessionId(raw: unknown): string | undefined {
  return raw === undefined || raw === null ? undefined : sessionId(raw);
}

/** A session's ttl in ms: an integer in [sessionTtlMsMin, sessionTtlMsMax], default sessionTtlMsDefault; anything else is RANGE. */
export function sessionTtlMs(raw: Raw): number {
  if (raw === undefined || raw === null) return sessionTtlMsDefault;
  const value = typeof raw === "string" && integerText.test(raw) ? Number(raw) : raw;
  if (
    typeof value !== "number" ||
    !Number.isSafeInteger(value) ||
    value < sessionTtlMsMin ||
    value > sessionTtlMsMax
  ) {
    throw new CodedError(
      "RANGE",
      `ttl must be an integer from ${sessionTtlMsMin} to ${sessionTtlMsMax} ms, not ${abbreviatedJson(raw)}`,
    );
  }
  return value;
}

// --- Transactions (SPEC §7) ---

/**
 * A transaction's JSON body (already parsed) checked into its mutation parts,
 * with the SPEC's errors: BAD_REQUEST for a malformed body, an empty
 * transaction, an unknown op, a check rev that is not a non-negative integer,
 * a bad session id or bad base64; TOO_LARGE past the item counts, a value
 * past valueBytesMax, or a whole past txnBytesMax (it must fit one Paxos
 * slot); BAD_PATH for a malformed path; MISSING_ARG for an absent path, rev
 * or value (and an op rev that is no integer, as on PUT). The first error in
 * body order is the one thrown.
 */
export function txnBody(body: unknown): { checks: TxnCheck[]; ops: TxnOp[] } {
  if (!isObject(body))
    throw new CodedError("BAD_REQUEST", "a transaction is a JSON object with checks and ops");
  const rawChecks = listField(body, "checks");
  const rawOps = listField(body, "ops");
  if (rawChecks.length === 0 && rawOps.length === 0) {
    throw new CodedError("BAD_REQUEST", "an empty transaction: give checks, ops, or both");
  }
  if (rawChecks.length > txnChecksMax) {
    throw new CodedError("TOO_LARGE", `${rawChecks.length} checks; the limit is ${txnChecksMax}`);
  }
  if (rawOps.length > txnOpsMax) {
    throw new CodedError("TOO_LARGE", `${rawOps.length} ops; the limit is ${txnOpsMax}`);
  }
  let totalBytes = 0;
  const checks = rawChecks.map((raw, index): TxnCheck => {
    const where = `checks[${index}]`;
    if (!isObject(raw)) throw new CodedError("BAD_REQUEST", `${where} must be an object with path and rev`);
    const path = itemPath(raw.path, where);
    totalBytes += path.length;
    return { path, rev: checkRev(raw.rev, where) };
  });
  const ops = rawOps.map((raw, index): TxnOp => {
    const where = `ops[${index}]`;
    if (!isObject(raw))
      throw new CodedError("BAD_REQUEST", `${where} must be an object with op, path and rev`);
    if (raw.op !== "set" && raw.op !== "del") {
      throw new CodedError(
        "BAD_REQUEST",
        `${where}.op must be "set" or "del", not ${abbreviatedJson(raw.op)}`,
      );
    }
    const path = itemPath(raw.path, where);
    totalBytes += path.length;
    const rev = writeRev(asRaw(raw.rev, `${where}.rev`));
    if (raw.op === "del") return { op: "del", path, rev };
    const value = itemValue(raw, where);
    totalBytes += value.length;
    const session = optionalSessionId(raw.session);
    if (session === undefined) return { op: "set", path, rev, value };
    totalBytes += session.length;
    return { op: "set", path, rev, value, session };
  });
  if (totalBytes > txnBytesMax) {
    throw new CodedError(
      "TOO_LARGE",
      `the transaction holds ${totalBytes} bytes; the limit is ${txnBytesMax}`,
    );
  }
  return { checks, ops };
}

function isObject(raw: unknown): raw is Record<string, unknown> {
  return typeof raw === "object" && raw !== null && !Array.isArray(raw);
}

/** An absent list is empty; anything but an array is BAD_REQUEST. */
function listField(body: Record<string, unknown>, name: string): unknown[] {
  const raw = body[name];
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new CodedError("BAD_REQUEST", `${name} must be an array`);
  return raw;
}

function itemPath(raw: unknown, where: string): string {
  if (raw === undefined || raw === null) throw new CodedError("MISSING_ARG", `${where}.path is required`);
  if (typeof raw !== "string") throw new CodedError("BAD_PATH", `${where}.path must be a string path`);
  validatePath(raw);
  return raw;
}

/** A check's rev is exact: 0 (absent) or a file rev; -1 (clobber) means nothing here. */
function checkRev(raw: unknown, where: string): number {
  if (raw === undefined || raw === null) {
    throw new CodedError(
      "MISSING_ARG",
      `${where}.rev is required: 0 for "does not exist", or the file's rev`,
    );
  }
  if (typeof raw !== "number" || !Number.isSafeInteger(raw) || raw < 0) {
    throw new CodedError(
      "BAD_REQUEST",
      `${where}.rev must be 0 or a file's rev, not ${abbreviatedJson(raw)}`,
    );
  }
  return raw;
}

/** A JSON value where a query-string argument would be: objects and arrays are no argument at all. */
function asRaw(raw: unknown, name: string): Raw {
  if (raw === undefined || raw === null || ["string", "number", "boolean"].includes(typeof raw))
    return raw as Raw;
  throw new CodedError("MISSING_ARG", `${name} must be a decimal integer, not ${abbreviatedJson(raw)}`);
}

function itemValue(raw: Record<string, unknown>, where: string): Uint8Array {
  if (raw.value === undefined || raw.value === null) {
    throw new CodedError("MISSING_ARG", `${where}.value is required for a set`);
  }
  if (typeof raw.value !== "string") {
    throw new CodedError("BAD_REQUEST", `${where}.value must be a string (UTF-8, or base64 with encoding)`);
  }
  const base64 = encoding(asRaw(raw.encoding, `${where}.encoding`)) === "base64";
  // Refuse a huge value before decoding it: UTF-8 takes at least a byte per
  // UTF-16 unit, and base64 decodes to at least 3/4 of its length less padding.
  const leastBytes = base64 ? Math.floor((raw.value.length * 3) / 4) - 2 : raw.value.length;
  if (leastBytes > valueBytesMax) {
    throw new CodedError("TOO_LARGE", `${where}.value is over ${valueBytesMax} bytes`);
  }
  let value: Uint8Array;
  try {
    value = decodeValue(raw.value, base64 ? "base64" : undefined);
  } catch {
    throw new CodedError("BAD_REQUEST", `${where}.value is not valid base64`);
  }
  if (value.length > valueBytesMax) {
    throw new CodedError(
      "TOO_LARGE",
      `${where}.value is ${value.length} bytes; the limit is ${valueBytesMax}`,
    );
  }
  return value;
}

function abbreviatedJson(raw: unknown): string {
  const text = JSON.stringify(raw) ?? String(raw);
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}
