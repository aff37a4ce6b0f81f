// What a linearizability test records: every client operation on the store,
// when it was invoked, when (and whether) it completed, and what it answered.
// Times are plain numbers handed in by the caller (Date.now(), performance.now()
// or a logical clock); nothing here reads a clock of its own.

/**
 * The operations the checker understands: Doozer's SET, DEL and (linearizable,
 * not `stale`) GET of one file. Values are compared for equality only: record
 * bytes in any fixed encoding (base64, say). Give every SET its own value: a
 * read then names the write it saw, which the checker uses to place writes of
 * unknown outcome.
 */
export type Operation =
  | { kind: "set"; path: string; rev: number; value: string }
  | { kind: "del"; path: string; rev: number }
  | { kind: "get"; path: string };

/**
 * A write that was decided but failed its rev check (SPEC §1): `rev` is the file's
 * rev at that moment; `storeRev`, when the answer carried it, is the rev the
 * failed write consumed.
 */
export interface RevMismatch {
  error: "REV_MISMATCH";
  rev: number;
  storeRev?: number;
}

/** A SET or DEL that took effect: `rev` is the store rev it consumed (for a SET, the file's new rev). */
export interface WriteDone {
  rev: number;
}

export type WriteResult = WriteDone | RevMismatch;

/** `storeRev`, when the answer carried it, is the store rev the read was served at. */
export type GetResult =
  | { value: string; rev: number; storeRev?: number }
  | { error: "NOENT"; rev?: 0; storeRev?: number };

export type OperationResult = WriteResult | GetResult;

/**
 * How an operation ended:
 * - `ok`: the store decided it and `result` is its answer (a REV_MISMATCH or a
 *   NOENT is such an answer: it says something about the store);
 * - `fail`: it certainly did not take effect (a 4xx that changes nothing);
 * - `unknown`: it may have taken effect at any time after `invoke`, or never
 *   (a timeout, NO_QUORUM, a dropped connection, a 500).
 */
export type Outcome = "ok" | "fail" | "unknown";

export interface HistoryEntry {
  client: string;
  op: Operation;
  invoke: number;
  /** When the answer arrived; absent for `unknown` (it may take effect until the end of time). */
  complete?: number;
  outcome: Outcome;
  /** Present exactly when `outcome` is `ok`. */
  result?: OperationResult;
}

export type History = HistoryEntry[];

/** What the caller does with an error code of SPEC §1 when recording an operation. */
export function outcomeOfErrorCode(code: string): Outcome {
  switch (code) {
    // Decided answers: the caller records them as the result.
    case "REV_MISMATCH":
    case "NOENT":
      return "ok";
    // The write may have been decided anyway; a 500 is a defect whose effect nobody knows.
    case "NO_QUORUM":
    case "TIMEOUT":
    case "OTHER":
      return "unknown";
    default:
      return "fail";
  }
}

/** One operation in flight; finish it exactly once. */
export interface PendingOperation {
  ok(result: OperationResult): void;
  fail(): void;
  unknown(): void;
}

export interface Recorder {
  /** Records the invocation now (by the recorder's clock) and returns the handle to finish it with. */
  invoke(client: string, op: Operation): PendingOperation;
  /** The history so far, in invocation order; operations still in flight count as `unknown`. */
  history(): History;
}

/**
 * A recorder of concurrent operations. `clock` must not go backwards; two
 * events at the same time count as concurrent.
 */
export function createRecorder(clock: () => number): Recorder {
  const entries: HistoryEntry[] = [];
  // In-flight entries stay in `entries` as `unknown` until finished, so a
  // history taken mid-run (or after a crash of the test) is still complete.
  return {
    invoke(client, op) {
      const entry: HistoryEntry = { client, op, invoke: clock(), outcome: "unknown" };
      entries.push(entry);
      let finished = false;
      const finish = (outcome: Outcome, result?: OperationResult) => {
        if (finished) throw new Error(`operation of ${client} finished twice: ${JSON.stringify(op)}`);
        finished = true;
        entry.outcome = outcome;
        if (outcome === "unknown") return;
        entry.complete = clock();
        if (result !== undefined) entry.result = result;
      };
      return {
        ok: (result) => finish("ok", result),
        fail: () => finish("fail"),
        unknown: () => finish("unknown"),
      };
    },
    history: () => entries.map((entry) => ({ ...entry })),
  };
}

/** A clock that counts 1, 2, 3, …: every event gets its own time, in the order it happened. */
export function logicalClock(): () => number {
  let time = 0;
  return () => {
    time += 1;
    return time;
  };
}
