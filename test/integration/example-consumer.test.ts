// The example consumer Worker (examples/consumer) reaching the store through a
// service binding: SELF is the doozer-edge Worker, bound as DOOZER as its
// wrangler.toml binds it.

import { createExecutionContext, SELF, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import consumer from "../../examples/consumer/worker";

async function call(path: string, init?: RequestInit): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await consumer.fetch(new Request(`http://consumer${path}`, init), { DOOZER: SELF }, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

describe("a Worker using doozer-edge through a service binding", () => {
  it("sets with compare-and-set, reads, and waits for a change", async () => {
    const created = (await (await call("/flag?rev=0", { method: "PUT", body: "on" })).json()) as {
      rev: number;
    };
    expect(await (await call("/flag")).json()).toEqual({ value: "on", rev: created.rev });

    const stale = await call("/flag?rev=0", { method: "PUT", body: "off" });
    expect(stale.status).toBe(409);
    expect(await stale.json()).toMatchObject({ code: "REV_MISMATCH", rev: created.rev });

    const updated = (await (
      await call(`/flag?rev=${created.rev}`, { method: "PUT", body: "off" })
    ).json()) as {
      rev: number;
    };
    expect(await (await call(`/flag/next?rev=${created.rev + 1}`)).json()).toMatchObject({
      op: "set",
      value: "off",
    });
    expect(updated.rev).toBeGreaterThan(created.rev);
  });
});
