// The session keeper (SPEC §6): never early, not much late, with drifting
// and jumping clocks; a new keeper extends every lease.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { sessionTtlMsMax, sessionTtlMsMin } from "../../core/limits";
import { clockStepMsMaxDefault, expiryGraceMs, SessionKeeper } from "../../core/session-keeper";

describe("expiryGraceMs", () => {
  it.each([
    [1000, 3000],
    [2000, 4000],
    [3000, 5000],
    [15_000, 5000],
    [3_600_000, 5000],
  ])("for ttl %i is %i", (ttlMs, graceMs) => {
    expect(expiryGraceMs(ttlMs)).toBe(graceMs);
  });

  it("leaves SPEC's 2 × ttl + 5 s at least a second beyond ttl + grace for wake-up, transit and the write", () => {
    for (let ttlMs = sessionTtlMsMin; ttlMs <= sessionTtlMsMax; ttlMs += 997) {
      expect(2 * ttlMs + 5000 - (ttlMs + expiryGraceMs(ttlMs))).toBeGreaterThanOrEqual(1000);
    }
  });

  it("covers forwarding (1 s), one clamped forward jump (1 s) and a clock 800 ppm fast at every ttl", () => {
    for (let ttlMs = sessionTtlMsMin; ttlMs <= sessionTtlMsMax; ttlMs += 997) {
      const fastRate = 1 + 800e-6;
      // Real time until expiry when every error works against the client.
      const realMs = (ttlMs + expiryGraceMs(ttlMs) - clockStepMsMaxDefault) / fastRate - 1000;
      expect(realMs).toBeGreaterThanOrEqual(ttlMs);
    }
  });
});

describe("a session keeper", () => {
  it("expires a session ttl + grace after it last heard of it, and not a millisecond before", () => {
    const keeper = new SessionKeeper();
    keeper.opened("S", 10_000, 0);
    // Wake it as the adapter would: at each deadline it names.
    let now = 0;
    const expiresAt = 10_000 + expiryGraceMs(10_000);
    while (now < expiresAt - 1) {
      now = Math.min(keeper.nextDeadlineMs() as number, expiresAt - 1);
      expect(keeper.expired(now)).toEqual([]);
    }
    expect(keeper.expired(expiresAt)).toEqual(["S"]);
  });

  it("extends on each keepalive by a full ttl + grace from when it heard it", () => {
    const keeper = new SessionKeeper();
    keeper.opened("S", 2000, 0);
    for (let now = 500; now <= 20_000; now += 500) {
      expect(keeper.keptAlive("S", now)).toBe("alive");
      expect(keeper.expired(now)).toEqual([]);
    }
    const expiresAt = 20_000 + 2000 + expiryGraceMs(2000);
    for (let now = 20_500; now < expiresAt; now += 500) expect(keeper.expired(now)).toEqual([]);
    expect(keeper.expired(expiresAt)).toEqual(["S"]);
  });

  it("answers unknown for a session it never heard of, and ending once it named it, never alive again", () => {
    const keeper = new SessionKeeper();
    expect(keeper.keptAlive("nope", 0)).toBe("unknown");
    keeper.opened("S", 1000, 0);
    const at = 1000 + expiryGraceMs(1000);
    for (let now = 0; now < at; now += 1000) keeper.expired(now);
    expect(keeper.expired(at)).toEqual(["S"]);
    expect(keeper.keptAlive("S", at + 1)).toBe("ending");
    // An open heard again (the replica applying it late) does not revive it either.
    keeper.opened("S", 1000, at + 2);
    expect(keeper.keptAlive("S", at + 3)).toBe("ending");
    keeper.ended("S");
    expect(keeper.keptAlive("S", at + 4)).toBe("unknown");
    expect(keeper.nextDeadlineMs()).toBeUndefined();
  });

  it("names an ending session again after expiryRetryMs until ended() is called", () => {
    const keeper = new SessionKeeper({ expiryRetryMs: 1000 });
    keeper.opened("S", 1000, 0);
    const at = 1000 + expiryGraceMs(1000);
    for (let now = 0; now < at; now += 1000) keeper.expired(now);
    expect(keeper.expired(at)).toEqual(["S"]);
    expect(keeper.expired(at + 999)).toEqual([]);
    expect(keeper.expired(at + 1000)).toEqual(["S"]);
    keeper.ended("S");
    expect(keeper.expired(at + 5000)).toEqual([]);
  });

  it("names several due sessions at once, sorted, and only those due", () => {
    const keeper = new SessionKeeper();
    keeper.opened("c", 1000, 0);
    keeper.opened("a", 1000, 0);
    keeper.opened("b", 60_000, 0);
    // Deadline 1000 + grace 3000; a reading every second, as the keeper asks.
    for (let now = 0; now < 4000; now += 1000) expect(keeper.expired(now)).toEqual([]);
    expect(keeper.expired(4000)).toEqual(["a", "c"]);
    expect(keeper.kept()).toEqual([
      { session: "a", ttlMs: 1000, ending: true },
      { session: "b", ttlMs: 60_000, ending: false },
      { session: "c", ttlMs: 1000, ending: true },
    ]);
  });

  it("asks to be woken at the earliest deadline, but at most clockStepMsMax after its last reading", () => {
    const keeper = new SessionKeeper({ clockStepMsMax: 1000 });
    expect(keeper.nextDeadlineMs()).toBeUndefined();
    keeper.opened("S", 1000, 50_000);
    expect(keeper.nextDeadlineMs()).toBe(51_000);
    keeper.expired(53_500);
    // Keeper time is now 1000 (one clamped step); the deadline is at keeper time 1000 + 1000 + grace.
    expect(keeper.nextDeadlineMs()).toBe(54_500);
    keeper.expired(54_500);
    keeper.expired(55_200);
    // Keeper time 2,700 of a deadline at 4,000: a whole step to wait.
    expect(keeper.nextDeadlineMs()).toBe(56_200);
    keeper.expired(56_200);
    // Keeper time 3,700: 300 ms to go, less than a step.
    expect(keeper.nextDeadlineMs()).toBe(56_500);
    expect(keeper.expired(56_499)).toEqual([]);
    expect(keeper.expired(56_500)).toEqual(["S"]);
  });
});

describe("clocks that misbehave", () => {
  it("a backwards jump only delays an expiry", () => {
    const keeper = new SessionKeeper();
    keeper.opened("S", 5000, 100_000);
    keeper.expired(101_000);
    // The clock jumps back an hour and runs on from there.
    let now = 101_000 - 3_600_000;
    for (let elapsed = 0; elapsed < 4000 + expiryGraceMs(5000); elapsed += 1000) {
      expect(keeper.expired(now + elapsed)).toEqual([]);
    }
    now += 4000 + expiryGraceMs(5000);
    expect(keeper.expired(now)).toEqual(["S"]);
  });

  it("a forward jump counts as at most one clock step", () => {
    const keeper = new SessionKeeper({ clockStepMsMax: 1000 });
    keeper.opened("S", 5000, 0);
    // A day forward: the keeper's clock moves 1 s.
    expect(keeper.expired(86_400_000)).toEqual([]);
    expect(keeper.keptAlive("S", 86_400_000)).toBe("alive");
  });

  it("never expires early: whatever the readings, not before ttl of real time, with a clock up to 1% fast", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: sessionTtlMsMin, max: 20_000 }),
        fc.double({ min: 0.5, max: 1.01, noNaN: true }),
        // Real gaps between wake-ups, and jumps of the clock (backwards, or forwards by up to a minute).
        fc.array(
          fc.record({
            gapMs: fc.integer({ min: 1, max: 3000 }),
            jumpMs: fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: -60_000, max: 60_000 })),
          }),
          { minLength: 1, maxLength: 60 },
        ),
        (ttlMs, rate, steps) => {
          const keeper = new SessionKeeper();
          let realMs = 0;
          let clockMs = 1_000_000;
          let jumps = 0;
          keeper.opened("S", ttlMs, clockMs);
          for (const { gapMs, jumpMs } of steps) {
            realMs += gapMs;
            clockMs += gapMs * rate + jumpMs;
            if (jumpMs > 0) jumps++;
            if (keeper.expired(clockMs).includes("S")) {
              // Each forward jump can cost one clock step; the grace covers one with the forwarding second to spare.
              const stolenMs = Math.max(0, jumps - 1) * clockStepMsMaxDefault;
              expect(realMs + stolenMs).toBeGreaterThanOrEqual(ttlMs);
              return;
            }
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it("is not much late: woken as it asks, with a clock 1% slow, it expires within ttl + grace + 2%", () => {
    for (const ttlMs of [1000, 15_000, 600_000]) {
      const keeper = new SessionKeeper();
      keeper.opened("S", ttlMs, 0);
      let realMs = 0;
      for (;;) {
        const wakeAt = keeper.nextDeadlineMs() as number;
        const clockNow = wakeAt;
        realMs = clockNow / 0.99;
        if (keeper.expired(clockNow).includes("S")) break;
      }
      const boundMs = (ttlMs + expiryGraceMs(ttlMs)) * 1.02;
      expect(realMs).toBeLessThanOrEqual(boundMs);
      expect(realMs).toBeLessThanOrEqual(2 * ttlMs + 5000);
    }
  });
});

describe("a new keeper taking over", () => {
  it("treats every live session as kept alive now, and forgets the ones the store no longer has", () => {
    const keeper = new SessionKeeper();
    keeper.opened("gone", 1000, 0);
    keeper.takeOver(
      [
        { session: "a", ttlMs: 1000 },
        { session: "b", ttlMs: 30_000 },
      ],
      500,
    );
    expect(keeper.keptAlive("gone", 600)).toBe("unknown");
    let now = 600;
    for (; now < 500 + 1000 + expiryGraceMs(1000); now += 250) expect(keeper.expired(now)).toEqual([]);
    expect(keeper.expired(now)).toEqual(["a"]);
    expect(keeper.keptAlive("b", now)).toBe("alive");
  });

  it("never shortens a deadline it already had", () => {
    const keeper = new SessionKeeper();
    keeper.opened("S", 60_000, 0);
    for (let now = 0; now <= 50_000; now += 1000) keeper.keptAlive("S", now);
    // A takeover with a shorter ttl than the keeper heard must not bring the end forward.
    keeper.takeOver([{ session: "S", ttlMs: 1000 }], 51_000);
    for (let now = 52_000; now < 50_000 + 60_000 + expiryGraceMs(60_000); now += 1000) {
      expect(keeper.expired(now)).toEqual([]);
    }
  });

  it("keeps its memory bounded however many keepalives it hears", () => {
    const keeper = new SessionKeeper();
    for (let i = 0; i < 10; i++) keeper.opened(`s${i}`, 60_000, 0);
    for (let now = 1; now <= 50_000; now++) keeper.keptAlive(`s${now % 10}`, now);
    const heap = (keeper as unknown as { heap: unknown[] }).heap;
    expect(heap.length).toBeLessThanOrEqual(2 * 10 + 64);
  });
});
