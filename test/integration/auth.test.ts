// Tokens (SPEC §2): the Worker is called with secrets set in its env, as a
// deployment with DOOZER_RWSECRET and DOOZER_ROSECRET would be.

import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Env } from "../../worker/env";
import worker from "../../worker/index";
import { base, freshPath } from "./helpers";

const rw = "read-write-secret";
const ro = "read-only-secret";

async function call(
  isolate: Env,
  path: string,
  init: RequestInit & { token?: string } = {},
): Promise<Response> {
  const headers = new Headers(init.headers);
  if (init.token !== undefined) headers.set("Authorization", `Bearer ${init.token}`);
  const ctx = createExecutionContext();
  const response = await worker.fetch(new Request(`${base}${path}`, { ...init, headers }), isolate, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

async function code(response: Response): Promise<string> {
  return ((await response.json()) as { error: { code: string } }).error.code;
}

const both = { ...(env as unknown as Env), DOOZER_RWSECRET: rw, DOOZER_ROSECRET: ro };
const rwOnly = { ...(env as unknown as Env), DOOZER_RWSECRET: rw };

describe("auth", () => {
  it("the read-write token reads and writes", async () => {
    const path = freshPath();
    expect((await call(both, `/v1/files${path}?rev=0`, { method: "PUT", body: "x", token: rw })).status).toBe(
      200,
    );
    expect((await call(both, `/v1/files${path}`, { token: rw })).status).toBe(200);
  });

  it("the read-only token reads but a write is 403 READONLY and changes nothing", async () => {
    const path = freshPath();
    await call(both, `/v1/files${path}?rev=0`, { method: "PUT", body: "x", token: rw });
    expect((await call(both, `/v1/files${path}`, { token: ro })).status).toBe(200);
    for (const init of [{ method: "PUT", body: "y" }, { method: "DELETE" }] as const) {
      const response = await call(both, `/v1/files${path}?rev=-1`, { ...init, token: ro });
      expect(response.status).toBe(403);
      expect(await code(response)).toBe("READONLY");
    }
    const nop = await call(both, "/v1/nop", { method: "POST", token: ro });
    expect([nop.status, await code(nop)]).toEqual([403, "READONLY"]);
    const read = await call(both, `/v1/files${path}`, { token: ro });
    expect(new TextDecoder().decode(await read.arrayBuffer())).toBe("x");
  });

  it.each([
    ["no token", undefined],
    ["a wrong token", "guess"],
    ["a token that is a prefix of the secret", rw.slice(0, 5)],
    ["an empty token", ""],
  ])("%s is 401 UNAUTHORIZED on reads and writes", async (_, token) => {
    for (const [path, init] of [
      ["/v1/rev", {}],
      ["/v1/files/a", {}],
      ["/v1/files/a?rev=-1", { method: "PUT", body: "z" }],
      ["/v1/cluster", {}],
    ] as const) {
      const response = await call(both, path, { ...init, token });
      expect(response.status).toBe(401);
      expect(await code(response)).toBe("UNAUTHORIZED");
    }
  });

  it("a malformed Authorization header is 401", async () => {
    const response = await call(both, "/v1/rev", { headers: { Authorization: `Basic ${rw}` } });
    expect(response.status).toBe(401);
  });

  it("without DOOZER_ROSECRET, reads need the read-write token", async () => {
    expect((await call(rwOnly, "/v1/rev")).status).toBe(401);
    expect((await call(rwOnly, "/v1/rev", { token: ro })).status).toBe(401);
    expect((await call(rwOnly, "/v1/rev", { token: rw })).status).toBe(200);
  });

  it("without DOOZER_RWSECRET, the store is open", async () => {
    expect((await call({ ...(env as unknown as Env) }, "/v1/rev")).status).toBe(200);
  });
});
