import { describe, expect, it } from "vitest";
import { Simulation, simulationForSeed } from "./simulation";

// Seeds run until the budget is spent; CI sets SIM_BUDGET_MS and SIM_SEED_BASE
// to explore new seeds each run while replaying the fixed ones.
const budgetMs = Number(process.env.SIM_BUDGET_MS ?? 60_000);
const seedBase = Number(process.env.SIM_SEED_BASE ?? 1);

describe("simulated cluster", () => {
  it(
    "keeps every safety invariant and answers every request once healed, across seeds",
    () => {
      const started = Date.now();
      let seeds = 0;
      let decided = 0;
      let staleAccepts = 0;
      let chosen = 0;
      for (let seed = seedBase; Date.now() - started < budgetMs; seed++) {
        let report: ReturnType<Simulation["run"]>;
        try {
          report = new Simulation(simulationForSeed(seed)).run();
        } catch (error) {
          throw new Error(
            `seed ${seed}: ${(error as Error).message}\nreplay: npm run sim -- --seed ${seed} --trace`,
          );
        }
        seeds++;
        decided += report.decided;
        chosen += report.chosenSlots;
        staleAccepts += report.staleAccepts;
      }
      console.log(
        `simulator: ${seeds} seeds, ${chosen} slots chosen, ${decided} writes acknowledged, ${staleAccepts} accepts from a proposer that had lost its ballot, in ${Date.now() - started} ms`,
      );
      expect(seeds).toBeGreaterThan(0);
      expect(decided).toBeGreaterThan(0);
      // The one-round-trip path is exercised where it is dangerous: a warm proposer sending
      // phase 2 with a ballot someone else has since overtaken.
      expect(staleAccepts).toBeGreaterThan(0);
    },
    budgetMs + 60_000,
  );
});
