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

import { type Ballot, ballotsEqual, compareBallots } from "./ballot";
import { bytesEqual } from "./learner";
import type { AcceptedEntry, AcceptorReply, ChosenEntry, LogEntry, ProposerMessage, Slot } from "./messages";

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

interface Pending<C> {
  command: C;
  deadline: number;
  /** Its position in the batch that carries it: its result's index. */
  batchIndex?: number;
}

interface SyncRequest {
  token: number;
  through: Slot;
  deadline: number;
}

/** The accept this proposer has in flight; at most one at a time, so batches form behind it. */
interface Inflight<C> {
  ballot: Ballot;
  entries: LogEntry[];
  /** The slot carrying `commands`, if this accept carries new commands. */
  commandSlot?: Slot;
  commands: Pending<C>[];
  acks: Set<string>;
  sentAt: number;
}

/** A chosen slot whose commit a quorum has not yet confirmed, or whose outcome is still owed to commands. */
interface Deciding<C> {
  entry: AcceptedEntry;
  ackers: Set<string>;
  confirmedBy: Set<string>;
  commands: Pending<C>[];
  sentAt: number;
}

type Phase = "idle" | "preparing" | "leading";

export class Proposer<C, R> {
  private readonly quorum: number;
  private phase: Phase = "idle";
  private round = 0;
  private ballot: Ballot | undefined;
  private promises = new Map<string, { chosenThrough: Slot; accepted: AcceptedEntry[] }>();
  private prepareSentAt = 0;
  private retryAt = 0;
  private duels = 0;
  private knownChosenThrough: Slot = 0;
  private nextSlot: Slot = 1;
  private queue: Pending<C>[] = [];
  private syncs: SyncRequest[] = [];
  private nextSyncToken = 1;
  private inflight: Inflight<C> | undefined;
  /** An accept lost to a higher ballot: if phase 1 finds its value again, its commands stay with it. */
  private preempted: Inflight<C> | undefined;
  private readonly deciding = new Map<Slot, Deciding<C>>();
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
    this.quorum = Math.floor(options.acceptors.length / 2) + 1;
  }

  get id(): string {
    return this.options.id;
  }

  /** True while this proposer holds a promise from a quorum and may skip phase 1. */
  get isLeading(): boolean {
    return this.phase === "leading";
  }

  get currentBallot(): Ballot | undefined {
    return this.ballot;
  }

  submit(command: C, deadline: number, now: number): void {
    this.queue.push({ command, deadline });
    this.advance(now);
  }

  /**
   * Asks that every slot through `through` be chosen (filling holes with
   * no-ops if need be): a read barrier uses it when a slot some acceptor
   * accepted has no proposer left to finish it.
   */
  sync(through: Slot, deadline: number, now: number): number {
    const token = this.nextSyncToken++;
    this.syncs.push({ token, through, deadline });
    this.advance(now);
    return token;
  }

  receive(from: string, reply: AcceptorReply<R>, now: number): void {
    switch (reply.type) {
      case "promised":
        if (this.phase === "preparing" && this.ballot && ballotsEqual(reply.ballot, this.ballot)) {
          this.promises.set(from, reply);
          this.noteChosenThrough(reply.chosenThrough);
          if (this.promises.size >= this.quorum) this.lead(now);
        }
        break;
      case "rejected":
        this.round = Math.max(this.round, reply.promised.round);
        if (this.ballot && ballotsEqual(reply.ballot, this.ballot) && this.phase !== "idle")
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
        for (const [slot, deciding] of this.deciding) {
          if (slot <= reply.chosenThrough) deciding.confirmedBy.add(from);
          if (reply.outcome?.slot === slot && deciding.commands.length > 0) {
            for (const p of deciding.commands) {
              const result = reply.outcome.results[p.batchIndex ?? -1];
              if (result === undefined) throw new Error("proposer: an outcome is missing a command's result");
              this.completions.push({ kind: "decided", command: p.command, result });
              this.stats.commandsDecided++;
            }
            deciding.commands = [];
          }
          if (deciding.confirmedBy.size >= this.quorum && deciding.commands.length === 0)
            this.deciding.delete(slot);
        }
        break;
    }
    this.advance(now);
  }

  /** Resends what went unanswered, ends what passed its deadline, and starts work that was waiting. */
  tick(now: number): void {
    this.expire(now);
    const { retryMs } = this.options;
    if (this.phase === "preparing" && this.ballot && now - this.prepareSentAt >= retryMs) {
      this.stats.prepareRounds++;
      this.prepareSentAt = now;
      for (const to of this.options.acceptors) {
        if (!this.promises.has(to)) this.send(to, this.prepareMessage(this.ballot));
      }
    }
    const inflight = this.inflight;
    if (inflight && now - inflight.sentAt >= retryMs) {
      this.stats.acceptRounds++;
      inflight.sentAt = now;
      for (const to of this.options.acceptors) {
        if (!inflight.acks.has(to))
          this.send(to, { type: "accept", ballot: inflight.ballot, entries: inflight.entries });
      }
    }
    for (const deciding of this.deciding.values()) {
      if (now - deciding.sentAt < retryMs) continue;
      deciding.sentAt = now;
      const owed = deciding.commands.length > 0;
      if (owed) this.stats.commitRounds++;
      for (const to of this.options.acceptors) {
        if (owed || !deciding.confirmedBy.has(to))
          this.sendCommit(to, [deciding], owed ? deciding.entry.slot : undefined);
      }
    }
    this.advance(now);
  }

  /** When `tick` next has something to do, or undefined if only a message can move things on. */
  nextDeadline(): number | undefined {
    const times: number[] = [];
    const { retryMs } = this.options;
    if (this.phase === "idle" && this.hasWork()) times.push(this.retryAt);
    if (this.phase === "preparing") times.push(this.prepareSentAt + retryMs);
    if (this.inflight) times.push(this.inflight.sentAt + retryMs);
    for (const d of this.deciding.values()) times.push(d.sentAt + retryMs);
    for (const p of this.queue) times.push(p.deadline);
    for (const s of this.syncs) times.push(s.deadline);
    for (const p of this.inflight?.commands ?? []) times.push(p.deadline);
    for (const d of this.deciding.values()) for (const p of d.commands) times.push(p.deadline);
    return times.length > 0 ? Math.min(...times) : undefined;
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
    let count = this.queue.length + this.syncs.length + (this.inflight?.commands.length ?? 0);
    for (const d of this.deciding.values()) count += d.commands.length;
    return count;
  }

  private hasWork(): boolean {
    return this.queue.length > 0 || this.syncs.length > 0 || (this.preempted?.commands.length ?? 0) > 0;
  }

  private advance(now: number): void {
    if (this.phase === "idle" && this.hasWork() && now >= this.retryAt) this.prepare(now);
    if (this.phase === "leading" && !this.inflight) this.proposeNext(now);
    this.completeSyncs();
  }

  private prepare(now: number): void {
    this.stats.prepareRounds++;
    this.round += 1;
    this.ballot = { round: this.round, proposer: this.options.id };
    this.phase = "preparing";
    this.promises = new Map();
    this.prepareSentAt = now;
    for (const to of this.options.acceptors) this.send(to, this.prepareMessage(this.ballot));
  }

  private prepareMessage(ballot: Ballot): ProposerMessage {
    return { type: "prepare", ballot, fromSlot: this.knownChosenThrough + 1 };
  }

  /**
   * A quorum promised. Slots up to the highest chosen prefix any of them knows
   * are settled; above it, each slot takes the value accepted at the highest
   * ballot in the quorum (it may have been chosen), and holes take a no-op.
   */
  private lead(now: number): void {
    const ballot = this.ballot;
    if (!ballot) throw new Error("proposer: leading without a ballot");
    const settled = this.knownChosenThrough;
    const highest = new Map<Slot, AcceptedEntry>();
    for (const { accepted } of this.promises.values()) {
      for (const entry of accepted) {
        if (entry.slot <= settled) continue;
        const seen = highest.get(entry.slot);
        if (!seen || compareBallots(entry.ballot, seen.ballot) > 0) highest.set(entry.slot, entry);
      }
    }
    const top = Math.max(settled, ...highest.keys());
    const entries: LogEntry[] = [];
    for (let slot = settled + 1; slot <= top; slot++) {
      entries.push({ slot, value: highest.get(slot)?.value ?? this.options.pack([]) });
    }
    this.phase = "leading";
    this.promises = new Map();
    this.nextSlot = top + 1;
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
    const fillThrough = Math.max(0, ...this.syncs.map((s) => s.through));
    while (this.nextSlot <= fillThrough)
      entries.push({ slot: this.nextSlot++, value: this.options.pack([]) });
    const commands = this.takeBatch();
    let commandSlot: Slot | undefined;
    if (commands.length > 0) {
      commandSlot = this.nextSlot++;
      entries.push({ slot: commandSlot, value: this.options.pack(commands.map((p) => p.command)) });
    }
    if (entries.length > 0)
      this.sendAccept({ ballot, entries, commandSlot, commands, acks: new Set(), sentAt: now });
  }

  private takeBatch(): Pending<C>[] {
    const { batchCommandsMax, batchBytesMax, sizeOf } = this.options;
    let bytes = 0;
    let count = 0;
    while (count < this.queue.length && count < batchCommandsMax) {
      const next = this.queue[count];
      if (!next) break;
      const size = sizeOf(next.command);
      // The first command always goes, so a command as large as the limit still makes progress.
      if (count > 0 && bytes + size > batchBytesMax) break;
      bytes += size;
      count++;
    }
    const batch = this.queue.splice(0, count);
    batch.forEach((p, i) => {
      p.batchIndex = i;
    });
    return batch;
  }

  private sendAccept(inflight: Inflight<C>): void {
    this.stats.acceptRounds++;
    this.inflight = inflight;
    for (const to of this.options.acceptors) {
      this.send(to, { type: "accept", ballot: inflight.ballot, entries: inflight.entries });
    }
  }

  private chosen(inflight: Inflight<C>, now: number): void {
    this.inflight = undefined;
    this.duels = 0;
    this.stats.slotsChosen += inflight.entries.length;
    if (inflight.commands.length > 0) this.stats.commitRounds++;
    const decided: Deciding<C>[] = inflight.entries.map((e) => {
      // Phase 1 may propose again a slot this proposer already saw chosen: its commands still wait there.
      const earlier = this.deciding.get(e.slot);
      if (earlier && !bytesEqual(earlier.entry.value, e.value)) {
        throw new Error(`proposer: slot ${e.slot} chosen twice with different values`);
      }
      return {
        entry: { ...e, ballot: inflight.ballot },
        ackers: new Set(inflight.acks),
        confirmedBy: earlier?.confirmedBy ?? new Set(),
        commands: [
          ...(earlier?.commands ?? []),
          ...(e.slot === inflight.commandSlot ? inflight.commands : []),
        ],
        sentAt: now,
      };
    });
    for (const d of decided) this.deciding.set(d.entry.slot, d);
    for (const to of this.options.acceptors) this.sendCommit(to, decided, inflight.commandSlot);
  }

  private sendCommit(to: string, decided: readonly Deciding<C>[], outcomeSlot: Slot | undefined): void {
    const entries: ChosenEntry[] = decided.map(({ entry, ackers }) =>
      ackers.has(to)
        ? { slot: entry.slot, ballot: entry.ballot }
        : { slot: entry.slot, ballot: entry.ballot, value: entry.value },
    );
    this.send(
      to,
      outcomeSlot === undefined ? { type: "commit", entries } : { type: "commit", entries, outcomeSlot },
    );
  }

  /** A higher ballot exists: give up the promise, keep what is decided, retry the rest after a jittered backoff. */
  private losePromise(now: number): void {
    this.phase = "idle";
    this.promises = new Map();
    if (this.inflight) {
      this.preempted = this.inflight;
      this.inflight = undefined;
    }
    this.duels = Math.min(this.duels + 1, 30);
    const { backoffMs, backoffMsMax, random } = this.options;
    this.retryAt = now + random() * Math.min(backoffMsMax, backoffMs * 2 ** this.duels);
  }

  private noteChosenThrough(slot: Slot): void {
    if (slot > this.knownChosenThrough) this.knownChosenThrough = slot;
  }

  private completeSyncs(): void {
    if (this.syncs.length === 0) return;
    // Every slot below nextSlot is chosen once no accept is in flight and phase 1 is behind us.
    const chosenBelow =
      this.phase === "leading" && !this.inflight ? this.nextSlot : this.knownChosenThrough + 1;
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
        this.completions.push({ kind: "expired", command: p.command });
        return false;
      });
    this.queue = expire(this.queue);
    if (this.inflight) this.inflight.commands = expire(this.inflight.commands);
    if (this.preempted) this.preempted.commands = expire(this.preempted.commands);
    for (const d of this.deciding.values()) d.commands = expire(d.commands);
    this.syncs = this.syncs.filter((s) => {
      if (s.deadline > now) return true;
      this.completions.push({ kind: "sync-expired", token: s.token });
      return false;
    });
  }

  private send(to: string, message: ProposerMessage): void {
    this.outbox.push({ to, message });
  }
}
