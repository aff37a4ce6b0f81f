import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { candidateRank, KeeperGrants, KeeperLease, keeperOfTerm, nextTermOf } from "../../core/keeper-lease";
import { decodeBatch, encodeBatch, type Mutation } from "../../core/mutation";
import { Store } from "../../core/store";

const acceptors = ["acceptor-0", "acceptor-1", "acceptor-2"];

describe("keeper terms", () => {
  it("rotate over the acceptors from the preferred one, term 0 having none", () => {
    expect(keeperOfTerm(0, acceptors, "acceptor-1")).toBeUndefined();
    expect([1, 2, 3, 4].map((t) => keeperOfTerm(t, acceptors, "acceptor-1"))).toEqual([
      "acceptor-1",
      "acceptor-2",
      "acceptor-0",
      "acceptor-1",
    ]);
    expect(nextTermOf("acceptor-1", 0, acceptors, "acceptor-1")).toBe(1);
    expect(nextTermOf("acceptor-1", 1, acceptors, "acceptor-1")).toBe(4);
    expect(nextTermOf("acceptor-0", 7, acceptors, "acceptor-1")).toBe(9);
    expect(candidateRank("acceptor-1", acceptors, "acceptor-1")).toBe(0);
    expect(candidateRank("acceptor-0", acceptors, "acceptor-1")).toBe(2);
    expect(() => nextTermOf("acceptor-9", 0, acceptors, "acceptor-1")).toThrow();
  });
});

describe("KeeperGrants", () => {
  const options = { leaseMs: 1500, stepMsMax: 1000 };

  it("grants one candidate at a time, renews it, and frees the role when the grant runs out", () => {
    // Readings further apart than a step count as a step: here, a step as long as any gap.
    const grants = new KeeperGrants({ ...options, stepMsMax: 10_000 }, 0);
    // A grantor that never granted holds no grant.
    expect(grants.request("a", 0)).toEqual({ granted: true });
    expect(grants.request("a", 1500)).toEqual({ granted: true });
    expect(grants.request("b", 2000)).toEqual({ granted: false, holder: "a" });
    expect(grants.request("a", 2500)).toEqual({ granted: true });
    expect(grants.holder(3999)).toBe("a");
    expect(grants.request("b", 3999)).toEqual({ granted: false, holder: "a" });
    expect(grants.holder(4000)).toBeUndefined();
    expect(grants.request("b", 4000)).toEqual({ granted: true });
  });

  it("after a restart grants its last grantee at once and others only a lease later", () => {
    const grants = new KeeperGrants({ ...options, stored: { lastGrantee: "a" } }, 10_000);
    expect(grants.request("b", 10_100)).toEqual({ granted: false, holder: "a" });
    expect(grants.request("b", 11_000)).toEqual({ granted: false, holder: "a" });
    expect(grants.request("b", 11_500)).toEqual({ granted: true });
    const again = new KeeperGrants({ ...options, stored: { lastGrantee: "a" } }, 20_000);
    expect(again.request("a", 20_100)).toEqual({ granted: true });
  });

  it("lets a released grant go, but only its own candidate's", () => {
    const grants = new KeeperGrants({ ...options, stored: { lastGrantee: "a" } }, 0);
    grants.release("b");
    expect(grants.holder(1)).toBe("a");
    grants.release("a");
    expect(grants.request("b", 2)).toEqual({ granted: true });
  });

  it("counts a clock jump forward as at most one step, and one back as none", () => {
    const grants = new KeeperGrants(options, 0);
    expect(grants.request("a", 1500)).toEqual({ granted: true });
    // A jump of an hour: the grant has 500 ms left, not nothing.
    expect(grants.request("b", 1500 + 3_600_000)).toEqual({ granted: false, holder: "a" });
    expect(grants.remainingMs(1500 + 3_600_000)).toBe(500);
    // Back by a minute: time stands still.
    expect(grants.remainingMs(1500 + 3_540_000)).toBe(500);
  });

  it("never lets two candidates hold grants from a majority at once (property)", () => {
    // Three grantors with their own drifting clocks; candidates ask at random times. Each
    // candidate's lease runs from its send (KeeperLease): no two leases may overlap in true time.
    const ask = fc.record({
      at: fc.integer({ min: 0, max: 20_000 }),
      candidate: fc.constantFrom("a", "b", "c"),
      delay: fc.integer({ min: 0, max: 300 }),
    });
    fc.assert(
      fc.property(
        fc.array(ask, { minLength: 1, maxLength: 60 }),
        fc.array(fc.double({ min: -0.005, max: 0.005, noNaN: true }), { minLength: 6, maxLength: 6 }),
        (asks, rates) => {
          const grantors = [0, 1, 2].map(() => new KeeperGrants(options, 0));
          const clock = (i: number, t: number) => t * (1 + (rates[i] ?? 0));
          const leases: { candidate: string; from: number; to: number }[] = [];
          for (const { at, candidate, delay } of [...asks].sort((x, y) => x.at - y.at)) {
            const c = 3 + ["a", "b", "c"].indexOf(candidate);
            const lease = new KeeperLease(1500, 0.01, 100);
            const round = lease.sending(clock(c, at));
            const granted = grantors.filter(
              (g, i) => g.request(candidate, clock(i, at + delay)).granted,
            ).length;
            if (granted < 2) continue;
            lease.granted(round);
            // The lease's end in true time: when the candidate's clock reads untilMs.
            leases.push({ candidate, from: at + delay, to: lease.untilMs / (1 + (rates[c] ?? 0)) });
          }
          for (const x of leases) {
            for (const y of leases) {
              if (x.candidate !== y.candidate && x.from < y.from) expect(x.to).toBeLessThanOrEqual(y.from);
            }
          }
        },
      ),
    );
  });
});

describe("KeeperLease", () => {
  it("runs from the send, less its margins", () => {
    const lease = new KeeperLease(1500, 0.01, 100);
    const round = lease.sending(1000);
    expect(lease.valid(1000)).toBe(false);
    lease.granted(round);
    expect(lease.untilMs).toBe(1000 + 1485 - 100);
    expect(lease.valid(2384)).toBe(true);
    expect(lease.valid(2385)).toBe(false);
  });

  it("ends when the clock reads backwards, and a round sent before then grants nothing", () => {
    const lease = new KeeperLease(1500, 0.01, 100);
    const before = lease.sending(5000);
    lease.granted(before);
    expect(lease.valid(5100)).toBe(true);
    expect(lease.valid(5050)).toBe(false);
    const late = lease.sending(4000);
    lease.granted(before);
    expect(lease.valid(4050)).toBe(false);
    lease.granted(late);
    expect(lease.valid(4100)).toBe(true);
  });

  it("refuses margins that leave no lease", () => {
    expect(() => new KeeperLease(100, 0.01, 100)).toThrow();
  });
});

describe("the store's keeper term", () => {
  const open: Mutation = { op: "session-open", id: "o", session: "s", ttlMs: 1000 };
  const expire = (term: number): Mutation => ({
    op: "session-end",
    id: `expire.${term}.s`,
    session: "s",
    reason: "expired",
    keeperTerm: term,
  });

  it("a claim consumes no rev and must rise", () => {
    const store = new Store();
    const [claimed] = store.apply([{ op: "keeper-claim", id: "keeper.2", term: 2 }]);
    expect(claimed).toEqual({ rev: 0, revsConsumed: 0 });
    expect(store.keeperTerm).toBe(2);
    expect(store.rev).toBe(0);
    const [stale] = store.apply([{ op: "keeper-claim", id: "keeper.1", term: 1 }]);
    expect(stale?.error?.code).toBe("REV_MISMATCH");
    expect(store.keeperTerm).toBe(2);
  });

  it("applies an expiry only under the term in force", () => {
    const store = new Store();
    store.apply([open, { op: "keeper-claim", id: "keeper.1", term: 1 }]);
    store.apply([{ op: "keeper-claim", id: "keeper.2", term: 2 }]);
    const [late] = store.apply([expire(1)]);
    expect(late).toMatchObject({ revsConsumed: 0, error: { code: "REV_MISMATCH" } });
    expect(store.session("s")).toBeDefined();
    const [current] = store.apply([expire(2)]);
    expect(current?.error).toBeUndefined();
    expect(store.session("s")).toBeUndefined();
    // A client's end names no term and is never fenced.
    store.apply([{ op: "session-open", id: "o2", session: "t", ttlMs: 1000 }]);
    const [ended] = store.apply([{ op: "session-end", id: "e", session: "t", reason: "client" }]);
    expect(ended?.error).toBeUndefined();
  });

  it("round-trips through the log encoding", () => {
    const batch: Mutation[] = [{ op: "keeper-claim", id: "keeper.5", term: 5 }, expire(5)];
    expect(decodeBatch(encodeBatch(batch))).toEqual(batch);
  });
});
