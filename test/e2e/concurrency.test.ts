// Separate HTTP requests into one local cluster (wrangler dev): the requests
// share an isolate, its proposer and its batches, as they do when deployed.

import { describe, expect, it } from "vitest";
import { useLocalCluster } from "./use-local-cluster";

const localCluster = useLocalCluster();

async function rev(): Promise<number> {
  return ((await (await fetch(`${localCluster().url}/v1/rev`)).json()) as { rev: number }).rev;
}

describe("concurrent requests into one Worker", () => {
  it("100 writes at once each get their own rev, and the store rev moves by exactly 100", async () => {
    const before = await rev();
    const responses = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        fetch(`${localCluster().url}/v1/files/e2e/many/f${i}?rev=0`, { method: "PUT", body: `v${i}` }),
      ),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(100).fill(200));
    const revs = await Promise.all(responses.map(async (r) => ((await r.json()) as { rev: number }).rev));
    expect(new Set(revs).size).toBe(100);
    expect(Math.min(...revs)).toBe(before + 1);
    expect(Math.max(...revs)).toBe(before + 100);
    expect(await rev()).toBe(before + 100);
  });

  it("of 50 writers creating one file at once, exactly one wins", async () => {
    const responses = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        fetch(`${localCluster().url}/v1/files/e2e/race?rev=0`, { method: "PUT", body: `w${i}` }),
      ),
    );
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(49);
    for (const r of responses) await r.body?.cancel();
  });

  it("a retried write with the same Doozer-Request-Id applies once, even when both are in flight", async () => {
    const before = await rev();
    const send = () =>
      fetch(`${localCluster().url}/v1/files/e2e/retry?rev=-1`, {
        method: "PUT",
        body: "once",
        headers: { "Doozer-Request-Id": "e2e-retry-1" },
      });
    const [a, b] = await Promise.all([send(), send()]);
    const [ra, rb] = [(await a.json()) as { rev: number }, (await b.json()) as { rev: number }];
    expect(ra.rev).toBe(rb.rev);
    expect(await rev()).toBe(before + 1);
  });
});
