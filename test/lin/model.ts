// The sequential specification of one file of the store (SPEC §1), as the
// checker needs it: given the file's state and one operation with its answer,
// could that answer have come from that state, and what is the state after?
// It is written from the spec, not from core/store.ts, so that the two check
// each other.
//
// Revs. The store has one global rev counter; this model keeps, per file, only
// what the file's own operations can show:
// - the file's value and rev;
// - `lastRev`, the highest rev consumed (or read at) by the operations of this
//   file linearized so far. Every rev a later operation consumes must lie above
//   it, so revs grow along the linearization. Revs consumed by other files are
//   invisible here: the checker compares revs across files in a separate pass.
// A write whose outcome is unknown consumed some rev we never saw. Its rev is
// kept as bounds [revLow, revHigh] (lowest first: any rev above `lastRev`
// would do, and the lowest leaves the most room to later operations) until an
// answer pins it (a GET that shows it, a REV_MISMATCH that reports it).

import type { HistoryEntry, Operation, OperationResult } from "./history";

export interface KeyState {
  /** The file's value; undefined while the file does not exist. */
  value: string | undefined;
  /** Bounds on the file's rev, equal once known; 0 and 0 while the file does not exist. */
  revLow: number;
  revHigh: number;
  /** Every rev consumed after this point must be above this. */
  lastRev: number;
}

/** A file that was never written. */
export const initialKeyState: KeyState = { value: undefined, revLow: 0, revHigh: 0, lastRev: 0 };

/**
 * The state after the operation, or why the operation cannot be linearized
 * from this state (built only when asked for: the search rejects far more
 * often than it explains).
 */
export type StepResult = { next: KeyState } | { reason: () => string };

/**
 * Applies one `ok` or `unknown` entry. An `unknown` write is applied as a write
 * that took effect; that it may not have is the checker's business (it may
 * leave the entry out).
 */
export function step(state: KeyState, entry: HistoryEntry): StepResult {
  if (entry.outcome === "unknown") return stepUnknownWrite(state, entry.op);
  const result = entry.result;
  if (result === undefined) return { reason: () => "an ok operation without a result" };
  const op = entry.op;
  if (op.kind === "get") return stepGet(state, result);
  if ("error" in result) {
    if (result.error !== "REV_MISMATCH")
      return { reason: () => `a ${op.kind} cannot answer ${result.error}` };
    return stepRevMismatch(state, op.rev, result.rev, result.storeRev);
  }
  if ("value" in result) return { reason: () => `a ${op.kind} cannot answer a value` };
  if (!revCheckPasses(state, op.rev)) return { reason: () => wouldMismatch(state, op.rev) };
  const consumed = consumeRev(state, result.rev);
  if ("reason" in consumed) return consumed;
  const next: KeyState =
    op.kind === "set"
      ? { value: op.value, revLow: result.rev, revHigh: result.rev, lastRev: result.rev }
      : { value: undefined, revLow: 0, revHigh: 0, lastRev: result.rev };
  return { next };
}

/** A write that may have taken effect with an unseen rev: the lowest rev it could have consumed. */
function stepUnknownWrite(state: KeyState, op: Operation): StepResult {
  if (op.kind === "get") return { reason: () => "a get of unknown outcome tells nothing" };
  // Failing its check would leave the file as it is: the same as never happening.
  if (!revCheckPasses(state, op.rev)) return { reason: () => wouldMismatch(state, op.rev) };
  const rev = state.lastRev + 1;
  if (op.kind === "del") return { next: { value: undefined, revLow: 0, revHigh: 0, lastRev: rev } };
  return { next: { value: op.value, revLow: rev, revHigh: Number.POSITIVE_INFINITY, lastRev: rev } };
}

function stepGet(state: KeyState, result: OperationResult): StepResult {
  if ("error" in result) {
    if (result.error !== "NOENT") return { reason: () => `a get cannot answer ${result.error}` };
    if (state.value !== undefined)
      return { reason: () => `NOENT, but the file holds ${describeFile(state)}` };
    return readAt(state, result.storeRev);
  }
  if (!("value" in result)) return { reason: () => "a get answered no value" };
  if (state.value === undefined)
    return { reason: () => `${describeAnswer(result)}, but the file does not exist` };
  if (state.value !== result.value)
    return { reason: () => `${describeAnswer(result)}, but the file holds ${describeFile(state)}` };
  const pinned = pinRev(state, result.rev);
  if ("reason" in pinned) return pinned;
  return readAt(pinned.next, result.storeRev);
}

function stepRevMismatch(state: KeyState, expected: number, fileRev: number, storeRev?: number): StepResult {
  if (expected === -1) return { reason: () => "REV_MISMATCH for a clobber (rev -1), which has no check" };
  // The store reports the file's rev when the check fails, so the check must fail against it.
  if (expected >= fileRev) {
    return {
      reason: () => `REV_MISMATCH reporting rev ${fileRev}, but expected rev ${expected} is not below it`,
    };
  }
  const pinned = pinRev(state, fileRev);
  if ("reason" in pinned)
    return { reason: () => `REV_MISMATCH reporting rev ${fileRev}, but ${pinned.reason()}` };
  if (storeRev === undefined) return pinned;
  const consumed = consumeRev(pinned.next, storeRev);
  if ("reason" in consumed) return consumed;
  return { next: { ...pinned.next, lastRev: storeRev } };
}

/**
 * SPEC §1: a write fails its check when `rev != -1 && rev < fileRev`. With the
 * file's rev only bounded, the check can pass if it passes at the lowest bound.
 */
function revCheckPasses(state: KeyState, expected: number): boolean {
  return expected === -1 || expected >= state.revLow;
}

function wouldMismatch(state: KeyState, expected: number): string {
  return `expected rev ${expected}, but the file is at ${describeRev(state)}: it would fail REV_MISMATCH`;
}

/** A write consumed `rev`: it must lie above every rev consumed before it on this file. */
function consumeRev(state: KeyState, rev: number): StepResult {
  if (rev <= state.lastRev) {
    return {
      reason: () => `it consumed rev ${rev}, but rev ${state.lastRev} was already consumed on this file`,
    };
  }
  return { next: { ...state, lastRev: rev } };
}

/** An answer showed the file's rev: it must be one the file can have, and from now on it is known. */
function pinRev(state: KeyState, rev: number): StepResult {
  if (rev < state.revLow || rev > state.revHigh)
    return { reason: () => `the file is at ${describeRev(state)}` };
  return { next: { ...state, revLow: rev, revHigh: rev, lastRev: Math.max(state.lastRev, rev) } };
}

/**
 * A read served at `storeRev` saw every rev up to it and none above: the file's
 * rev is at most `storeRev`, and later writes consume revs above it.
 */
function readAt(state: KeyState, storeRev?: number): StepResult {
  if (storeRev === undefined) return { next: state };
  if (storeRev < state.lastRev) {
    return {
      reason: () => `read at rev ${storeRev}, but rev ${state.lastRev} was already consumed on this file`,
    };
  }
  return { next: { ...state, revHigh: Math.min(state.revHigh, storeRev), lastRev: storeRev } };
}

export function describeRev(state: KeyState): string {
  if (state.revLow === state.revHigh) return `rev ${state.revLow}`;
  if (state.revHigh === Number.POSITIVE_INFINITY)
    return `rev ≥ ${state.revLow} (from a write of unknown outcome)`;
  return `rev in ${state.revLow}..${state.revHigh} (from a write of unknown outcome)`;
}

export function describeFile(state: KeyState): string {
  if (state.value === undefined) return "no file";
  return `${JSON.stringify(state.value)} at ${describeRev(state)}`;
}

function describeAnswer(result: { value: string; rev: number }): string {
  return `answered ${JSON.stringify(result.value)} at rev ${result.rev}`;
}
