// One error vocabulary from the core to HTTP, the client and the CLI (SPEC §1).

export const errorStatus = {
  BAD_PATH: 400,
  MISSING_ARG: 400,
  RANGE: 400,
  BAD_REQUEST: 400,
  UNKNOWN_VERB: 400,
  NOT_FOUND: 404,
  BAD_METHOD: 405,
  TOO_LARGE: 413,
  NOENT: 404,
  NOSESSION: 404,
  REV_MISMATCH: 409,
  ISDIR: 409,
  NOTDIR: 409,
  TOO_LATE: 410,
  NOSPACE: 507,
  UNAUTHORIZED: 401,
  READONLY: 403,
  NO_QUORUM: 503,
  TIMEOUT: 504,
  OTHER: 500,
} as const;

export type ErrorCode = keyof typeof errorStatus;

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && Object.hasOwn(errorStatus, code);
}

/** Extra fields an error carries beside its code and message, e.g. `rev` on REV_MISMATCH. */
export interface ErrorDetails {
  /** The file's current rev (REV_MISMATCH, NOENT). */
  rev?: number;
  /** The store rev a failed write consumed. */
  storeRev?: number;
  /** A failed transaction: the failing check's or op's path (SPEC §7). */
  path?: string;
  /** A failed transaction: the failing check's index in `checks`. */
  check?: number;
  /** A failed transaction: the failing op's index in `ops`. */
  op?: number;
}

/**
 * An error as a value: thrown inside the core and the adapters, mapped to a
 * status in one place (worker/http.ts). The client library has its own classes,
 * one per code (client/errors.ts, `DoozerError` and its subclasses), which are
 * what users see; this one never leaves the server.
 */
export class CodedError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(message);
    this.name = "CodedError";
    this.code = code;
    this.details = details;
  }

  get status(): number {
    return errorStatus[this.code];
  }

  toJSON(): ErrorBody {
    return { error: { code: this.code, message: this.message, ...this.details } };
  }
}

export interface ErrorBody {
  error: { code: ErrorCode; message: string } & ErrorDetails;
}
