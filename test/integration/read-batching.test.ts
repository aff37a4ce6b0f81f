// Reads through one Worker isolate share read-barrier rounds (server/barrier-rounds.ts),
// and stale reads start at the acceptor nearest to where the request came from.

import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import type { Env } from "../../worker/env";
import worker from "../../worker/index";
import { base, freshPath, healAll, json, setFault, text } from "./helpers";

/** A fresh Worker isolate's env: the runtime (proposer, reader) is kept per env object. */
function isolate(): Env {
  return { ...(env as unknown as Env) };
}

async function call(e: Env, path: string, init?: RequestInit & { cf?: unknown }): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await worker.fetch(new Request(`${base}${path}`, init), e, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

interface ReaderStats {
  barrierRounds: number;
  barriersShared: number;
}

async function readerStats(e: Env): Promise<ReaderStats> {
  return (await json<{ reader: ReaderStats }>(await call(e, "/v1/stats"))).reader;
}

afterEach(async () => {
  await healAll();
});

describe("read batching", () => {
  it("concurrent linearizable reads share status rounds, and each sees the write before it", async () => {
    const e = isolate();
    const path = freshPath();
    expect((await call(e, `/v1/files${path}?rev=0`, { method: "PUT", body: "one" })).status).toBe(200);
    const before = await readerStats(e);
    const reads = await Promise.all(Array.from({ length: 24 }, () => call(e, `/v1/files${path}`)));
    for (const r of reads) expect(await text(r)).toBe("one");
    const after = await readerStats(e);
    const rounds = after.barrierRounds - before.barrierRounds;
    expect(after.barriersShared - before.barriersShared).toBeGreaterThan(0);
    expect(rounds).toBeLessThan(24);
    expect(rounds).toBeGreaterThan(0);
  });

  it("a read that arrives while a round is in flight still sees a write acknowledged before it", async () => {
    const e = isolate();
    const path = freshPath();
    let rev = 0;
    for (let i = 0; i < 5; i++) {
      // Reads in flight, then a write acknowledged, then reads that must see it.
      const early = Array.from({ length: 4 }, () => call(e, `/v1/files${path}`));
      const written = await call(e, `/v1/files${path}?rev=${rev}`, { method: "PUT", body: `v${i}` });
      expect(written.status).toBe(200);
      rev = (await json<{ rev: number }>(written)).rev;
      const late = await Promise.all(Array.from({ length: 4 }, () => call(e, `/v1/files${path}`)));
      for (const r of late) {
        expect(r.headers.get("Doozer-Rev")).toBe(String(rev));
        expect(await text(r)).toBe(`v${i}`);
      }
      await Promise.all(early);
    }
  });
});

describe("stale reads", () => {
  it("start at the acceptor nearest to the request's coordinates, then the others", async () => {
    const path = freshPath();
    expect((await call(isolate(), `/v1/files${path}?rev=0`, { method: "PUT", body: "old" })).status).toBe(
      200,
    );
    // acceptor-4 (oc, Sydney) misses the next write, and nothing tells it until the next commit.
    await setFault("acceptor-4", "down");
    expect((await call(isolate(), `/v1/files${path}?rev=-1`, { method: "PUT", body: "new" })).status).toBe(
      200,
    );
    await setFault("acceptor-4", "ok");
    const sydney = { latitude: "-33.87", longitude: "151.21" };
    const london = { latitude: "51.5", longitude: "-0.13" };
    // A fresh isolate has measured no round trip yet: where the request came from decides.
    expect(await text(await call(isolate(), `/v1/files${path}?stale=1`, { cf: sydney }))).toBe("old");
    expect(await text(await call(isolate(), `/v1/files${path}?stale=1`, { cf: london }))).toBe("new");
    // The nearest one down: the next nearest answers.
    await setFault("acceptor-4", "down");
    expect(await text(await call(isolate(), `/v1/files${path}?stale=1`, { cf: sydney }))).toBe("new");
  });
});
