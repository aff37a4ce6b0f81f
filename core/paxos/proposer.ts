// The proposer: turns client commands into chosen log slots.
//
// Phase 1 (prepare) runs once per ballot and covers every slot from the
// proposer's known chosen prefix on; while no acceptor has promised a higher
// ballot, each new batch of commands costs one phase 2 (accept) round trip.
// A rejection means another proposer holds a higher ballot: back off with
// jitter, then prepare again with a higher round.
//
// Pure: no clock (callers pass `now`), no randomness but `random`, no I/O (the
// caller sends `takeMessages()` and feeds answers to `receive`). The same code
// runs in the Worker and in the seeded simulator.

import { assert } from "../assert";
import { CodedError } from "../errors";
import {
  backoffDoublingsMax,
  noopFillSlotsMax,
  proposerCommandBytesMax,
  proposerCommandsMax,
  proposerSyncsMax,
} from "../limits";
import { quorumOf } from "../quorum";
import { type Ballot, ballotsEqual, compareBallots, formatBallot } from "./ballot";
import { batchLength } from "./batch";
import { Commits } from "./commits";
import { bytesEqual } from "./learner";
import type { AcceptedEntry, AcceptorReply, LogEntry, ProposerMessage, Slot } from "./messages";
import { proposalsAfterPromises } from "./phase-one";
import type {
  Completion,
  Inflight,
  Outbound,
  Pending,
  Phase,
  ProposerOptions,
  ProposerStats,
  SyncRequest,
} from "./proposer-types";

export type { Completion, Outbound, Phase, ProposerOptions, ProposerStats } from "./proposer-types";

export class Proposer<C, R> {
  private readonly quorum: number;
  private state: Phase = "idle";
  private round = 0;
  private ballot: Ballot | undefined;
  private promises = new Map<string, { accepted: AcceptedEntry[] }>();
  private prepareSentAt = 0;
  private retryAt = 0;
  private duels = 0;
  private knownChosenThrough: Slot = 0;
  private nextSlot: Slot = 1;
  private queue: Pending<C>[] = [];
  private syncs: SyncRequest[] = [];
  private nextSyncToken = 1;
  /** Every command submitted and not yet completed, wherever it waits, and their bytes: the bounds' counters. */
  private commandsWaiting = 0;
  private commandBytesWaiting = 0;
  private inflight: Inflight<C> | undefined;
  /** An accept lost to a higher ballot: if phase 1 finds its value again, its commands stay with it. */
  private preempted: Inflight<C> | undefined;
  private readonly commits: Commits<C>;
  private outbox: Outbound[] = [];
  private completions: Completion<C, R>[] = [];
  readonly stats: ProposerStats = {
    prepareRounds: 0,
    acceptRounds: 0,
    commitRounds: 0,
    slotsChosen: 0,
    commandsDecided: 0,
  };

  constructor(private readonly options: ProposerOptions<C>) {
    this.quorum = quorumOf(options.acceptors.length);
    this.commits = new Commits(options.acceptors, this.quorum, (to, message) => this.send(to, message));
  }

  get id(): string {
    return this.options.id;
  }

  /** True while this proposer holds a promise from a quorum and may skip phase 1. */
  get isLeading(): boolean {
    return this.state === "leading";
  }

  get phase(): Phase {
    return this.state;
  }

  get currentBallot(): Ballot | undefined {
    return this.ballot;
  }

  /**
   * Throws NO_QUORUM (503, which clients retry), before taking the command, when
   * the proposer already holds as many as it may: an overload, and nothing was decided.
   */
  submit(command: C, deadline: number, now: number): void {
    const bytes = this.options.sizeOf(command);
    const commandsMax = this.options.commandsMax ?? proposerCommandsMax;
    const bytesMax = this.options.commandBytesMax ?? proposerCommandBytesMax;
    // An empty proposer takes any one command, so a command as large as the byte bound is never stuck.
    if (
      this.commandsWaiting >= commandsMax ||
      (this.commandsWaiting > 0 && this.commandBytesWaiting + bytes > bytesMax)
    ) {
      throw new CodedError(
        "NO_QUORUM",
        `the proposer holds ${this.commandsWaiting} writes (${this.commandBytesWaiting} bytes), its limit; nothing was decided, try again shortly`,
      );
    }
    this.commandsWaiting++;
    this.commandBytesWaiting += bytes;
    this.queue.push({ command, bytes, deadline });
    this.advance(now);
  }

  /**
   * Asks that every slot through `through` be chosen (filling holes with
   * no-ops if need be): a read barrier uses it when a slot some acceptor
   * accepted has no proposer left to finish it. Throws TOO_LARGE when the
   * proposer already holds as many syncs as it may.
   */
  sync(through: Slot, deadline: number, now: number): number {
    const syncsMax = this.options.syncsMax ?? proposerSyncsMax;
    if (this.syncs.length >= syncsMax) {
      throw new CodedError(
        "NO_QUORUM",
        `the proposer holds ${this.syncs.length} read barriers, its limit; try again shortly`,
      );
    }
    const token = this.nextSyncToken++;
    this.syncs.push({ token, through, deadline });
    this.advance(now);
    return token;
  }

  /**
   * Makes this proposer's next ballot rise above `round`: a new leader
   * (core/leader-term.ts) passes the round of the ballot its own acceptor
   * promised, the old leader's, so that it takes over with one phase 1 rather
   * than a rejection first. A promise held at or below `round` is given up at
   * once, without a backoff: its ballot is no longer the leader's.
   */
  raiseRound(round: number, now: number): void {
    assert(Number.isSafeInteger(round) && round >= 0, () => `proposer: cannot raise to round ${round}`);
    this.round = Math.max(this.round, round);
    if (this.ballot && this.ballot.round <= round && this.state !== "idle") {
      this.givePromiseUp();
      this.retryAt = now;
    }
    this.advance(now);
  }

  receive(from: string, reply: AcceptorReply<R>, now: number): void {
    switch (reply.type) {
      case "promised":
        if (this.state === "preparing" && this.ballot && ballotsEqual(reply.ballot, this.ballot)) {
          this.promises.set(from, reply);
          this.noteChosenThrough(reply.chosenThrough);
          if (this.promises.size >= this.quorum) this.lead(now);
        }
        break;
      case "rejected":
        this.round = Math.max(this.round, reply.promised.round);
        if (this.ballot && ballotsEqual(reply.ballot, this.ballot) && this.state !== "idle")
          this.losePromise(now);
        break;
      case "accepted": {
        const inflight = this.inflight;
        // A late or duplicated answer to an earlier accept at the same ballot names other slots.
        if (
          inflight &&
          ballotsEqual(reply.ballot, inflight.ballot) &&
          inflight.entries.every((e) => reply.slots.includes(e.slot))
        ) {
          inflight.acks.add(from);
          if (inflight.acks.size >= this.quorum) this.chosen(inflight, now);
        }
        break;
      }
      case "committed":
        this.noteChosenThrough(reply.chosenThrough);
        this.commits.committed(from, reply, (p, result) => {
          this.complete(p, { kind: "decided", command: p.command, result });
          this.stats.commandsDecided++;
        });
        break;
    }
    this.advance(now);
  }

  /** Resends what went unanswered, ends what passed its deadline, and starts work that was waiting. */
  tick(now: number): void {
    this.expire(now);
    const { retryMs } = this.options;
    if (this.state === "preparing" && this.ballot && now - this.prepareSentAt >= retryMs) {
      this.stats.prepareRounds++;
      this.prepareSentAt = now;
      this.broadcast(this.prepareMessage(this.ballot), this.promises);
    }
    const inflight = this.inflight;
    if (inflight && now - inflight.sentAt >= retryMs) {
      this.stats.acceptRounds++;
      inflight.sentAt = now;
      this.broadcast({ type: "accept", ballot: inflight.ballot, entries: inflight.entries }, inflight.acks);
    }
    this.stats.commitRounds += this.commits.resend(now, retryMs);
    this.advance(now);
  }

  /** When `tick` next has something to do, or undefined if only a message can move things on. */
  nextDeadline(): number | undefined {
    let next: number | undefined;
    const at = (time: number) => {
      if (next === undefined || time < next) next = time;
    };
    const { retryMs } = this.options;
    if (this.state === "idle" && this.hasWork()) at(this.retryAt);
    if (this.state === "preparing") at(this.prepareSentAt + retryMs);
    if (this.inflight) at(this.inflight.sentAt + retryMs);
    for (const p of this.queue) at(p.deadline);
    for (const s of this.syncs) at(s.deadline);
    for (const p of this.inflight?.commands ?? []) at(p.deadline);
    this.commits.deadlines(retryMs, at);
    return next;
  }

  takeMessages(): Outbound[] {
    const out = this.outbox;
    this.outbox = [];
    return out;
  }

  takeCompletions(): Completion<C, R>[] {
    const out = this.completions;
    this.completions = [];
    return out;
  }

  /** Commands and syncs not yet completed. */
  get pendingCount(): number {
    return this.commandsWaiting + this.syncs.length;
  }

  private hasWork(): boolean {
    return this.queue.length > 0 || this.syncs.length > 0 || (this.preempted?.commands.length ?? 0) > 0;
  }

  private advance(now: number): void {
    if (this.state === "idle" && this.hasWork() && now >= this.retryAt) this.prepare(now);
    if (this.state === "leading" && !this.inflight) this.proposeNext(now);
    this.completeSyncs();
  }

  private prepare(now: number): void {
    this.stats.prepareRounds++;
    this.round += 1;
    const ballot = { round: this.round, proposer: this.options.id };
    assert(
      !this.ballot || compareBallots(ballot, this.ballot) > 0,
      () => `proposer: ballot ${formatBallot(ballot)} is not above ${formatBallot(this.ballot as Ballot)}`,
    );
    this.ballot = ballot;
    this.state = "preparing";
    this.promises = new Map();
    this.prepareSentAt = now;
    this.broadcast(this.prepareMessage(ballot));
  }

  private prepareMessage(ballot: Ballot): ProposerMessage {
    return { type: "prepare", ballot, fromSlot: this.knownChosenThrough + 1 };
  }

  /** A quorum promised: propose again whatever may have been chosen above the known prefix (phase-one.ts). */
  private lead(now: number): void {
    const ballot = this.ballot;
    assert(ballot, "proposer: leading without a ballot");
    assert(this.promises.size >= this.quorum, "proposer: leading without a quorum of promises");
    assert(!this.inflight, "proposer: an accept in flight while preparing");
    const settled = this.knownChosenThrough;
    const entries = proposalsAfterPromises(this.promises.values(), settled, () => this.options.pack([]));
    this.state = "leading";
    this.promises = new Map();
    this.nextSlot = settled + entries.length + 1;
    let commands: Pending<C>[] = [];
    let commandSlot: Slot | undefined;
    const lost = this.preempted;
    this.preempted = undefined;
    if (lost && lost.commands.length > 0) {
      const lostValue = lost.entries.find((e) => e.slot === lost.commandSlot)?.value;
      const again = entries.find((e) => e.slot === lost.commandSlot);
      if (again && lostValue && bytesEqual(again.value, lostValue)) {
        commands = lost.commands;
        commandSlot = again.slot;
      } else {
        // Not found in a quorum, so not chosen there: the commands go in a new slot.
        // (Were they chosen below `settled` after all, the store's dedup by id applies them once.)
        this.queue.unshift(...lost.commands);
      }
    }
    if (entries.length > 0)
      this.sendAccept({ ballot, entries, commandSlot, commands, acks: new Set(), sentAt: now });
  }

  private proposeNext(now: number): void {
    const ballot = this.ballot;
    if (!ballot) return;
    const entries: LogEntry[] = [];
    let fillThrough = 0;
    for (const s of this.syncs) if (s.through > fillThrough) fillThrough = s.through;
    // Bounded per accept: a proposer whose view is old (an isolate that led long ago) would
    // otherwise send one message as large as the whole gap. Its first small accept meets the
    // newer ballot, and phase 1 then learns how far the log really is chosen.
    while (this.nextSlot <= fillThrough && entries.length < noopFillSlotsMax)
      entries.push({ slot: this.nextSlot++, value: this.options.pack([]) });
    const { batchCommandsMax, batchBytesMax } = this.options;
    const commands = this.queue.splice(0, batchLength(this.queue, batchCommandsMax, batchBytesMax));
    let commandSlot: Slot | undefined;
    if (commands.length > 0) {
      commands.forEach((p, i) => {
        p.batchIndex = i;
      });
      commandSlot = this.nextSlot++;
      entries.push({ slot: commandSlot, value: this.options.pack(commands.map((p) => p.command)) });
    }
    if (entries.length > 0)
      this.sendAccept({ ballot, entries, commandSlot, commands, acks: new Set(), sentAt: now });
  }

  private sendAccept(inflight: Inflight<C>): void {
    assert(
      this.state === "leading" && !this.inflight,
      "proposer: one accept at a time, and only while leading",
    );
    assert(
      inflight.entries.every((e, i) => i === 0 || e.slot === (inflight.entries[i - 1]?.slot ?? 0) + 1),
      "proposer: an accept's slots are consecutive",
    );
    assert(
      inflight.commands.length === 0 || inflight.entries.some((e) => e.slot === inflight.commandSlot),
      "proposer: commands ride in a slot of their accept",
    );
    this.stats.acceptRounds++;
    this.inflight = inflight;
    this.broadcast({ type: "accept", ballot: inflight.ballot, entries: inflight.entries });
  }

  private chosen(inflight: Inflight<C>, now: number): void {
    assert(inflight.acks.size >= this.quorum, "proposer: chosen without a quorum of accepts");
    this.inflight = undefined;
    this.duels = 0;
    this.stats.slotsChosen += inflight.entries.length;
    if (inflight.commands.length > 0) this.stats.commitRounds++;
    const { ballot, entries, acks, commandSlot, commands } = inflight;
    this.commits.chosen(ballot, entries, acks, commandSlot, commands, now);
  }

  /** A higher ballot exists: give up the promise, keep what is decided, retry the rest after a jittered backoff. */
  private losePromise(now: number): void {
    this.givePromiseUp();
    this.duels = Math.min(this.duels + 1, backoffDoublingsMax);
    const { backoffMs, backoffMsMax, random } = this.options;
    this.retryAt = now + random() * Math.min(backoffMsMax, backoffMs * 2 ** this.duels);
  }

  private givePromiseUp(): void {
    this.state = "idle";
    this.promises = new Map();
    if (this.inflight) {
      // lead() takes the preempted accept back before any new accept leaves, so none is overwritten.
      assert(!this.preempted, "proposer: two preempted accepts at once");
      this.preempted = this.inflight;
      this.inflight = undefined;
    }
  }

  private noteChosenThrough(slot: Slot): void {
    if (slot > this.knownChosenThrough) this.knownChosenThrough = slot;
  }

  private completeSyncs(): void {
    if (this.syncs.length === 0) return;
    // Every slot below nextSlot is chosen once no accept is in flight and phase 1 is behind us.
    const chosenBelow =
      this.state === "leading" && !this.inflight ? this.nextSlot : this.knownChosenThrough + 1;
    this.syncs = this.syncs.filter((s) => {
      if (s.through >= chosenBelow) return true;
      this.completions.push({ kind: "synced", token: s.token });
      return false;
    });
  }

  private expire(now: number): void {
    const expire = (list: Pending<C>[]): Pending<C>[] =>
      list.filter((p) => {
        if (p.deadline > now) return true;
        this.complete(p, { kind: "expired", command: p.command });
        return false;
      });
    this.queue = expire(this.queue);
    if (this.inflight) this.inflight.commands = expire(this.inflight.commands);
    if (this.preempted) this.preempted.commands = expire(this.preempted.commands);
    this.commits.filterCommands(expire);
    this.syncs = this.syncs.filter((s) => {
      if (s.deadline > now) return true;
      this.completions.push({ kind: "sync-expired", token: s.token });
      return false;
    });
  }

  /** Every command completes exactly once, here, which is what keeps the bounds' counters true. */
  private complete(p: Pending<C>, completion: Completion<C, R>): void {
    this.commandsWaiting--;
    this.commandBytesWaiting -= p.bytes;
    assert(this.commandsWaiting >= 0 && this.commandBytesWaiting >= 0, "proposer: a command completed twice");
    this.completions.push(completion);
  }

  private broadcast(message: ProposerMessage, except?: { has(to: string): boolean }): void {
    for (const to of this.options.acceptors) if (!except?.has(to)) this.send(to, message);
  }

  private send(to: string, message: ProposerMessage): void {
    this.outbox.push({ to, message });
  }
}
