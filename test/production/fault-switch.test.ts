// Runs the Worker as a deployment is configured ([env.production] in
// wrangler.toml): the fault switch must not be reachable at all.

import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Env } from "../../worker/env";

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

  it("still serves the store", async () => {
    const put = await SELF.fetch(`${base}/v1/files/prod/a?rev=0`, { method: "PUT", body: "x" });
    expect(put.status).toBe(200);
    const get = await SELF.fetch(`${base}/v1/files/prod/a`);
    expect(new TextDecoder().decode(await get.arrayBuffer())).toBe("x");
  });
});
