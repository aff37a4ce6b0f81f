// The chosen slots a proposer keeps committing: each until a quorum of
// replicas confirms it (so a chosen slot is never known to a minority only),
// and until the commands riding in it have their outcome.

import { assert } from "../assert";
import type { Ballot } from "./ballot";
import { bytesEqual } from "./learner";
import type { ChosenEntry, Committed, LogEntry, ProposerMessage, Slot } from "./messages";
import type { Deciding, Pending } from "./proposer-types";

export class Commits<C> {
  private readonly slots = new Map<Slot, Deciding<C>>();

  constructor(
    private readonly acceptors: readonly string[],
    private readonly quorum: number,
    private readonly send: (to: string, message: ProposerMessage) => void,
  ) {}

  /** `entries` were just chosen at `ballot`, accepted by `ackers`; `commands` ride in `commandSlot`. */
  chosen(
    ballot: Ballot,
    entries: readonly LogEntry[],
    ackers: ReadonlySet<string>,
    commandSlot: Slot | undefined,
    commands: Pending<C>[],
    now: number,
  ): void {
    const decided = entries.map((e): Deciding<C> => {
      // Phase 1 may propose again a slot this proposer already saw chosen: its commands still wait there.
      const earlier = this.slots.get(e.slot);
      assert(
        !earlier || bytesEqual(earlier.entry.value, e.value),
        () => `proposer: slot ${e.slot} chosen twice with different values`,
      );
      return {
        entry: { ...e, ballot },
        ackers: new Set(ackers),
        confirmedBy: earlier?.confirmedBy ?? new Set(),
        commands: [...(earlier?.commands ?? []), ...(e.slot === commandSlot ? commands : [])],
        sentAt: now,
      };
    });
    for (const d of decided) this.slots.set(d.entry.slot, d);
    for (const to of this.acceptors) this.sendCommit(to, decided, commandSlot);
  }

  /** A replica's answer: it confirms the slots through its chosen prefix, and may carry a slot's outcome. */
  committed<R>(from: string, reply: Committed<R>, decided: (p: Pending<C>, result: R) => void): void {
    for (const [slot, deciding] of this.slots) {
      if (slot <= reply.chosenThrough) deciding.confirmedBy.add(from);
      if (reply.outcome?.slot === slot && deciding.commands.length > 0) {
        for (const p of deciding.commands) {
          const result = reply.outcome.results[p.batchIndex ?? -1];
          assert(result !== undefined, "proposer: an outcome is missing a command's result");
          decided(p, result);
        }
        deciding.commands = [];
      }
      if (deciding.confirmedBy.size >= this.quorum && deciding.commands.length === 0) this.slots.delete(slot);
    }
  }

  /** Commits again what went unanswered for `retryMs`; returns how many of them still owe an outcome. */
  resend(now: number, retryMs: number): number {
    let owedRounds = 0;
    for (const deciding of this.slots.values()) {
      if (now - deciding.sentAt < retryMs) continue;
      deciding.sentAt = now;
      const owed = deciding.commands.length > 0;
      if (owed) owedRounds++;
      for (const to of this.acceptors) {
        if (owed || !deciding.confirmedBy.has(to))
          this.sendCommit(to, [deciding], owed ? deciding.entry.slot : undefined);
      }
    }
    return owedRounds;
  }

  /** Hands every time at which `resend` or an expiry has work to `at`. */
  deadlines(retryMs: number, at: (time: number) => void): void {
    for (const d of this.slots.values()) {
      at(d.sentAt + retryMs);
      for (const p of d.commands) at(p.deadline);
    }
  }

  /** Replaces each slot's waiting commands by those `keep` keeps. */
  filterCommands(keep: (commands: Pending<C>[]) => Pending<C>[]): void {
    for (const d of this.slots.values()) d.commands = keep(d.commands);
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
}
