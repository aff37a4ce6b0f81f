// Runs the Worker as a deployment is configured ([env.production] in
// wrangler.toml): the fault switch must not be reachable at all.

import { createExecutionContext, env, SELF, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Env } from "../../worker/env";
import worker from "../../worker/index";

const base = "http://doozer.test";

describe("a deployed configuration", () => {
  it("has no /v1/faults route", async () => {
    for (const init of [
      { method: "GET" },
      { method: "POST", body: '{"acceptor":"acceptor-0","mode":"down"}' },
    ]) {
      const response = await SELF.fetch(`${base}/v1/faults`, init);
      expect(response.status).toBe(404);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe("NOT_FOUND");
    }
  });

  it("has acceptors that refuse a fault even when called directly", async () => {
    const stub = (env as unknown as Env).ACCEPTOR.getByName("acceptor-0");
    expect(await stub.setFault({ mode: "down" })).toEqual({
      unavailable: "the fault switch is off (DOOZER_FAULTS is not 1)",
    });
    expect(await stub.getFault()).toEqual({ mode: "ok" });
  });

  it("still serves the store, to a token holder", async () => {
    // The project sets no secret, so the Worker refuses everyone (secure-default.test.ts); with one set, it serves.
    const withSecret = { ...(env as unknown as Env), DOOZER_RWSECRET: "prod-token" };
    const call = async (path: string, init: RequestInit = {}) => {
      const ctx = createExecutionContext();
      const headers = { Authorization: "Bearer prod-token" };
      const response = await worker.fetch(
        new Request(`${base}${path}`, { ...init, headers }),
        withSecret,
        ctx,
      );
      await waitOnExecutionContext(ctx);
      return response;
    };
    const put = await call("/v1/files/prod/a?rev=0", { method: "PUT", body: "x" });
    expect(put.status).toBe(200);
    const get = await call("/v1/files/prod/a");
    expect(new TextDecoder().decode(await get.arrayBuffer())).toBe("x");
  });
});
