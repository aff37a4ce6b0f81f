import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  readLatencies,
  simulateTakingTurns,
  simulateWrites,
  type WriteScenario,
  wanReport,
  withReport,
} from "./wan";
import {
  acceptorPlace,
  edgePlace,
  fiveAcceptors,
  hints,
  nearbyDataCenterRttMs,
  placeRttMs,
  rttMs,
  sameMetroRttMs,
  threeAcceptors,
  workedQuorums,
} from "./wan-rtt";

/** The client↔edge hop both ways: the part of a write's latency outside the proposer. */
const edgeHopMs = sameMetroRttMs;

describe("the RTT matrix (WAN-RTT.md §2, §4)", () => {
  it("has all 36 pairs, symmetric, and reads as the table does", () => {
    for (const a of hints) for (const b of hints) expect(rttMs(a, b)).toBe(rttMs(b, a));
    expect(rttMs("enam", "weur")).toBe(78);
    expect(rttMs("sam", "apac")).toBe(331);
    expect(rttMs("weur", "eeur")).toBe(29);
    expect(rttMs("afr", "me")).toBe(103);
    expect(rttMs("oc", "oc")).toBe(sameMetroRttMs);
  });

  it("puts sam, afr and me acceptors in enam, weur and eeur, while Workers stay where they are", () => {
    expect(acceptorPlace("sam").region).toBe("enam");
    expect(acceptorPlace("afr").region).toBe("weur");
    expect(acceptorPlace("me").region).toBe("eeur");
    // A client in São Paulo reaches an acceptor hinted sam across the enam row...
    expect(placeRttMs(edgePlace("sam"), acceptorPlace("sam"))).toBe(118);
    // ...and that acceptor sits in another data centre than the one hinted enam.
    expect(placeRttMs(acceptorPlace("sam"), acceptorPlace("enam"))).toBe(nearbyDataCenterRttMs);
    expect(placeRttMs(acceptorPlace("enam"), edgePlace("enam"))).toBe(sameMetroRttMs);
  });

  it("gives no geographic diversity to acceptors hinted sam and enam (the simulated round sees 15 ms)", () => {
    const run = simulateWrites({
      acceptors: ["sam", "enam", "weur"],
      route: { kind: "leader", leader: 0 },
      client: "sam",
    });
    expect(run.steady.acceptMs).toBe(nearbyDataCenterRttMs);
  });
});

describe("the WAN model against WAN-RTT.md §6's worked examples", () => {
  for (const worked of workedQuorums) {
    const label = `${worked.acceptors.length} acceptors`;

    it(`${label}, leader route: the accept round is §6's co-located quorum RTT, and the commit is local`, () => {
      worked.acceptors.forEach((hint, leader) => {
        const expected = worked.coLocated[hint];
        if (expected === undefined) throw new Error(`§6 has no figure for ${hint}`);
        // Clients near and far from the leader: their hop to it shows in the latency, nowhere else.
        for (const client of ["enam", "oc", "afr"] as const) {
          const run = simulateWrites({
            acceptors: worked.acceptors,
            route: { kind: "leader", leader },
            client,
          });
          expect(Math.abs(run.steady.acceptMs - expected)).toBeLessThanOrEqual(1);
          expect(run.steady.commitMs).toBe(0);
          const toLeader = placeRttMs(edgePlace(client), acceptorPlace(hint));
          expect(run.steady.latencyMs).toBe(edgeHopMs + toLeader + run.steady.acceptMs);
        }
      });
    });

    it(`${label}, worker route: the accept round is §6's quorum RTT, plus one round trip to the nearest replica`, () => {
      for (const client of hints) {
        const expected = worked.coLocated[client] ?? worked.elsewhere[client];
        if (expected === undefined) continue;
        const run = simulateWrites({ acceptors: worked.acceptors, route: { kind: "worker" }, client });
        const nearest = Math.min(
          ...worked.acceptors.map((h) => placeRttMs(edgePlace(client), acceptorPlace(h))),
        );
        expect(Math.abs(run.steady.acceptMs - expected)).toBeLessThanOrEqual(1);
        expect(run.steady.commitMs).toBe(nearest);
        expect(run.steady.latencyMs).toBe(edgeHopMs + run.steady.acceptMs + nearest);
      }
    });
  }

  it("covers every §6 figure: each acceptor region as leader, each other region as a Worker", () => {
    expect(Object.keys(workedQuorums[0]?.coLocated ?? {})).toEqual([...fiveAcceptors]);
    expect(Object.keys(workedQuorums[1]?.coLocated ?? {})).toEqual([...threeAcceptors]);
    for (const w of workedQuorums) {
      const covered = new Set([...Object.keys(w.coLocated), ...Object.keys(w.elsewhere)]);
      // The co-located and the elsewhere tables of each §6 section together name all nine regions.
      expect(hints.filter((h) => !covered.has(h))).toEqual([]);
    }
  });
});

describe("the WAN model runs the real proposer and replicas", () => {
  const scenarios: WriteScenario[] = [
    { acceptors: fiveAcceptors, route: { kind: "worker" }, client: "sam", steadyWrites: 5 },
    { acceptors: fiveAcceptors, route: { kind: "leader", leader: 1 }, client: "apac", steadyWrites: 5 },
    { acceptors: threeAcceptors, route: { kind: "leader", leader: 2 }, client: "me", steadyWrites: 5 },
  ];

  for (const scenario of scenarios) {
    it(`steady state is one accept round per write (${scenario.route.kind}, client ${scenario.client})`, () => {
      const run = simulateWrites(scenario);
      const writes = 1 + (scenario.steadyWrites ?? 0);
      expect(run.stats).toEqual({
        prepareRounds: 1,
        acceptRounds: writes,
        commitRounds: writes,
        slotsChosen: writes,
        commandsDecided: writes,
      });
      // No jitter, no queueing: every steady write costs the same.
      expect(new Set(run.steadyLatenciesMs).size).toBe(1);
      expect(run.steady.prepareMs).toBe(0);
      // The cold write pays phase 1 first, a quorum round trip as long as the accept round.
      expect(run.cold.prepareMs).toBe(run.steady.acceptMs);
      expect(run.cold.latencyMs).toBe(run.steady.latencyMs + run.steady.acceptMs);
      // Every replica learned and applied every slot: each compare-and-set write found the rev it expected.
      expect(run.chosenThrough).toEqual(scenario.acceptors.map(() => writes));
      expect(run.revs).toEqual(scenario.acceptors.map(() => writes));
      const t = run.steady;
      expect(t.toProposerMs + t.prepareMs + t.acceptMs + t.commitMs + t.answerMs).toBe(t.latencyMs);
    });
  }

  it("costs writers in many regions on the worker route a lost duel and a phase 1 per write", () => {
    const turns = simulateTakingTurns(fiveAcceptors);
    for (const client of hints) {
      const alone = simulateWrites({ acceptors: fiveAcceptors, route: { kind: "worker" }, client }).steady;
      const shared = turns.get(client);
      expect(shared?.latencyMs).toBeGreaterThan(alone.latencyMs + alone.acceptMs);
    }
  });
});

describe("reads (arithmetic over the matrix)", () => {
  it("costs a stale read the nearest replica and a linearizable one the majority round", () => {
    const enam = readLatencies(fiveAcceptors, "enam");
    expect(enam).toMatchObject({ nearest: "enam", staleMs: edgeHopMs + 1, linearizableMs: edgeHopMs + 78 });
    const sam = readLatencies(threeAcceptors, "sam");
    expect(sam).toMatchObject({ nearest: "enam", staleMs: edgeHopMs + 118, linearizableMs: edgeHopMs + 181 });
  });

  it("starts a fresh isolate's reads at the acceptor nearest to the client's location, not at acceptor-0", () => {
    for (const client of ["enam", "weur", "apac", "oc"] as const) {
      const r = readLatencies(fiveAcceptors, client);
      expect(r.firstByLocation).toBe(client);
      expect(r.staleByLocationMs).toBe(edgeHopMs + sameMetroRttMs);
    }
    // A map is a first guess: from Johannesburg, Singapore's centre is a little nearer than Frankfurt's,
    // but the round trip to weur is shorter; the reader goes by round trips once it has measured them.
    expect(readLatencies(fiveAcceptors, "afr")).toMatchObject({
      firstByLocation: "apac",
      nearest: "weur",
      staleByLocationMs: edgeHopMs + 177,
      staleMs: edgeHopMs + 164,
    });
  });

  it("keeps a linearizable read below the same client's worker-route write", () => {
    for (const acceptors of [fiveAcceptors, threeAcceptors]) {
      for (const client of hints) {
        const write = simulateWrites({ acceptors, route: { kind: "worker" }, client, steadyWrites: 1 });
        expect(readLatencies(acceptors, client).linearizableMs).toBeLessThan(write.steady.latencyMs);
      }
    }
  });
});

describe("the report", () => {
  it("is deterministic, and docs/WAN-MODEL.md holds its latest output (refresh: bench/wan.ts --write)", () => {
    const report = wanReport();
    expect(wanReport()).toBe(report);
    const doc = readFileSync(new URL("../../docs/WAN-MODEL.md", import.meta.url), "utf8");
    expect(withReport(doc, report)).toBe(doc);
  });

  it("marks the best route of each row", () => {
    const row = wanReport()
      .split("\n")
      .find((line) => line.startsWith("| sam |"));
    // From São Paulo, the leader in enam (118 + 78) beats the Worker (181 + 118 to the nearest replica).
    expect(row).toContain("**197**");
    expect(row?.endsWith("| leader enam |")).toBe(true);
  });
});
