import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ReadBatch } from "../../core/read-batch";

const abandonAfterMs = 1_000;

describe("ReadBatch", () => {
  it("starts a round for a read that finds none in flight", () => {
    const batch = new ReadBatch(abandonAfterMs);
    expect(batch.arrive(0)).toEqual({ kind: "start", round: 1 });
    expect(batch.running).toBe(1);
    batch.settled(1);
    expect(batch.running).toBeUndefined();
    expect(batch.arrive(6)).toEqual({ kind: "start", round: 2 });
  });

  it("never lets a read join the round in flight: reads arriving meanwhile share the next one", () => {
    const batch = new ReadBatch(abandonAfterMs);
    batch.arrive(0);
    expect(batch.arrive(1)).toEqual({ kind: "next", round: 2 });
    expect(batch.arrive(2)).toEqual({ kind: "next", round: 2 });
    expect(batch.arrive(3)).toEqual({ kind: "next", round: 2 });
    // Nobody starts round 2 while round 1 is in flight.
    expect(batch.claim(2, 3)).toBe(false);
    batch.settled(1);
    // Round 1 settled: the first of the three to ask starts round 2, the others share it.
    expect(batch.claim(2, 4)).toBe(true);
    expect(batch.claim(2, 4)).toBe(false);
    expect(batch.running).toBe(2);
    // A read arriving now waits for round 3, not round 2, which started before it.
    expect(batch.arrive(5)).toEqual({ kind: "next", round: 3 });
    batch.settled(2);
    expect(batch.claim(3, 6)).toBe(true);
  });

  it("lets a read that arrives between a round's end and the next one's claim start it, for all", () => {
    const batch = new ReadBatch(abandonAfterMs);
    batch.arrive(0);
    expect(batch.arrive(1)).toEqual({ kind: "next", round: 2 });
    batch.settled(1);
    // Round 2 has not started: it starts now, after both reads arrived, and the waiting one shares it.
    expect(batch.arrive(2)).toEqual({ kind: "start", round: 2 });
    expect(batch.claim(2, 3)).toBe(false);
  });

  it("abandons a round that never settles, and ignores it if it settles late", () => {
    const batch = new ReadBatch(abandonAfterMs);
    batch.arrive(0);
    expect(batch.arrive(10)).toEqual({ kind: "next", round: 2 });
    expect(batch.claim(2, abandonAfterMs - 1)).toBe(false);
    // Round 1's host is gone: past the bound, the waiting read starts round 2.
    expect(batch.claim(2, abandonAfterMs)).toBe(true);
    batch.settled(1);
    expect(batch.running).toBe(2);
  });

  it("gives every read a round that starts after it arrived, and batches the reads that overlap one (property)", () => {
    type Step =
      | { kind: "arrive"; dt: number }
      | { kind: "settle"; which: number; dt: number }
      | { kind: "claim"; which: number; dt: number };
    const dt = fc.integer({ min: 0, max: 400 });
    const step: fc.Arbitrary<Step> = fc.oneof(
      fc.record({ kind: fc.constant("arrive" as const), dt }),
      fc.record({ kind: fc.constant("settle" as const), which: fc.nat({ max: 3 }), dt }),
      fc.record({ kind: fc.constant("claim" as const), which: fc.nat({ max: 20 }), dt }),
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
        const start = (round: number) => {
          expect(startedAt.has(round)).toBe(false);
          expect(round).toBe(startedAt.size + 1);
          startedAt.set(round, ++sequence);
          startedAtMs.set(round, now);
        };
        const live = () => {
          const running = batch.running;
          return running !== undefined && now - (startedAtMs.get(running) ?? 0) < abandonAfterMs;
        };
        const claim = (round: number) => {
          const wasLive = live();
          const claimed = batch.claim(round, now);
          // A claim never starts a round while a live one is in flight, and starts each round once.
          expect(claimed).toBe(!wasLive && !startedAt.has(round));
          if (claimed) start(round);
        };
        for (const s of steps) {
          now += s.dt;
          if (s.kind === "arrive") {
            const inFlight = batch.running;
            const wasLive = live();
            const arrivedAt = ++sequence;
            const arrival = batch.arrive(now);
            if (arrival.kind === "start") start(arrival.round);
            reads.push({ arrivedAt, round: arrival.round });
            // Batching: a read that finds a live round in flight starts none; it waits for the very
            // next one, which every read arriving during the same round shares.
            expect(arrival).toEqual(
              wasLive
                ? { kind: "next", round: (inFlight as number) + 1 }
                : { kind: "start", round: startedAt.size },
            );
          } else if (s.kind === "settle") {
            // Settle the round in flight or, as a late answer, one started before it.
            const round = (batch.running ?? startedAt.size) - s.which;
            if (round < 1 || !startedAt.has(round) || settled.has(round)) continue;
            settled.add(round);
            batch.settled(round);
          } else {
            const waiting = reads.filter((r) => !startedAt.has(r.round));
            const read = waiting[s.which % Math.max(1, waiting.length)];
            if (read) claim(read.round);
          }
        }
        // Drain: rounds settle and their waiting reads claim the next until none waits.
        for (let guard = 0; guard < 200; guard++) {
          const running = batch.running;
          if (running !== undefined) {
            settled.add(running);
            batch.settled(running);
          }
          const waiting = reads.find((r) => !startedAt.has(r.round));
          if (!waiting) break;
          claim(waiting.round);
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
