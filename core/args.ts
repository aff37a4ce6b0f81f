// Request arguments as they arrive (query strings over HTTP, JSON over the
// WebSocket) checked into numbers, each with the SPEC's error: MISSING_ARG
// when absent or malformed, RANGE when out of range.

import { DoozerError } from "./errors";
import { pageEntriesMax, revAbsMax, timeoutMsMax } from "./limits";

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
    throw new DoozerError("MISSING_ARG", `${name} must be a decimal integer, not ${JSON.stringify(raw)}`);
  }
  if (exact > BigInt(revAbsMax) || exact < -BigInt(revAbsMax)) {
    throw new DoozerError("MISSING_ARG", `${name} must be an integer within ±2^53, not ${raw}`);
  }
  return Number(exact);
}

/** A rev a write checks against: -1 clobbers, 0 creates, N checks. Required. */
export function writeRev(raw: Raw): number {
  const rev = integer(raw, "rev");
  if (rev === undefined)
    throw new DoozerError("MISSING_ARG", "rev is required: 0 to create, -1 to clobber, or the file's rev");
  return rev;
}

/** A rev to read at; absent means the current one. */
export function readRev(raw: Raw): number | undefined {
  const rev = integer(raw, "rev");
  if (rev !== undefined && rev < 0)
    throw new DoozerError("MISSING_ARG", `rev to read at must be 0 or more, not ${rev}`);
  return rev;
}

/** The rev WAIT starts from. Required. */
export function waitRev(raw: Raw): number {
  const rev = readRev(raw);
  if (rev === undefined) throw new DoozerError("MISSING_ARG", "rev is required: the first rev to wait for");
  return rev;
}

export function offset(raw: Raw): number {
  const value = integer(raw, "offset") ?? 0;
  if (value < 0) throw new DoozerError("RANGE", `offset must be 0 or more, not ${value}`);
  return value;
}

export function limit(raw: Raw): number {
  const value = integer(raw, "limit") ?? pageEntriesMax;
  if (value < 1 || value > pageEntriesMax) {
    throw new DoozerError("RANGE", `limit must be from 1 to ${pageEntriesMax}, not ${value}`);
  }
  return value;
}

export function timeoutMs(raw: Raw, fallback: number): number {
  const value = integer(raw, "timeout") ?? fallback;
  if (value < 0 || value > timeoutMsMax) {
    throw new DoozerError("RANGE", `timeout must be from 0 to ${timeoutMsMax} ms, not ${value}`);
  }
  return value;
}

export function flag(raw: Raw, name: string): boolean {
  if (raw === undefined || raw === null || raw === false || raw === "0" || raw === "false" || raw === "")
    return false;
  if (raw === true || raw === 1 || raw === "1" || raw === "true") return true;
  throw new DoozerError("MISSING_ARG", `${name} must be 1 or 0, not ${JSON.stringify(raw)}`);
}

export type ValueEncoding = "base64";

export function encoding(raw: Raw): ValueEncoding | undefined {
  if (raw === undefined || raw === null || raw === "") return undefined;
  if (raw === "base64") return "base64";
  throw new DoozerError("MISSING_ARG", `encoding must be base64, not ${JSON.stringify(raw)}`);
}
