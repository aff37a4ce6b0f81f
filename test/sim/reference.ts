// The truth the simulator checks reads against: one store built from the slots
// the votes chose, applied in slot order as soon as the prefix is gapless.
// It keeps its whole history, so any answer a replica gave at any rev can be
// compared with what the one log says at that rev.

import { compileGlob } from "../../core/glob";
import { decodeBatch, type MutationOutcome } from "../../core/mutation";
import type { Slot } from "../../core/paxos/messages";
import { Store, type StoreEvent } from "../../core/store";

const text = new TextDecoder();

export class ReferenceLog {
  readonly store = new Store({ historyRevs: Number.MAX_SAFE_INTEGER });
  /** Each mutation id's outcome, as its first copy in the log had it. */
  readonly outcomes = new Map<string, MutationOutcome>();
  private appliedThrough: Slot = 0;

  /** Applies every chosen slot that now extends the gapless prefix. */
  advance(chosen: ReadonlyMap<Slot, Uint8Array>): void {
    for (;;) {
      const value = chosen.get(this.appliedThrough + 1);
      if (value === undefined) return;
      const mutations = decodeBatch(value);
      this.store.apply(mutations).forEach((outcome, i) => {
        const id = mutations[i]?.id;
        if (id && !this.outcomes.has(id)) this.outcomes.set(id, outcome);
      });
      this.appliedThrough++;
    }
  }

  get rev(): number {
    return this.store.rev;
  }

  /** Why a GET answered at `storeRev` is not what the log says at that rev, or undefined if it is. */
  explainGet(
    path: string,
    storeRev: number,
    answer: { value: Uint8Array; rev: number } | "NOENT",
  ): string | undefined {
    if (storeRev > this.store.rev) {
      return `read at rev ${storeRev}, beyond rev ${this.store.rev} of the chosen log: a read from the future`;
    }
    let truth: { value: Uint8Array; rev: number } | "NOENT";
    try {
      truth = this.store.get(path, storeRev);
    } catch {
      truth = "NOENT";
    }
    if (describe(truth) === describe(answer)) return undefined;
    return `${path} at rev ${storeRev} answered ${describe(answer)}, the chosen log says ${describe(truth)}`;
  }

  /** The first event at or after `fromRev` matching `glob` in the chosen log so far. */
  firstEvent(glob: string, fromRev: number): StoreEvent | undefined {
    return this.store.firstEvent(glob, Math.max(fromRev, 0));
  }

  /** Every event matching `glob` with a rev in [fromRev, throughRev]. */
  events(glob: string, fromRev: number, throughRev: number): StoreEvent[] {
    const pattern = compileGlob(glob);
    return this.store
      .eventsFrom(Math.max(fromRev, 0))
      .filter((e) => e.rev <= throughRev && pattern.matches(e.path));
  }
}

export function describeEvent(event: StoreEvent | undefined): string {
  if (event === undefined) return "no event";
  return `${event.op} ${event.path} at rev ${event.rev}${event.op === "set" ? ` = ${text.decode(event.value)}` : ""}`;
}

function describe(answer: { value: Uint8Array; rev: number } | "NOENT"): string {
  return answer === "NOENT" ? "NOENT" : `${JSON.stringify(text.decode(answer.value))} at rev ${answer.rev}`;
}
