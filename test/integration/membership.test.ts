// Stored membership (core/membership.ts, docs/PROTOCOL.md "Membership"): every
// acceptor records the acceptors' names and the state machine's version at its
// first use, and refuses to take part under another; a Worker configured for
// another count refuses to serve, with the reason; Paxos messages carry the
// membership's fingerprint.

import {
  createExecutionContext,
  env,
  evictDurableObject,
  runInDurableObject,
  waitOnExecutionContext,
} from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { AcceptorObject } from "../../acceptors/acceptor-object";
import { fingerprintOf, stateMachineVersion } from "../../core/membership";
import type { Env } from "../../worker/env";
import worker from "../../worker/index";
import { api, base, freshPath, json, put } from "./helpers";

const e = env as unknown as Env;
const five = ["acceptor-0", "acceptor-1", "acceptor-2", "acceptor-3", "acceptor-4"];

async function call(path: string, init: RequestInit, vars: Partial<Env>): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await worker.fetch(new Request(`${base}${path}`, init), { ...e, ...vars }, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

function storedMembership(name: string): Promise<unknown> {
  return runInDurableObject(e.ACCEPTOR.getByName(name), (_object: AcceptorObject, state) => {
    const row = state.storage.sql
      .exec<{ value: string }>(`SELECT value FROM meta WHERE key = 'membership'`)
      .toArray()[0];
    return row ? JSON.parse(row.value) : undefined;
  });
}

describe("the stored membership", () => {
  it("is written by every acceptor at its first use", async () => {
    expect((await put(freshPath("first"), -1, "x")).status).toBe(200);
    for (const name of five) {
      expect(await storedMembership(name)).toEqual({
        acceptors: five,
        fingerprint: fingerprintOf(five),
        stateMachineVersion,
      });
    }
    expect(stateMachineVersion).toBe(4);
  });

  it("makes a Worker configured for another count refuse, saying why, after the first write", async () => {
    const path = freshPath("count");
    expect((await put(path, 0, "five")).status).toBe(200);
    for (const vars of [
      { DOOZER_ACCEPTORS: "3", DOOZER_LOCATIONS: "wnam,enam,weur" },
      { DOOZER_ACCEPTORS: "7", DOOZER_LOCATIONS: "wnam,enam,weur,apac,oc,sam,afr" },
    ]) {
      for (const [route, init] of [
        [`/v1/files${path}?rev=-1`, { method: "PUT", body: "other" }],
        [`/v1/files${path}`, {}],
      ] as const) {
        const response = await call(route, init, vars);
        expect(response.status, `${vars.DOOZER_ACCEPTORS} ${init}`).toBe(503);
        const { error } = await json<{ error: { code: string; message: string } }>(response);
        expect(error.code).toBe("NO_QUORUM");
        expect(error.message).toContain("stored a cluster of 5 acceptors");
        expect(error.message).toContain(`configured for ${vars.DOOZER_ACCEPTORS}`);
        expect(error.message).toContain("DOOZER_ACCEPTORS");
      }
    }
    // The store is untouched: the write of the other configuration never happened.
    const get = await api(`/v1/files${path}`);
    expect(new TextDecoder().decode(await get.arrayBuffer())).toBe("five");
  });

  it("makes an acceptor refuse a Paxos message stamped with another membership", async () => {
    const stub = e.ACCEPTOR.getByName("acceptor-0");
    const prepare = { type: "prepare" as const, ballot: { round: 0, proposer: "" }, fromSlot: 1 };
    const other = await stub.prepare({
      ...prepare,
      membership: fingerprintOf(["acceptor-0", "acceptor-1", "acceptor-2"]),
    } as typeof prepare);
    expect(other).toMatchObject({
      unavailable: expect.stringContaining("refuses a proposer configured for another membership"),
    });
    const same = await stub.prepare({ ...prepare, membership: fingerprintOf(five) } as typeof prepare);
    expect(same).not.toHaveProperty("unavailable");
  });

  it("makes an acceptor whose configuration disagrees refuse everything, and /v1/health and /v1/cluster say why", async () => {
    const stub = e.ACCEPTOR.getByName("acceptor-4");
    const saved = await storedMembership("acceptor-4");
    const three = ["acceptor-0", "acceptor-1", "acceptor-2"];
    const setStored = (value: unknown) =>
      runInDurableObject(stub, (_object: AcceptorObject, state) => {
        state.storage.sql.exec(`UPDATE meta SET value = ? WHERE key = 'membership'`, JSON.stringify(value));
      });
    // As if acceptor-4 had been created in a cluster of three and DOOZER_ACCEPTORS then became 5.
    await setStored({ acceptors: three, fingerprint: fingerprintOf(three), stateMachineVersion });
    await evictDurableObject(stub);
    try {
      expect(await stub.status()).toMatchObject({
        unavailable: expect.stringContaining("created in a cluster of 3 acceptors"),
      });
      const health = await api("/v1/health");
      expect(health.status).toBe(200); // Four of five still answer.
      const body = await json<{ reachable: number; errors: string[] }>(health);
      expect(body.reachable).toBe(4);
      expect(body.errors).toEqual([
        expect.stringContaining("membership: acceptor-4 was created in a cluster of 3"),
      ]);
      const cluster = await json<{ acceptors: { id: string; reachable: boolean; error?: string }[] }>(
        await api("/v1/cluster"),
      );
      const four = cluster.acceptors.find((a) => a.id === "acceptor-4");
      expect(four).toMatchObject({ reachable: false, error: expect.stringContaining("DOOZER_ACCEPTORS") });
      expect(cluster.acceptors.filter((a) => a.error !== undefined)).toHaveLength(1);
      // The other four still make a majority.
      expect((await put(freshPath("four"), -1, "x")).status).toBe(200);
    } finally {
      await setStored(saved);
      await evictDurableObject(stub);
    }
    expect(await stub.status()).not.toHaveProperty("unavailable");
  });

  it("makes an object outside the cluster refuse, and store nothing", async () => {
    const stranger = e.ACCEPTOR.getByName("acceptor-9");
    expect(await stranger.status()).toMatchObject({
      unavailable: expect.stringContaining("acceptor-9 is not one of the 5 acceptors"),
    });
    expect(await storedMembership("acceptor-9")).toBeUndefined();
  });
});
