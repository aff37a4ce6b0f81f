// The messages of multi-decree Paxos between proposers and acceptors, and
// between acceptors catching up. Values are opaque bytes: Paxos orders them,
// the store gives them meaning.

import type { Ballot } from "./ballot";

/** A position in the replicated log; the first slot is 1. */
export type Slot = number;

export interface LogEntry {
  slot: Slot;
  value: Uint8Array;
}

export interface AcceptedEntry extends LogEntry {
  ballot: Ballot;
}

/** Phase 1a: promise me `ballot` for every slot from `fromSlot` on. */
export interface Prepare {
  type: "prepare";
  ballot: Ballot;
  fromSlot: Slot;
}

/** Phase 1b. `accepted` holds this acceptor's accepted entries above `chosenThrough` (and from `fromSlot`). */
export interface Promised {
  type: "promised";
  ballot: Ballot;
  chosenThrough: Slot;
  accepted: AcceptedEntry[];
}

/** Phase 2a: accept these values at `ballot`. */
export interface Accept {
  type: "accept";
  ballot: Ballot;
  entries: LogEntry[];
}

/** Phase 2b. */
export interface Accepted {
  type: "accepted";
  ballot: Ballot;
  slots: Slot[];
}

/** The answer to a prepare or accept below the acceptor's promise. */
export interface Rejected {
  type: "rejected";
  ballot: Ballot;
  promised: Ballot;
}

/**
 * A chosen entry as told to a learner. `value` is left out for an acceptor that
 * accepted this slot at `ballot`: it holds the value already.
 */
export interface ChosenEntry {
  slot: Slot;
  ballot: Ballot;
  value?: Uint8Array;
}

/** These slots are chosen. With `outcomeSlot`, answer with the result of applying that slot if it is applied. */
export interface Commit {
  type: "commit";
  entries: ChosenEntry[];
  outcomeSlot?: Slot;
}

export interface Committed<R = unknown> {
  type: "committed";
  chosenThrough: Slot;
  outcome?: { slot: Slot; results: R[] };
}

/** Between acceptors: send me the chosen entries you know in [fromSlot, toSlot]. */
export interface Fetch {
  type: "fetch";
  fromSlot: Slot;
  toSlot: Slot;
}

/**
 * The chosen entries asked for, or, when the asker's first slot is one this
 * acceptor has trimmed from its log, none and `trimmedThrough`: the asker
 * needs a state transfer (core/state-transfer.ts).
 */
export interface Fetched {
  type: "fetched";
  entries: LogEntry[];
  trimmedThrough?: Slot;
}

export type ProposerMessage = Prepare | Accept | Commit;
export type AcceptorReply<R = unknown> = Promised | Accepted | Rejected | Committed<R>;
