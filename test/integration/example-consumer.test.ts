// The example consumer Worker (examples/consumer) reaching the store through a
// service binding to the named entrypoint DoozerService, as its wrangler.toml
// binds it: `exports.DoozerService({ props })` is that binding (a loopback to
// this Worker's own export), read-write or read-only. The default
// entrypoint has no RPC methods: the client falls back to its fetch.

import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { connect, errorFromRpc, ReadOnlyError, RevMismatchError } from "../../client/index";
import consumer from "../../examples/consumer/worker";
import type { DoozerService, DoozerServiceProps } from "../../worker/service";

const entrypoint = (
  exports as unknown as {
    DoozerService(options: { props?: DoozerServiceProps }): Service<DoozerService>;
  }
).DoozerService;
/** The Worker's default entrypoint: fetch only (SELF is a proxy whose methods the probe would misuse). */
const defaultEntrypoint = (exports as unknown as { default: Fetcher }).default;
const readWrite = entrypoint({ props: {} });
const readOnly = entrypoint({ props: { readOnly: true } });

async function call(binding: Service<DoozerService>, path: string, init?: RequestInit): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await consumer.fetch(
    new Request(`http://consumer${path}`, init),
    { DOOZER: binding },
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return response;
}

describe("a Worker using doozer-edge through a service binding", () => {
  it("sets with compare-and-set, reads, and waits for a change (RPC through the named entrypoint)", async () => {
    const created = (await (await call(readWrite, "/flag?rev=0", { method: "PUT", body: "on" })).json()) as {
      rev: number;
    };
    expect(await (await call(readWrite, "/flag")).json()).toEqual({ value: "on", rev: created.rev });
    expect(await (await call(readWrite, "/flag/raw")).json()).toEqual({ value: "on", rev: created.rev });

    const stale = await call(readWrite, "/flag?rev=0", { method: "PUT", body: "off" });
    expect(stale.status).toBe(409);
    expect(await stale.json()).toMatchObject({ code: "REV_MISMATCH", rev: created.rev });

    const updated = (await (
      await call(readWrite, `/flag?rev=${created.rev}`, { method: "PUT", body: "off" })
    ).json()) as { rev: number };
    expect(await (await call(readWrite, `/flag/next?rev=${created.rev + 1}`)).json()).toMatchObject({
      op: "set",
      value: "off",
    });
    expect(updated.rev).toBeGreaterThan(created.rev);
  });

  it("a read-only binding reads, and its writes are refused with READONLY", async () => {
    await call(readWrite, "/flag?rev=-1", { method: "PUT", body: "ro-test" });
    expect(await (await call(readOnly, "/flag")).json()).toMatchObject({ value: "ro-test" });
    const refused = await call(readOnly, "/flag?rev=-1", { method: "PUT", body: "x" });
    expect(await refused.json()).toMatchObject({ code: "READONLY" });
    // The typed method itself, and the binding's fetch, refuse too.
    const direct = await readOnly.set("/rpc/ro", -1, "x").then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(String((direct as Error)?.message)).toMatch(/^\[READONLY\] /);
    const put = await readOnly.fetch("http://doozer/v1/files/rpc/ro?rev=-1", { method: "PUT", body: "x" });
    expect(put.status).toBe(403);
    expect(await put.json()).toMatchObject({ error: { code: "READONLY" } });
    expect((await readOnly.fetch("http://doozer/v1/rev")).status).toBe(200);
    await expect(connect(readOnly).session()).rejects.toBeInstanceOf(ReadOnlyError);
  });

  it("the typed RPC methods answer as the verbs do; errors carry their code and details", async () => {
    expect(await readWrite.rpcVersion()).toBe(1);
    const bytes = new Uint8Array([0, 0xff, 10, 0xc3]);
    const { rev } = await readWrite.set("/rpc/typed/bin", 0, bytes);
    const file = await readWrite.get("/rpc/typed/bin");
    expect(file).toMatchObject({ path: "/rpc/typed/bin", rev });
    expect(new Uint8Array(file.value)).toEqual(bytes);
    expect(await readWrite.stat("/rpc/typed/bin")).toMatchObject({ len: 4, rev });
    expect((await readWrite.getdir("/rpc/typed")).entries).toEqual(["bin"]);
    expect((await readWrite.walk("/rpc/typed/**")).files.map((f) => f.path)).toEqual(["/rpc/typed/bin"]);
    expect((await readWrite.rev()).rev).toBeGreaterThanOrEqual(rev);
    const failure = await readWrite.set("/rpc/typed/bin", 0, "again").catch((e: unknown) => e);
    const error = errorFromRpc(failure);
    expect(error).toBeInstanceOf(RevMismatchError);
    expect(error.rev).toBe(rev);
    const event = await readWrite.wait("/rpc/typed/**", rev);
    expect(event).toMatchObject({ path: "/rpc/typed/bin", rev, op: "set" });
    expect(await readWrite.wait("/rpc/typed/**", rev + 1_000_000, { timeoutMs: 10 })).toBeNull();
    const txn = await readWrite.txn({
      checks: [{ path: "/rpc/typed/bin", rev }],
      ops: [{ op: "del", path: "/rpc/typed/bin", rev }],
    });
    expect(txn.results).toEqual([{ path: "/rpc/typed/bin", rev: txn.rev }]);
    const opened = await readWrite.openSession({ ttlMs: 5_000 });
    expect(await readWrite.keepAlive(opened.session)).toMatchObject({ session: opened.session });
    expect((await readWrite.endSession(opened.session)).rev).toBeGreaterThan(opened.rev);
  });

  it("the client over RPC: watch streams every change in order, sessions own ephemeral files", async () => {
    const doozer = connect(readWrite);
    try {
      const from = (await doozer.rev()) + 1;
      const watch = doozer.watch("/rpc/watch/*", { from });
      const revs: number[] = [];
      for (let i = 0; i < 5; i++) revs.push(await doozer.set(`/rpc/watch/f${i % 2}`, -1, `v${i}`));
      const seen: number[] = [];
      for await (const event of watch) {
        seen.push(event.rev);
        if (seen.length === revs.length) break;
      }
      expect(seen).toEqual(revs);

      const session = await doozer.session({ ttlMs: 5_000 });
      await doozer.set("/rpc/members/a", 0, "here", { session });
      expect((await doozer.get("/rpc/members/a")).value.text()).toBe("here");
      await session.end();
      expect((await doozer.stat("/rpc/members/a")).rev).toBe(0);
    } finally {
      doozer.close();
    }
  });

  it("falls back to fetch on a binding without the RPC methods (the default entrypoint)", async () => {
    const doozer = connect(defaultEntrypoint);
    try {
      const rev = await doozer.set("/rpc/fallback", -1, "via fetch");
      expect(await doozer.get("/rpc/fallback")).toMatchObject({ rev });
    } finally {
      doozer.close();
    }
  });
});
