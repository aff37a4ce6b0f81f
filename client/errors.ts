// One error class per code of SPEC §1, so that callers catch what they mean:
// `catch (e) { if (e instanceof RevMismatchError) ... }`. `isRetryable` is the
// one rule every retry loop of the client follows.

import type { ErrorCode } from "../core/errors";

/**
 * The codes a client may see: the core's, the session and space codes of SPEC
 * §6 and §8 (named here too, so this file does not depend on when the core
 * gains them), and CONNECTION, which no server sends.
 */
export type ClientErrorCode = ErrorCode | "NOSESSION" | "NOSPACE" | "CONNECTION";

/** What an error answer may carry beside its code and message (SPEC §1, §7). */
export interface Details {
  /** The file's current rev (REV_MISMATCH, NOENT), or as a transaction's failing item saw it. */
  rev?: number;
  /** The store rev a failed write or transaction consumed. */
  storeRev?: number;
  /** A transaction's failing check's or op's path. */
  path?: string;
  /** The index of a transaction's failing check. */
  check?: number;
  /** The index of a transaction's failing op. */
  op?: number;
}

/**
 * Whether sending the same request again may succeed: no majority answered
 * (NO_QUORUM: a write may or may not have been decided, and a retry with its
 * request id applies it once), or no answer came at all (CONNECTION). Nothing
 * else is retried: every other answer would come back the same, and a
 * TIMEOUT already waited as long as its caller asked.
 */
export function isRetryable(error: unknown): boolean {
  return error instanceof DoozerError && (error.code === "NO_QUORUM" || error.code === "CONNECTION");
}

export class DoozerError extends Error {
  readonly code: ClientErrorCode;
  /** The file's current rev (REV_MISMATCH, NOENT), when the server gave one. */
  readonly rev: number | undefined;
  /** The store rev a failed write consumed, when the server gave one. */
  readonly storeRev: number | undefined;
  /** A transaction's failing check's or op's path. */
  readonly path: string | undefined;
  /** The index of a transaction's failing check. */
  readonly check: number | undefined;
  /** The index of a transaction's failing op. */
  readonly op: number | undefined;

  constructor(code: ClientErrorCode, message: string, details: Details = {}) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.rev = details.rev;
    this.storeRev = details.storeRev;
    this.path = details.path;
    this.check = details.check;
    this.op = details.op;
  }

  /** `isRetryable(this)`. */
  get retryable(): boolean {
    return isRetryable(this);
  }
}

export class BadPathError extends DoozerError {
  constructor(message: string, details?: Details) {
    super("BAD_PATH", message, details);
  }
}
export class MissingArgError extends DoozerError {
  constructor(message: string, details?: Details) {
    super("MISSING_ARG", message, details);
  }
}
/** RANGE: an offset, limit or timeout out of range (not named RangeError, which JavaScript has). */
export class RangeArgError extends DoozerError {
  constructor(message: string, details?: Details) {
    super("RANGE", message, details);
  }
}
export class BadRequestError extends DoozerError {
  constructor(message: string, details?: Details) {
    super("BAD_REQUEST", message, details);
  }
}
export class NotFoundError extends DoozerError {
  constructor(message: string, details?: Details) {
    super("NOT_FOUND", message, details);
  }
}
export class BadMethodError extends DoozerError {
  constructor(message: string, details?: Details) {
    super("BAD_METHOD", message, details);
  }
}
export class UnknownVerbError extends DoozerError {
  constructor(message: string, details?: Details) {
    super("UNKNOWN_VERB", message, details);
  }
}
export class TooLargeError extends DoozerError {
  constructor(message: string, details?: Details) {
    super("TOO_LARGE", message, details);
  }
}
export class NoEntError extends DoozerError {
  constructor(message: string, details?: Details) {
    super("NOENT", message, details);
  }
}
/** The file changed since the rev the write gave: `rev` is its current rev. */
export class RevMismatchError extends DoozerError {
  constructor(message: string, details?: Details) {
    super("REV_MISMATCH", message, details);
  }
}
export class IsDirError extends DoozerError {
  constructor(message: string, details?: Details) {
    super("ISDIR", message, details);
  }
}
export class NotDirError extends DoozerError {
  constructor(message: string, details?: Details) {
    super("NOTDIR", message, details);
  }
}
/** The rev is older than the history window; a watch that gets it has ended. */
export class TooLateError extends DoozerError {
  constructor(message: string, details?: Details) {
    super("TOO_LATE", message, details);
  }
}
export class UnauthorizedError extends DoozerError {
  constructor(message: string, details?: Details) {
    super("UNAUTHORIZED", message, details);
  }
}
export class ReadOnlyError extends DoozerError {
  constructor(message: string, details?: Details) {
    super("READONLY", message, details);
  }
}
/** No majority answered in time; a write may or may not have been decided (retrying it with its id is safe). */
export class NoQuorumError extends DoozerError {
  constructor(message: string, details?: Details) {
    super("NO_QUORUM", message, details);
  }
}
/** A read at a future rev did not become readable in time. */
export class TimeoutError extends DoozerError {
  constructor(message: string, details?: Details) {
    super("TIMEOUT", message, details);
  }
}
/** The session is unknown or has ended (SPEC §6): its ephemeral files are gone, or going. */
export class NoSessionError extends DoozerError {
  constructor(message: string, details?: Details) {
    super("NOSESSION", message, details);
  }
}
/** The write would take the store's live data past its limit (SPEC §8). */
export class NoSpaceError extends DoozerError {
  constructor(message: string, details?: Details) {
    super("NOSPACE", message, details);
  }
}
export class OtherError extends DoozerError {
  constructor(message: string, details?: Details) {
    super("OTHER", message, details);
  }
}
/** The connection failed or closed before an answer came (not a SPEC code: no answer was had). */
export class ConnectionError extends DoozerError {
  constructor(message: string) {
    super("CONNECTION", message);
  }
}

type ServerCode = Exclude<ClientErrorCode, "CONNECTION">;

const byCode: Record<ServerCode, new (message: string, details?: Details) => DoozerError> = {
  BAD_PATH: BadPathError,
  MISSING_ARG: MissingArgError,
  RANGE: RangeArgError,
  BAD_REQUEST: BadRequestError,
  NOT_FOUND: NotFoundError,
  BAD_METHOD: BadMethodError,
  UNKNOWN_VERB: UnknownVerbError,
  TOO_LARGE: TooLargeError,
  NOENT: NoEntError,
  REV_MISMATCH: RevMismatchError,
  ISDIR: IsDirError,
  NOTDIR: NotDirError,
  TOO_LATE: TooLateError,
  UNAUTHORIZED: UnauthorizedError,
  READONLY: ReadOnlyError,
  NO_QUORUM: NoQuorumError,
  TIMEOUT: TimeoutError,
  NOSESSION: NoSessionError,
  NOSPACE: NoSpaceError,
  OTHER: OtherError,
};

/** The error object for an error answer `{code, message, rev?, storeRev?, path?, check?, op?}`. */
export function errorFromAnswer(error: Record<string, unknown>): DoozerError {
  const code =
    typeof error.code === "string" && Object.hasOwn(byCode, error.code)
      ? (error.code as ServerCode)
      : "OTHER";
  const message = typeof error.message === "string" ? error.message : `error ${String(error.code)}`;
  const details: Details = {};
  for (const name of ["rev", "storeRev", "check", "op"] as const) {
    const value = error[name];
    if (typeof value === "number") details[name] = value;
  }
  if (typeof error.path === "string") details.path = error.path;
  return new byCode[code](message, details);
}
