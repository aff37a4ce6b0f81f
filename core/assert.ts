// Invariants, checked where they can break (the TigerBeetle way): a broken
// invariant is a bug in this code, never bad input, so it throws at once
// rather than letting a wrong value reach storage or a client.

export class InvariantError extends Error {
  override readonly name = "InvariantError";
}

/** Throws an InvariantError with `message` unless `condition` holds. */
export function assert(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) throw new InvariantError(typeof message === "function" ? message() : message);
}
