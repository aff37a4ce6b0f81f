// The simulator with the leader route and the leader role moving during the
// faults (simulation.ts, `leaderMoves`): every replica names the same leader
// for a term, terms never go back, no ballot has two proposers, and every
// history is linearizable, across seeds.
//
// Known gap: on the leader route, a few seeds in a thousand end with a
// linearizable read answering NO_QUORUM after the cluster healed, while two
// of three replicas are still installing a state transfer (the one that was
// current is not enough for the barrier within the read's catch-up time). The
// same happens with the worker route (seed 101060, at the base of this branch),
// and with the leader route without any move, so it is not the moves; it is
// counted here and must stay rare, and any other failure fails the test.

import { describe, expect, it } from "vitest";
import { Simulation, type SimulationReport, simulationForSeed } from "./simulation";

const budgetMs = Number(process.env.SIM_BUDGET_MS ?? 60_000) / 3;
const seedBase = Number(process.env.SIM_SEED_BASE ?? 1);
const knownLiveness = /^liveness: reader-[\w-]+ got NO_QUORUM after the cluster healed$/;

describe("simulated cluster with the leader moving", () => {
  it(
    "agrees on each term's leader, never reuses a ballot, and stays linearizable while the leader moves under faults",
    () => {
      const started = Date.now();
      let seeds = 0;
      const slowReads: number[] = [];
      const totals = { leaderMovesProposed: 0, leaderTerms: 0, writesToFormerLeaders: 0, decided: 0 };
      for (let seed = seedBase; Date.now() - started < budgetMs; seed++) {
        seeds++;
        let report: SimulationReport;
        try {
          report = new Simulation({ ...simulationForSeed(seed), leaderMoves: true }).run();
        } catch (error) {
          const message = (error as Error).message;
          if (knownLiveness.test(message)) {
            slowReads.push(seed);
            continue;
          }
          throw new Error(`seed ${seed} (leader moves): ${message}`);
        }
        for (const key of Object.keys(totals) as (keyof typeof totals)[]) totals[key] += report[key];
      }
      console.log(
        `simulator, leader moving: ${seeds} seeds, ${totals.leaderMovesProposed} moves proposed, ${totals.leaderTerms} terms applied, ` +
          `${totals.writesToFormerLeaders} writes sent to a former leader, ${totals.decided} writes acknowledged; ` +
          `${slowReads.length} seeds with a read NO_QUORUM after healing (${slowReads.join(", ")})`,
      );
      expect(totals.leaderTerms).toBeGreaterThan(0);
      expect(totals.writesToFormerLeaders).toBeGreaterThan(0);
      expect(slowReads.length).toBeLessThanOrEqual(Math.max(1, Math.floor(seeds * 0.01)));
    },
    budgetMs + 60_000,
  );
});
