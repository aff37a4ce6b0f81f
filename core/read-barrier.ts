// The read barrier of a linearizable read, WAIT or WATCH, as decisions an I/O
// adapter drives (the Worker's reader, the acceptor's sockets, the simulator).
//
// A write is acknowledged only after a majority accepted its slot, and any two
// majorities meet, so the highest slot accepted among any majority's answers
// (the barrier) is at or past the slot of every write acknowledged before the
// status round started. A replica that has applied the barrier slot can then
// answer for the read. One that is reachable but behind it may be waiting for a
// slot whose proposer died before committing: a proposer must finish the log
// through the barrier (`sync`) before anyone can reach it.
//
// Pure: the adapter sends the RPCs, measures round trips and hands them in.

import type { Slot } from "./paxos/messages";
import { quorumOf } from "./quorum";

/** What the barrier needs of one acceptor's status answer. */
export interface StatusAnswer {
  name: string;
  maxAccepted: Slot;
  chosenThrough: Slot;
}

export type BarrierState =
  | { kind: "waiting" }
  | { kind: "ready"; plan: ReadPlan }
  | { kind: "no-quorum"; message: string };

/** The tally of one status round. Feed it every answer and every failure; it settles once. */
export class ReadBarrier {
  private readonly quorum: number;
  private readonly answers = new Map<string, StatusAnswer>();
  private readonly unreachables = new Set<string>();
  private settled: BarrierState = { kind: "waiting" };

  /** `rttMs`: the adapter's round trip estimates, to prefer near replicas among equally fresh ones. */
  constructor(
    private readonly acceptors: readonly string[],
    private readonly rttMs: ReadonlyMap<string, number> = new Map(),
  ) {
    this.quorum = quorumOf(acceptors.length);
  }

  get state(): BarrierState {
    return this.settled;
  }

  /** An acceptor's status. Answers after the barrier settled change nothing: the barrier is a lower bound. */
  answer(status: StatusAnswer): BarrierState {
    this.known(status.name);
    if (this.settled.kind !== "waiting" || this.unreachables.has(status.name)) return this.settled;
    this.answers.set(status.name, status);
    if (this.answers.size >= this.quorum) {
      this.settled = {
        kind: "ready",
        plan: new ReadPlan([...this.answers.values()], this.rttMs, this.acceptors),
      };
    }
    return this.settled;
  }

  /** An acceptor refused, timed out or failed: it cannot count towards the majority. */
  unreachable(name: string): BarrierState {
    this.known(name);
    if (this.settled.kind !== "waiting" || this.answers.has(name)) return this.settled;
    this.unreachables.add(name);
    if (this.acceptors.length - this.unreachables.size < this.quorum) {
      this.settled = {
        kind: "no-quorum",
        message: `only ${this.acceptors.length - this.unreachables.size} of ${this.acceptors.length} acceptors could answer; a read needs ${this.quorum}`,
      };
    }
    return this.settled;
  }

  private known(name: string): void {
    if (!this.acceptors.includes(name)) throw new Error(`ReadBarrier: ${name} is not an acceptor`);
  }
}

/** What the adapter does next. */
export type ReadStep =
  /** Ask this replica to answer once it has applied `minSlot` (letting it catch up meanwhile). */
  | { kind: "ask"; replica: string; minSlot: Slot }
  /** This replica's answer stands. */
  | { kind: "done"; replica: string }
  /** Have a proposer finish every slot through `through`, then call `synced` or `syncFailed`. */
  | { kind: "sync"; through: Slot }
  | { kind: "no-quorum"; message: string };

/**
 * The replicas to ask once the barrier is known, one at a time. First pass: a
 * replica behind the barrier means the barrier slot may need a proposer, so
 * the plan asks for a sync rather than trying every other replica first;
 * unreachable replicas are skipped. Second pass, after the sync: every replica
 * in turn, and NO_QUORUM when none reaches the barrier.
 *
 * The acceptors whose status came too late for the barrier are asked last: the
 * majority that answered first may be the replicas that are behind (installing
 * a state transfer, say), while the only current one answered after them.
 */
export class ReadPlan {
  /** The barrier: the highest slot accepted among the majority that answered. */
  readonly slot: Slot;
  /** The status answers it was planned from: other reads sharing the round plan from them too. */
  readonly answers: readonly StatusAnswer[];
  /** Up to date replicas nearest first, then the rest freshest first, then those that did not answer, nearest first. */
  readonly order: readonly string[];
  private pass: 1 | 2 = 1;
  private index = -1;
  private asking: string | undefined;
  private syncing = false;

  /** `acceptors`: every acceptor, those that did not answer the status round included. */
  constructor(
    answers: readonly StatusAnswer[],
    rttMs: ReadonlyMap<string, number> = new Map(),
    readonly acceptors: readonly string[] = answers.map((a) => a.name),
  ) {
    if (answers.length === 0) throw new Error("ReadPlan: no status answers");
    this.answers = answers;
    this.slot = Math.max(...answers.map((a) => a.maxAccepted));
    const current = answers.filter((a) => a.chosenThrough >= this.slot);
    const behind = answers.filter((a) => a.chosenThrough < this.slot);
    const rttOf = (name: string) => rttMs.get(name) ?? Number.POSITIVE_INFINITY;
    const byRtt = (a: StatusAnswer, b: StatusAnswer) => rttOf(a.name) - rttOf(b.name);
    // Array.prototype.sort is stable: unmeasured replicas keep the order they answered in.
    current.sort(byRtt);
    behind.sort((a, b) => b.chosenThrough - a.chosenThrough || byRtt(a, b));
    const answered = [...current, ...behind].map((a) => a.name);
    const silent = acceptors.filter((name) => !answered.includes(name)).sort((a, b) => rttOf(a) - rttOf(b));
    this.order = [...answered, ...silent];
  }

  /** The replica the next optimistic read should go to: the nearest one that was up to date. */
  get preferred(): string {
    return this.order[0] as string;
  }

  /** Whether an answer given at `chosenThrough` (e.g. an optimistic read sent with the status round) stands. */
  reaches(chosenThrough: Slot): boolean {
    return chosenThrough >= this.slot;
  }

  /** The first step. */
  start(): ReadStep {
    if (this.index !== -1) throw new Error("ReadPlan: started twice");
    return this.advance();
  }

  /** The replica asked last answered, at `chosenThrough`. */
  replied(name: string, chosenThrough: Slot): ReadStep {
    this.expectAnswerFrom(name);
    if (this.reaches(chosenThrough)) return { kind: "done", replica: name };
    if (this.pass === 1) return this.needSync();
    return this.advance();
  }

  /** The replica asked last did not answer (refusal, timeout, error). */
  unreachable(name: string): ReadStep {
    this.expectAnswerFrom(name);
    return this.advance();
  }

  /** The proposer chose every slot through the barrier: ask every replica again. */
  synced(): ReadStep {
    this.endSync();
    this.pass = 2;
    this.index = -1;
    return this.advance();
  }

  syncFailed(): ReadStep {
    this.endSync();
    return { kind: "no-quorum", message: `no proposer could finish the log through slot ${this.slot}` };
  }

  private advance(): ReadStep {
    this.index++;
    const next = this.order[this.index];
    if (next !== undefined) {
      this.asking = next;
      return { kind: "ask", replica: next, minSlot: this.slot };
    }
    if (this.pass === 1) return this.needSync();
    return {
      kind: "no-quorum",
      message: `no replica could be brought up to slot ${this.slot}, the read barrier`,
    };
  }

  private needSync(): ReadStep {
    this.syncing = true;
    return { kind: "sync", through: this.slot };
  }

  private endSync(): void {
    if (!this.syncing) throw new Error("ReadPlan: no sync was asked for");
    this.syncing = false;
  }

  private expectAnswerFrom(name: string): void {
    if (this.asking !== name) throw new Error(`ReadPlan: ${name} answered, but ${this.asking} was asked`);
    this.asking = undefined;
  }
}
