// The short Jepsen-style run as a vitest suite, for one write route.

import { describe, expect, it } from "vitest";
import { runJepsen } from "./jepsen";
import { useLocalCluster } from "./use-local-cluster";

export function describeJepsen(route: "worker" | "leader"): void {
  const localCluster = useLocalCluster({ DOOZER_WRITE_ROUTE: route });
  const seed = Number(process.env.JEPSEN_SEED ?? 7);

  describe(`linearizability under faults (${route} route)`, () => {
    it(`a nemesis run (seed ${seed}) gives a linearizable history and gapless watches`, async () => {
      const report = await runJepsen({
        url: localCluster().url,
        seed,
        durationMs: 15_000,
        clients: 4,
        keys: 3,
        nemesisEveryMs: 700,
        watchers: 2,
      });
      console.log(
        `jepsen (${route} route) seed ${seed}: ${report.operations} operations (${report.ok} ok, ${report.failed} failed, ${report.unknown} unknown), ${report.faults} faults, ${report.watchEvents} watch events: ${report.verdict}`,
      );
      expect(report.faults).toBeGreaterThan(5);
      expect(report.ok).toBeGreaterThan(50);
      expect(report.verdict).toBe("linearizable");
      expect(report.watchMismatch).toBeUndefined();
    }, 120_000);
  });
}
