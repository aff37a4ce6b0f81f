// One error class per code of SPEC §1, so that callers catch what they mean:
// `catch (e) { if (e instanceof RevMismatchError) ... }`. `retryable` says
// whether trying the same request again may succeed.

import type { ErrorCode } from "../core/errors";

export class DoozerError extends Error {
  readonly code: ErrorCode | "CONNECTION";
  /** The file's current rev (REV_MISMATCH, NOENT), when the server gave one. */
  readonly rev: number | undefined;
  /** The store rev a failed write consumed, when the server gave one. */
  readonly storeRev: number | undefined;
  readonly retryable: boolean;

  constructor(
    code: ErrorCode | "CONNECTION",
    message: string,
    details: { rev?: number; storeRev?: number } = {},
    retryable = false,
  ) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.rev = details.rev;
    this.storeRev = details.storeRev;
    this.retryable = retryable;
  }
}

type Details = { rev?: number; storeRev?: number };

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
    super("NO_QUORUM", message, details, true);
  }
}
/** A read at a future rev did not become readable in time. */
export class TimeoutError extends DoozerError {
  constructor(message: string, details?: Details) {
    super("TIMEOUT", message, details, true);
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
    super("CONNECTION", message, {}, true);
  }
}

const byCode: Record<ErrorCode, new (message: string, details?: Details) => DoozerError> = {
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
  OTHER: OtherError,
};

/** The error object for an error answer `{code, message, rev?, storeRev?}`. */
export function errorFromAnswer(error: {
  code?: unknown;
  message?: unknown;
  rev?: unknown;
  storeRev?: unknown;
}) {
  const code = typeof error.code === "string" && error.code in byCode ? (error.code as ErrorCode) : "OTHER";
  const message = typeof error.message === "string" ? error.message : `error ${String(error.code)}`;
  const details: Details = {};
  if (typeof error.rev === "number") details.rev = error.rev;
  if (typeof error.storeRev === "number") details.storeRev = error.storeRev;
  return new byCode[code](message, details);
}
