import { describe, expect, it } from "vitest";
import { CatchUp, type CatchUpStep } from "../../core/catch-up";
import { catchUpBackoffMs, catchUpBackoffMsMax, catchUpRounds, fetchSlotsMax } from "../../core/limits";

const range = (fromSlot: number, toSlot: number) => ({ fromSlot, toSlot });

function fetchOf(step: CatchUpStep): { peer: string; fromSlot: number; toSlot: number } {
  if (step.kind !== "fetch") throw new Error(`expected a fetch, got ${JSON.stringify(step)}`);
  return { peer: step.peer, fromSlot: step.fetch.fromSlot, toSlot: step.fetch.toSlot };
}

describe("CatchUp", () => {
  it("is done when nothing is missing", () => {
    expect(new CatchUp({ peers: ["b", "c"] }).next(undefined)).toEqual({ kind: "done" });
  });

  it("asks for the missing range, bounded by fetchSlotsMax", () => {
    const plan = new CatchUp({ peers: ["b", "c"], firstPeer: 1 });
    expect(fetchOf(plan.next(range(3, 3 + fetchSlotsMax * 2)))).toEqual({
      peer: "c",
      fromSlot: 3,
      toSlot: 2 + fetchSlotsMax,
    });
  });

  it("stays with a peer that helped, and moves on from one that did not", () => {
    const plan = new CatchUp({ peers: ["b", "c", "d"] });
    expect(fetchOf(plan.next(range(1, 10))).peer).toBe("b");
    plan.answered("b", true);
    expect(fetchOf(plan.next(range(5, 10))).peer).toBe("b");
    plan.answered("b", false);
    expect(fetchOf(plan.next(range(5, 10))).peer).toBe("c");
    plan.unreachable("c");
    expect(fetchOf(plan.next(range(5, 10))).peer).toBe("d");
  });

  it("gives up after its rounds over all peers bring nothing, and starts over on progress", () => {
    const peers = ["b", "c"];
    const plan = new CatchUp({ peers });
    for (let i = 0; i < peers.length * catchUpRounds - 1; i++) {
      plan.answered(fetchOf(plan.next(range(1, 2))).peer, false);
    }
    const last = fetchOf(plan.next(range(1, 2))).peer;
    plan.answered(last, true);
    for (let i = 0; i < peers.length * catchUpRounds; i++) {
      plan.answered(fetchOf(plan.next(range(2, 2))).peer, false);
    }
    expect(plan.next(range(2, 2)).kind).toBe("give-up");
  });

  it("waits, longer each time, when every peer is unreachable, and never spins", () => {
    const peers = ["b", "c", "d"];
    const plan = new CatchUp({ peers, rounds: 5 });
    const steps: string[] = [];
    for (;;) {
      const step = plan.next(range(1, 1));
      if (step.kind === "give-up") break;
      if (step.kind === "wait") steps.push(`wait ${step.ms}`);
      else if (step.kind === "fetch") {
        steps.push(step.peer);
        plan.unreachable(step.peer);
      } else throw new Error(step.kind);
      if (steps.length > 100) throw new Error("catch-up spins");
    }
    const round = peers.join(" ");
    const b = catchUpBackoffMs;
    expect(steps.join(" ")).toBe(
      [
        round,
        `wait ${b}`,
        round,
        `wait ${b * 2}`,
        round,
        `wait ${b * 4}`,
        round,
        `wait ${b * 8}`,
        round,
      ].join(" "),
    );
  });

  it("caps the pause and forgets it once a peer answers", () => {
    const plan = new CatchUp({ peers: ["b"], rounds: 100 });
    let pause = 0;
    for (let i = 0; i < 30; i++) {
      const step = plan.next(range(1, 1));
      if (step.kind === "wait") pause = step.ms;
      else plan.unreachable(fetchOf(step).peer);
    }
    expect(pause).toBe(catchUpBackoffMsMax);
    const step = plan.next(range(1, 1));
    if (step.kind === "fetch") plan.answered("b", true);
    else {
      plan.answered(fetchOf(plan.next(range(1, 1))).peer, true);
    }
    plan.unreachable(fetchOf(plan.next(range(2, 2))).peer);
    expect(plan.next(range(2, 2))).toEqual({ kind: "wait", ms: catchUpBackoffMs });
  });

  it("gives up at once with no peers, and refuses out-of-turn answers", () => {
    expect(new CatchUp({ peers: [] }).next(range(1, 1)).kind).toBe("give-up");
    const plan = new CatchUp({ peers: ["b", "c"] });
    plan.next(range(1, 1));
    expect(() => plan.next(range(1, 1))).toThrow(/still waiting/);
    expect(() => plan.answered("c", true)).toThrow(/was asked/);
  });

  it("after a trim point, asks the other peers once, then transfers from the one that trimmed furthest", () => {
    const plan = new CatchUp({ peers: ["b", "c", "d"] });
    expect(fetchOf(plan.next(range(5, 10))).peer).toBe("b");
    plan.trimmed("b", 20);
    expect(fetchOf(plan.next(range(5, 10))).peer).toBe("c");
    plan.trimmed("c", 30);
    expect(fetchOf(plan.next(range(5, 10))).peer).toBe("d");
    plan.unreachable("d");
    expect(plan.next(range(5, 10))).toEqual({ kind: "transfer", peer: "c" });
    plan.transferred("c", true);
    // Installed: the fetches go on from the installed slot, with the same peer.
    expect(fetchOf(plan.next(range(31, 40)))).toEqual({ peer: "c", fromSlot: 31, toSlot: 40 });
  });

  it("forgets the trim points when another peer still held the slots", () => {
    const plan = new CatchUp({ peers: ["b", "c"] });
    expect(fetchOf(plan.next(range(5, 10))).peer).toBe("b");
    plan.trimmed("b", 20);
    expect(fetchOf(plan.next(range(5, 10))).peer).toBe("c");
    plan.answered("c", true);
    expect(fetchOf(plan.next(range(8, 10))).peer).toBe("c");
  });

  it("counts a failed transfer as an unreachable peer", () => {
    const plan = new CatchUp({ peers: ["b"] });
    expect(fetchOf(plan.next(range(5, 10))).peer).toBe("b");
    plan.trimmed("b", 20);
    expect(plan.next(range(5, 10))).toEqual({ kind: "transfer", peer: "b" });
    plan.transferred("b", false);
    expect(plan.next(range(5, 10))).toEqual({ kind: "wait", ms: catchUpBackoffMs });
    expect(fetchOf(plan.next(range(5, 10))).peer).toBe("b");
  });
});
