// Catch-up of a replica that knows it is behind (a gap under a commit, a read
// barrier above its log, a peer that reports more): which peer to ask for
// which slots, when to pause, and when to stop until the next trigger.
//
// The rules come from failures of the loop this replaces: a peer that is down
// answers at once, so with every peer down the loop spun without pause; it now
// waits, with a growing pause, before each new round of unreachable peers. A
// catch-up that keeps finding nothing stops after a few rounds over all peers,
// since whatever made it start will start it again when there is news.
//
// A peer that has trimmed the slots asked for from its log answers with its
// trim point instead. The other peers are asked in turn (one may still hold
// the slots); once a round brought none, the next step is a state transfer
// (state-transfer.ts) from the peer that trimmed furthest, whose state is the
// newest, and the fetches go on from the installed slot.
//
// Pure: the adapter sends the fetch, sleeps on "wait", and reports the outcome.

import { catchUpBackoffMs, catchUpBackoffMsMax, catchUpRounds, fetchSlotsMax } from "./limits";
import type { Fetch, Slot } from "./paxos/messages";

export interface CatchUpOptions {
  /** The other acceptors, in a fixed order. */
  peers: readonly string[];
  /** Index of the first peer to ask: the caller's randomness, so replicas do not all ask the same one. */
  firstPeer?: number;
  rounds?: number;
  backoffMs?: number;
  backoffMsMax?: number;
}

export type CatchUpStep =
  | { kind: "fetch"; peer: string; fetch: Fetch }
  /** The peer trimmed the slots this replica needs: take the store's state from it (state-transfer.ts). */
  | { kind: "transfer"; peer: string }
  /** Every peer was unreachable in a row: sleep this long, then call `next` again. */
  | { kind: "wait"; ms: number }
  /** Nothing is missing. */
  | { kind: "done" }
  /** Rounds over every peer brought nothing: stop until the next trigger. */
  | { kind: "give-up"; message: string };

export class CatchUp {
  private readonly peers: readonly string[];
  private readonly rounds: number;
  private readonly backoffMs: number;
  private readonly backoffMsMax: number;
  private peerIndex: number;
  /** Asks in a row that brought no new slot, reachable or not. */
  private fruitless = 0;
  /** Peers unreachable in a row since the last answer or pause. */
  private unreachableInRow = 0;
  private pauses = 0;
  private asking: string | undefined;
  /** Peers that answered with their trim point since the last progress, the furthest kept. */
  private trimmedPeer: { peer: string; through: Slot } | undefined;
  /** Answers still to come in the round that began with the first trim point. */
  private roundLeft = 0;

  constructor(options: CatchUpOptions) {
    this.peers = options.peers;
    this.rounds = options.rounds ?? catchUpRounds;
    this.backoffMs = options.backoffMs ?? catchUpBackoffMs;
    this.backoffMsMax = options.backoffMsMax ?? catchUpBackoffMsMax;
    const first = options.firstPeer ?? 0;
    this.peerIndex =
      this.peers.length === 0 ? 0 : ((first % this.peers.length) + this.peers.length) % this.peers.length;
  }

  /** The next step, given what the learner still misses (`Replica.missing()`). */
  next(missing: Fetch | { fromSlot: Slot; toSlot: Slot } | undefined): CatchUpStep {
    if (this.asking !== undefined) throw new Error(`CatchUp: still waiting for ${this.asking}`);
    if (missing === undefined) return { kind: "done" };
    if (this.trimmedPeer !== undefined && this.roundLeft <= 0) {
      const from = this.trimmedPeer.peer;
      this.trimmedPeer = undefined;
      // Its log holds every slot after the state it pins, so the fetches that follow go to it too.
      this.peerIndex = Math.max(0, this.peers.indexOf(from));
      this.asking = from;
      return { kind: "transfer", peer: from };
    }
    const peer = this.peers[this.peerIndex];
    if (peer === undefined) return { kind: "give-up", message: "no peer to catch up from" };
    if (this.fruitless >= this.peers.length * this.rounds) {
      return {
        kind: "give-up",
        message: `${this.rounds} rounds over ${this.peers.length} peers brought no slot from ${missing.fromSlot}`,
      };
    }
    if (this.unreachableInRow >= this.peers.length) {
      this.unreachableInRow = 0;
      const ms = Math.min(this.backoffMsMax, this.backoffMs * 2 ** this.pauses);
      this.pauses = Math.min(this.pauses + 1, 30);
      return { kind: "wait", ms };
    }
    this.asking = peer;
    const toSlot = Math.min(missing.toSlot, missing.fromSlot + fetchSlotsMax - 1);
    return { kind: "fetch", peer, fetch: { type: "fetch", fromSlot: missing.fromSlot, toSlot } };
  }

  /** The peer answered; `progressed` when the replica's chosen prefix grew from it. */
  answered(peer: string, progressed: boolean): void {
    this.finish(peer);
    this.unreachableInRow = 0;
    if (progressed) {
      // It had what we lacked, so it likely has the rest: stay with it.
      this.fruitless = 0;
      this.pauses = 0;
      this.trimmedPeer = undefined;
      return;
    }
    this.fruitless++;
    this.rotate();
  }

  /** The peer has trimmed the first slot asked for from its log, through `trimmedThrough`. */
  trimmed(peer: string, trimmedThrough: Slot): void {
    this.finish(peer);
    this.unreachableInRow = 0;
    // The other peers are asked once before a transfer: one of them may still hold the slots.
    if (this.trimmedPeer === undefined) this.roundLeft = this.peers.length - 1;
    if (this.trimmedPeer === undefined || trimmedThrough > this.trimmedPeer.through) {
      this.trimmedPeer = { peer, through: trimmedThrough };
    }
    this.rotate();
  }

  /** A transfer from the peer ended: `installed` when the replica took its state, else it failed or was refused. */
  transferred(peer: string, installed: boolean): void {
    if (installed) {
      this.answered(peer, true);
      return;
    }
    this.unreachable(peer);
  }

  /** The peer refused, timed out or failed. */
  unreachable(peer: string): void {
    this.finish(peer);
    this.fruitless++;
    this.unreachableInRow++;
    this.rotate();
  }

  private finish(peer: string): void {
    if (this.asking !== peer) throw new Error(`CatchUp: ${peer} answered, but ${this.asking} was asked`);
    this.asking = undefined;
    this.roundLeft--;
  }

  private rotate(): void {
    this.peerIndex = (this.peerIndex + 1) % this.peers.length;
  }
}
