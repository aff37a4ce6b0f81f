// A production Worker (DOOZER_ENV = "production" in [env.production.vars]) with
// no DOOZER_RWSECRET serves nobody, reads included, unless DOOZER_OPEN = "1"
// says the open store is meant; /v1/health stays open (SPEC §8). The project
// runs [env.production] with no secret set, as a first deployment would if the
// secret were forgotten.

import { createExecutionContext, env, SELF, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Env } from "../../worker/env";
import worker from "../../worker/index";

const base = "http://doozer.test";
const production = env as unknown as Env;

async function error(response: Response): Promise<{ code: string; message: string }> {
  return ((await response.json()) as { error: { code: string; message: string } }).error;
}

/** The Worker's fetch with other bindings, as a deployment with that secret or switch would run. */
async function withBindings(vars: Partial<Env>, path: string, init?: RequestInit): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await worker.fetch(new Request(`${base}${path}`, init), { ...production, ...vars }, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

describe("a production Worker without DOOZER_RWSECRET", () => {
  it("is configured as production, with no secret and no opt-in", () => {
    expect(production.DOOZER_ENV).toBe("production");
    expect(production.DOOZER_RWSECRET).toBeUndefined();
    expect(production.DOOZER_OPEN).toBeUndefined();
  });

  it("refuses writes and reads with 401, naming the secret and the opt-in", async () => {
    for (const [path, init] of [
      ["/v1/files/secure/a?rev=0", { method: "PUT", body: "x" }],
      ["/v1/files/secure/a", {}],
      ["/v1/rev", {}],
      ["/v1/cluster", {}],
      ["/v1/nop", { method: "POST", headers: { Authorization: "Bearer anything" } }],
    ] as const) {
      const response = await SELF.fetch(`${base}${path}`, init);
      expect(response.status, path).toBe(401);
      const { code, message } = await error(response);
      expect(code).toBe("UNAUTHORIZED");
      expect(message).toContain("DOOZER_RWSECRET");
      expect(message).toContain('DOOZER_OPEN = "1"');
    }
  });

  it("refuses a WebSocket at the upgrade", async () => {
    const response = await SELF.fetch(`${base}/v1/ws`, { headers: { Upgrade: "websocket" } });
    expect(response.status).toBe(401);
  });

  it("keeps /v1/health open", async () => {
    const response = await SELF.fetch(`${base}/v1/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ ok: true, acceptors: 5 });
  });

  it("is open with DOOZER_OPEN = 1, and only with 1", async () => {
    const put = await withBindings({ DOOZER_OPEN: "1" }, "/v1/files/secure/open?rev=-1", {
      method: "PUT",
      body: "o",
    });
    expect(put.status).toBe(200);
    const refused = await withBindings({ DOOZER_OPEN: "true" }, "/v1/rev");
    expect(refused.status).toBe(401);
  });

  it("serves whoever holds a token once the secret is set", async () => {
    const vars = { DOOZER_RWSECRET: "old-token,new-token" };
    const put = (token: string) =>
      withBindings(vars, "/v1/files/secure/b?rev=-1", {
        method: "PUT",
        body: token,
        headers: { Authorization: `Bearer ${token}` },
      });
    expect((await put("old-token")).status).toBe(200);
    expect((await put("new-token")).status).toBe(200);
    expect(await error(await put("other"))).toMatchObject({ code: "UNAUTHORIZED", message: "wrong token" });
    expect((await withBindings(vars, "/v1/rev")).status).toBe(401);
  });
});
