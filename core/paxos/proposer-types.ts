// The proposer's options, what it hands back, and the records it keeps per
// command and per slot: kept apart from the state machine in proposer.ts so
// that file reads as the protocol.

import type { Ballot } from "./ballot";
import type { AcceptedEntry, LogEntry, ProposerMessage, Slot } from "./messages";

export interface ProposerOptions<C> {
  /** Unique per incarnation: ballots are (round, id), so two proposers never share one. */
  id: string;
  acceptors: readonly string[];
  /** Uniform in [0, 1); the only source of randomness (backoff jitter). */
  random: () => number;
  /** Encodes a batch of commands as one slot's value; `pack([])` is the no-op that fills holes. */
  pack: (commands: readonly C[]) => Uint8Array;
  sizeOf: (command: C) => number;
  batchCommandsMax: number;
  batchBytesMax: number;
  /** An unanswered prepare, accept or commit is sent again after this long. */
  retryMs: number;
  /** Backoff after a lost duel: uniform in [0, min(max, base * 2^duels)). */
  backoffMs: number;
  backoffMsMax: number;
  /** Overrides of the limits in core/limits.ts, for tests that fill a proposer up. */
  commandsMax?: number;
  commandBytesMax?: number;
  syncsMax?: number;
}

export type Completion<C, R> =
  | { kind: "decided"; command: C; result: R }
  /** The deadline passed first; the command may or may not be decided later. */
  | { kind: "expired"; command: C }
  | { kind: "synced"; token: number }
  | { kind: "sync-expired"; token: number };

/** Counters of the work done, for benchmarks: rounds are message rounds to the acceptors. */
export interface ProposerStats {
  /** Phase 1 rounds (new ballots), first sends and resends. */
  prepareRounds: number;
  /** Phase 2 rounds: an accept sent to the acceptors, or sent again. */
  acceptRounds: number;
  /** Commit rounds sent while commands waited for their outcome (first sends and resends). */
  commitRounds: number;
  slotsChosen: number;
  commandsDecided: number;
}

export interface Outbound {
  to: string;
  message: ProposerMessage;
}

export type Phase = "idle" | "preparing" | "leading";

export interface Pending<C> {
  command: C;
  /** `sizeOf(command)`, kept for the batch limit and the proposer's byte bound. */
  bytes: number;
  deadline: number;
  /** Its position in the batch that carries it: its result's index. */
  batchIndex?: number;
}

export interface SyncRequest {
  token: number;
  through: Slot;
  deadline: number;
}

/** The accept this proposer has in flight; at most one at a time, so batches form behind it. */
export interface Inflight<C> {
  ballot: Ballot;
  entries: LogEntry[];
  /** The slot carrying `commands`, if this accept carries new commands. */
  commandSlot?: Slot;
  commands: Pending<C>[];
  acks: Set<string>;
  sentAt: number;
}

/** A chosen slot whose commit a quorum has not yet confirmed, or whose outcome is still owed to commands. */
export interface Deciding<C> {
  entry: AcceptedEntry;
  ackers: Set<string>;
  confirmedBy: Set<string>;
  commands: Pending<C>[];
  sentAt: number;
}
