// The source's side of a state transfer (state-transfer.ts): the one state it
// keeps readable for receivers, at the slot it had applied when the first of
// them asked. While it is held, the store forgets no version that a read at
// its rev needs, the log keeps every slot after it (so a receiver goes on by
// ordinary catch-up from there), and the sessions and outcomes copied when it
// was taken stay. Nobody asking for a chunk for `idleMs` releases it, so a
// receiver that went away holds nothing for long. The clock is handed in.

import { transferPinIdleMs } from "./limits";
import type { Slot } from "./paxos/messages";
import type { TransferRequest } from "./state-transfer";

export interface PinnedState {
  slot: Slot;
  rev: number;
  /** The session keeper's term in force at the slot: state like the rest (store.ts, keeper-claim). */
  keeperTerm: number;
  /** The leader's term in force at the slot and its acceptor (store.ts, leader-move). */
  leaderTerm: number;
  leader: number;
}

export type PinAnswer =
  /** Serve this state; `taken` when the pin was taken just now, so the caller copies what is not versioned. */
  { kind: "serve"; state: PinnedState; taken: boolean } | { kind: "refuse"; reason: string };

export class TransferPin {
  private pinned: (PinnedState & { askedAtMs: number }) | undefined;

  constructor(private readonly idleMs = transferPinIdleMs) {}

  /** The state held for receivers, if any. */
  get state(): PinnedState | undefined {
    return (
      this.pinned && {
        slot: this.pinned.slot,
        rev: this.pinned.rev,
        keeperTerm: this.pinned.keeperTerm,
        leaderTerm: this.pinned.leaderTerm,
        leader: this.pinned.leader,
      }
    );
  }

  /** Which state a request gets, `current` being what the store holds now. */
  answer(request: TransferRequest, current: PinnedState, nowMs: number): PinAnswer {
    const pinned = this.pinned;
    if (request.slot !== undefined) {
      if (pinned?.slot !== request.slot) {
        return {
          kind: "refuse",
          reason: `no state held at slot ${request.slot} (held: ${pinned?.slot ?? "none"})`,
        };
      }
      pinned.askedAtMs = nowMs;
      return { kind: "serve", state: this.state as PinnedState, taken: false };
    }
    // A new receiver joins the state held already when it is of use to it: one pin serves many.
    if (pinned !== undefined && pinned.slot > request.aboveSlot) {
      pinned.askedAtMs = nowMs;
      return { kind: "serve", state: this.state as PinnedState, taken: false };
    }
    if (current.slot <= request.aboveSlot) {
      return { kind: "refuse", reason: `applied slot ${current.slot} is not above ${request.aboveSlot}` };
    }
    this.pinned = { ...current, askedAtMs: nowMs };
    return { kind: "serve", state: { ...current }, taken: true };
  }

  /** Releases the pin when no chunk was asked for in `idleMs`; true when it did. A clock that went back counts as asked now. */
  expire(nowMs: number): boolean {
    const pinned = this.pinned;
    if (pinned === undefined) return false;
    if (nowMs < pinned.askedAtMs) pinned.askedAtMs = nowMs;
    if (nowMs - pinned.askedAtMs < this.idleMs) return false;
    this.pinned = undefined;
    return true;
  }

  release(): void {
    this.pinned = undefined;
  }
}
