import { describe, expect, it } from "vitest";
import { ReadBarrier, ReadPlan, type StatusAnswer } from "../../core/read-barrier";

const names = ["a", "b", "c", "d", "e"];
const status = (name: string, maxAccepted: number, chosenThrough: number): StatusAnswer => ({
  name,
  maxAccepted,
  chosenThrough,
});

function readyPlan(barrier: ReadBarrier): ReadPlan {
  const state = barrier.state;
  if (state.kind !== "ready") throw new Error(`barrier is ${state.kind}`);
  return state.plan;
}

describe("ReadBarrier", () => {
  it("waits for a majority and takes the highest accepted slot among it", () => {
    const barrier = new ReadBarrier(names);
    expect(barrier.answer(status("a", 4, 4)).kind).toBe("waiting");
    expect(barrier.answer(status("b", 7, 5)).kind).toBe("waiting");
    // A repeated answer is one acceptor, not two.
    expect(barrier.answer(status("b", 7, 5)).kind).toBe("waiting");
    const state = barrier.answer(status("c", 6, 6));
    expect(state.kind).toBe("ready");
    const plan = readyPlan(barrier);
    expect(plan.slot).toBe(7);
    // Answers after the majority do not move the barrier.
    barrier.answer(status("d", 99, 99));
    expect(readyPlan(barrier).slot).toBe(7);
  });

  it("answers NO_QUORUM once a majority cannot answer", () => {
    const barrier = new ReadBarrier(names);
    barrier.answer(status("a", 1, 1));
    expect(barrier.unreachable("b").kind).toBe("waiting");
    expect(barrier.unreachable("c").kind).toBe("waiting");
    expect(barrier.unreachable("c").kind).toBe("waiting");
    expect(barrier.unreachable("d").kind).toBe("no-quorum");
    // Settled: a late answer changes nothing.
    expect(barrier.answer(status("e", 1, 1)).kind).toBe("no-quorum");
  });

  it("does not count an acceptor both ways", () => {
    const barrier = new ReadBarrier(["a", "b", "c"]);
    barrier.unreachable("a");
    expect(barrier.answer(status("a", 3, 3)).kind).toBe("waiting");
    barrier.answer(status("b", 1, 1));
    expect(barrier.state.kind).toBe("waiting");
    expect(barrier.answer(status("c", 2, 2)).kind).toBe("ready");
    expect(readyPlan(barrier).slot).toBe(2);
  });

  it("rejects names outside the membership", () => {
    expect(() => new ReadBarrier(names).answer(status("z", 1, 1))).toThrow(/not an acceptor/);
  });
});

describe("ReadPlan", () => {
  it("orders up to date replicas nearest first, then the rest freshest first", () => {
    const rtt = new Map([
      ["a", 80],
      ["b", 5],
      ["c", 40],
      ["e", 1],
    ]);
    const plan = new ReadPlan(
      [status("a", 9, 9), status("b", 9, 3), status("c", 9, 9), status("d", 9, 9), status("e", 2, 7)],
      rtt,
    );
    expect(plan.slot).toBe(9);
    // d has no measurement: after the measured up-to-date ones.
    expect(plan.order).toEqual(["c", "a", "d", "e", "b"]);
    expect(plan.preferred).toBe("c");
    expect(plan.reaches(9)).toBe(true);
    expect(plan.reaches(8)).toBe(false);
  });

  it("is done at the first replica at or past the barrier", () => {
    const plan = new ReadPlan([status("a", 5, 5), status("b", 5, 2)]);
    expect(plan.start()).toEqual({ kind: "ask", replica: "a", minSlot: 5 });
    expect(plan.replied("a", 6)).toEqual({ kind: "done", replica: "a" });
  });

  it("skips unreachable replicas, and asks for a sync when a reachable one is behind", () => {
    const plan = new ReadPlan([status("a", 5, 5), status("b", 5, 4), status("c", 3, 3)]);
    expect(plan.start()).toMatchObject({ replica: "a" });
    expect(plan.unreachable("a")).toEqual({ kind: "ask", replica: "b", minSlot: 5 });
    expect(plan.replied("b", 4)).toEqual({ kind: "sync", through: 5 });
    // After the sync, every replica again, in the same order.
    expect(plan.synced()).toMatchObject({ kind: "ask", replica: "a" });
    expect(plan.replied("a", 4)).toMatchObject({ kind: "ask", replica: "b" });
    expect(plan.unreachable("b")).toMatchObject({ kind: "ask", replica: "c" });
    expect(plan.replied("c", 5)).toEqual({ kind: "done", replica: "c" });
  });

  it("asks the acceptors that answered the status round too late last, nearest first", () => {
    // The majority that answered first is behind (installing a state transfer, say); only c, whose
    // status came after the barrier settled, is current (simulator seeds 276, 831, 1457, 1528).
    const barrier = new ReadBarrier(["a", "b", "c"], new Map([["c", 3]]));
    barrier.answer(status("a", 22, 8));
    barrier.answer(status("b", 22, 3));
    const plan = readyPlan(barrier);
    expect(plan.order).toEqual(["a", "b", "c"]);
    expect(plan.start()).toMatchObject({ replica: "a" });
    expect(plan.replied("a", 8)).toEqual({ kind: "sync", through: 22 });
    expect(plan.synced()).toMatchObject({ replica: "a" });
    expect(plan.replied("a", 8)).toMatchObject({ replica: "b" });
    expect(plan.replied("b", 3)).toEqual({ kind: "ask", replica: "c", minSlot: 22 });
    expect(plan.replied("c", 24)).toEqual({ kind: "done", replica: "c" });
    // A plan rebuilt from the same round, as each read that shares it does, keeps them.
    expect(new ReadPlan(plan.answers, new Map(), plan.acceptors).order).toEqual(["a", "b", "c"]);
    const rtt = new Map([
      ["e", 2],
      ["d", 9],
    ]);
    expect(new ReadPlan([status("a", 1, 1), status("b", 1, 1), status("c", 1, 1)], rtt, names).order).toEqual(
      ["a", "b", "c", "e", "d"],
    );
  });

  it("asks for a sync when no replica answered, and gives up after a second fruitless pass", () => {
    const plan = new ReadPlan([status("a", 2, 2), status("b", 2, 2)]);
    plan.start();
    plan.unreachable("a");
    expect(plan.unreachable("b")).toEqual({ kind: "sync", through: 2 });
    plan.synced();
    plan.replied("a", 1);
    expect(plan.replied("b", 1).kind).toBe("no-quorum");
  });

  it("answers NO_QUORUM when the sync fails, and refuses answers it did not ask for", () => {
    const plan = new ReadPlan([status("a", 2, 1)]);
    plan.start();
    expect(() => plan.replied("b", 2)).toThrow(/was asked/);
    expect(plan.replied("a", 1).kind).toBe("sync");
    expect(() => plan.synced() && plan.synced()).toThrow(/no sync/);
    const other = new ReadPlan([status("a", 2, 1)]);
    other.start();
    other.replied("a", 1);
    expect(other.syncFailed().kind).toBe("no-quorum");
    expect(() => other.start()).toThrow(/twice/);
  });
});
