import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ReadBatch } from "../../core/read-batch";

const abandonAfterMs = 1_000;

describe("ReadBatch", () => {
  it("starts a round for a read that finds none in flight", () => {
    const batch = new ReadBatch(abandonAfterMs);
    expect(batch.arrive(0)).toEqual({ kind: "start", round: 1 });
    expect(batch.running).toBe(1);
    // Nobody waited for the next: settling starts nothing.
    expect(batch.settled(1, 5)).toBeUndefined();
    expect(batch.running).toBeUndefined();
    expect(batch.arrive(6)).toEqual({ kind: "start", round: 2 });
  });

  it("never lets a read join the round in flight: reads arriving meanwhile share the next one", () => {
    const batch = new ReadBatch(abandonAfterMs);
    batch.arrive(0);
    expect(batch.arrive(1)).toEqual({ kind: "next", round: 2 });
    expect(batch.arrive(2)).toEqual({ kind: "next", round: 2 });
    expect(batch.arrive(3)).toEqual({ kind: "next", round: 2 });
    // Round 1 settles: round 2 starts at once, for the three of them.
    expect(batch.settled(1, 4)).toBe(2);
    expect(batch.running).toBe(2);
    // A read arriving now waits for round 3, not round 2, which started before it.
    expect(batch.arrive(5)).toEqual({ kind: "next", round: 3 });
    expect(batch.settled(2, 6)).toBe(3);
    expect(batch.settled(3, 7)).toBeUndefined();
  });

  it("abandons a round that never settles, and ignores it if it settles late", () => {
    const batch = new ReadBatch(abandonAfterMs);
    batch.arrive(0);
    expect(batch.arrive(10)).toEqual({ kind: "next", round: 2 });
    // Round 1's host is gone: the first arrival past the bound starts round 2, which the waiting read shares.
    expect(batch.arrive(abandonAfterMs)).toEqual({ kind: "start", round: 2 });
    expect(batch.settled(1, abandonAfterMs + 1)).toBeUndefined();
    expect(batch.running).toBe(2);
  });

  it("gives every read a round that starts after it arrived, and batches the reads that overlap one (property)", () => {
    type Step = { kind: "arrive"; dt: number } | { kind: "settle"; which: number; dt: number };
    const step: fc.Arbitrary<Step> = fc.oneof(
      fc.record({ kind: fc.constant("arrive" as const), dt: fc.integer({ min: 0, max: 400 }) }),
      fc.record({
        kind: fc.constant("settle" as const),
        which: fc.nat({ max: 3 }),
        dt: fc.integer({ min: 0, max: 400 }),
      }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 80 }), (steps) => {
        const batch = new ReadBatch(abandonAfterMs);
        let now = 0;
        // One clock for both arrivals and starts, so "after" is strict even within one millisecond.
        let sequence = 0;
        const startedAt = new Map<number, number>();
        const startedAtMs = new Map<number, number>();
        const settled = new Set<number>();
        const reads: { arrivedAt: number; round: number }[] = [];
        const start = (round: number | undefined) => {
          if (round === undefined) return;
          expect(startedAt.has(round)).toBe(false);
          expect(round).toBe(startedAt.size + 1);
          startedAt.set(round, ++sequence);
          startedAtMs.set(round, now);
        };
        for (const s of steps) {
          now += s.dt;
          if (s.kind === "arrive") {
            const inFlight = batch.running;
            const arrivedAt = ++sequence;
            const arrival = batch.arrive(now);
            if (arrival.kind === "start") start(arrival.round);
            reads.push({ arrivedAt, round: arrival.round });
            // Batching: a read that finds a live round in flight starts none; it waits for the very
            // next one, which every read arriving during the same round shares.
            const live = inFlight !== undefined && now - (startedAtMs.get(inFlight) ?? 0) < abandonAfterMs;
            expect(arrival).toEqual(
              live ? { kind: "next", round: inFlight + 1 } : { kind: "start", round: startedAt.size },
            );
          } else {
            // Settle the round in flight or, as a late answer, one started before it.
            const round = (batch.running ?? startedAt.size) - s.which;
            if (round < 1 || !startedAt.has(round) || settled.has(round)) continue;
            settled.add(round);
            start(batch.settled(round, now));
          }
        }
        // Drain: rounds keep settling until none is in flight; then every read's round has started.
        for (let round = batch.running; round !== undefined; round = batch.running) {
          settled.add(round);
          start(batch.settled(round, now));
        }
        for (const read of reads) {
          const roundStart = startedAt.get(read.round);
          expect(roundStart, `round ${read.round} never started`).toBeDefined();
          // The rule: the round a read uses started after the read arrived.
          expect(roundStart as number).toBeGreaterThan(read.arrivedAt);
        }
        // At most one round per batch: never more rounds started than there were reads.
        expect(startedAt.size).toBeLessThanOrEqual(reads.length);
      }),
      { numRuns: 500 },
    );
  });
});
