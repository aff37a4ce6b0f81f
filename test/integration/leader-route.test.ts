// The "leader" write route: the Worker hands each write to the leader
// acceptor (acceptor-1 by default), which proposes with its own vote at hand.

import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import type { Env } from "../../worker/env";
import worker from "../../worker/index";
import { base, errorOf, freshPath, healAll, json, setFault, text } from "./helpers";

function isolate(): Env {
  return { ...(env as unknown as Env), DOOZER_WRITE_ROUTE: "leader" };
}

async function call(e: Env, path: string, init?: RequestInit): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await worker.fetch(new Request(`${base}${path}`, init), e, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

afterEach(async () => {
  await healAll();
});

describe("the leader write route", () => {
  it("decides writes at the leader: its proposer counts them, and CAS still holds", async () => {
    const e = isolate();
    const path = freshPath();
    const before = await json<{ leader: { commandsDecided: number } }>(await call(e, "/v1/stats"));
    const created = await json<{ rev: number }>(
      await call(e, `/v1/files${path}?rev=0`, { method: "PUT", body: "a" }),
    );
    expect((await errorOf(await call(e, `/v1/files${path}?rev=0`, { method: "PUT", body: "b" }))).code).toBe(
      "REV_MISMATCH",
    );
    await call(e, `/v1/files${path}?rev=${created.rev}`, { method: "PUT", body: "c" });
    const after = await json<{ writeRoute: string; leader: { id: string; commandsDecided: number } }>(
      await call(e, "/v1/stats"),
    );
    expect(after.writeRoute).toBe("leader");
    expect(after.leader.id).toBe("acceptor-1");
    expect(after.leader.commandsDecided - before.leader.commandsDecided).toBe(3);
    expect(await text(await call(e, `/v1/files${path}`))).toBe("c");
  });

  it("of concurrent writers creating one file, exactly one wins", async () => {
    const e = isolate();
    const path = freshPath();
    const responses = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        call(e, `/v1/files${path}?rev=0`, { method: "PUT", body: `w${i}` }),
      ),
    );
    expect(responses.filter((r) => r.status === 200)).toHaveLength(1);
    expect(responses.filter((r) => r.status === 409)).toHaveLength(9);
  });

  it("falls back to the isolate's own proposer when the leader is down", async () => {
    const e = isolate();
    await setFault("acceptor-1", "down");
    const path = freshPath();
    const response = await call(e, `/v1/files${path}?rev=0`, { method: "PUT", body: "still" });
    expect(response.status).toBe(200);
    expect(await text(await call(e, `/v1/files${path}`))).toBe("still");
  });

  it("answers NO_QUORUM when a majority is down", async () => {
    const e = isolate();
    for (const a of ["acceptor-0", "acceptor-2", "acceptor-4"]) await setFault(a, "down");
    const started = Date.now();
    const response = await call(e, `/v1/files${freshPath()}?rev=-1`, { method: "PUT", body: "x" });
    expect(await errorOf(response)).toMatchObject({ status: 503, code: "NO_QUORUM" });
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});
