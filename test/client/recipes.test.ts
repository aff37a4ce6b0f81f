// Locks and leader election on sessions, against an in-memory store: who
// holds, the fencing tokens, and every way a holding ends.

import { describe, expect, it } from "vitest";
import { Client } from "../../client/client";
import { NoSessionError, RevMismatchError } from "../../client/errors";
import { FakeStore } from "./fake-store";

function setup() {
  const store = new FakeStore();
  return { store, client: new Client({ transport: store }) };
}

/** Lets queued microtasks and promise chains run. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("lock", () => {
  it("is created under the session with rev 0, and its token is the file's rev", async () => {
    const { store, client } = setup();
    const session = await client.session({ ttlMs: 5_000 });
    const held = await session.lock("/locks/a", { owner: "me" });
    const file = store.files.get("/locks/a");
    expect(file?.session).toBe(session.id);
    expect(held.token).toBe(file?.rev);
    const set = store.calls.find((c) => c.verb === "SET");
    expect(set?.args).toMatchObject({ path: "/locks/a", rev: 0, session: session.id });
  });

  it("waits while another holds it, and hands out a higher token after the release", async () => {
    const { client } = setup();
    const one = await client.session();
    const two = await client.session();
    const first = await one.lock("/l");
    let second: Awaited<ReturnType<typeof two.lock>> | undefined;
    const taking = two.lock("/l").then((l) => {
      second = l;
      return l;
    });
    await settle();
    expect(second).toBeUndefined();
    await first.release();
    expect(first.signal.aborted).toBe(true);
    await taking;
    expect(second?.token).toBeGreaterThan(first.token);
    expect(second?.signal.aborted).toBe(false);
  });

  it("is lost with its session, and the next contender gets it when the server ends that session", async () => {
    const { store, client } = setup();
    const one = await client.session();
    const two = await client.session();
    const lost: Error[] = [];
    one.onLost((error) => lost.push(error));
    const first = await one.lock("/l");
    const taking = two.lock("/l");
    await settle();
    store.expire(one.id);
    expect(first.signal.aborted).toBe(true);
    expect(first.signal.reason).toBeInstanceOf(NoSessionError);
    expect(one.signal.aborted).toBe(true);
    expect(lost).toHaveLength(1);
    const second = await taking;
    expect(second.token).toBeGreaterThan(first.token);
  });

  it("stops waiting when its session is lost", async () => {
    const { store, client } = setup();
    const one = await client.session();
    const two = await client.session();
    await one.lock("/l");
    const taking = two.lock("/l");
    await settle();
    store.expire(two.id);
    await expect(taking).rejects.toBeInstanceOf(NoSessionError);
    expect(store.files.get("/l")?.session).toBe(one.id);
  });

  it("is lost when someone else deletes or overwrites the file", async () => {
    const { store, client } = setup();
    const session = await client.session();
    const held = await session.lock("/l");
    await settle();
    store.write("/l", "intruder");
    await settle();
    expect(held.signal.aborted).toBe(true);
    expect(held.signal.reason).toBeInstanceOf(RevMismatchError);
    expect(session.signal.aborted).toBe(false);
    // Release leaves the intruder's file alone.
    await held.release();
    expect(store.files.get("/l")?.value).toEqual(new TextEncoder().encode("intruder"));
  });

  it("without a session, replaces its own session when it is lost while waiting, and waits on", async () => {
    const { store, client } = setup();
    const one = await client.session();
    const first = await one.lock("/l");
    const taking = client.lock("/l", { ttlMs: 2_000 });
    await settle();
    const waiter = [...store.sessions.keys()].find((id) => id !== one.id) ?? "";
    store.expire(waiter);
    // A new session of its own (after a backoff of at most 50 ms), and still waiting.
    for (let i = 0; i < 50 && store.sessions.size < 2; i++) await new Promise((r) => setTimeout(r, 5));
    expect([...store.sessions.keys()]).toHaveLength(2);
    expect(store.sessions.has(waiter)).toBe(false);
    await first.release();
    const second = await taking;
    expect(second.session.id).not.toBe(waiter);
    expect(store.files.get("/l")?.session).toBe(second.session.id);
    expect(second.token).toBeGreaterThan(first.token);
    expect(second.signal.aborted).toBe(false);
    await second.release();
    expect(store.sessions.size).toBe(1);
  });

  it("without a session, waits on when a create answers NOSESSION (the lease lapsed unnoticed)", async () => {
    const { store, client } = setup();
    const one = await client.session();
    const first = await one.lock("/l");
    const taking = client.lock("/l");
    await settle();
    const waiter = [...store.sessions.keys()].find((id) => id !== one.id) ?? "";
    // Gone on the server while the client has not heard: its next create answers NOSESSION.
    store.sessions.delete(waiter);
    await first.release();
    const second = await taking;
    expect(second.session.id).not.toBe(waiter);
    expect(store.files.get("/l")?.session).toBe(second.session.id);
    expect(store.calls.filter((c) => c.verb === "SET" && c.args.session === waiter).length).toBe(2);
  });

  it("without a session, still stops when its signal aborts while waiting", async () => {
    const { store, client } = setup();
    const one = await client.session();
    await one.lock("/l");
    const stop = new AbortController();
    const taking = client.lock("/l", { signal: stop.signal });
    await settle();
    stop.abort(new Error("interrupted"));
    await expect(taking).rejects.toThrow("interrupted");
    expect([...store.sessions.keys()]).toEqual([one.id]);
  });

  it("without a session, loses the lock (not the wait) when its session is lost once held", async () => {
    const { store, client } = setup();
    const held = await client.lock("/l");
    store.expire(held.session.id);
    expect(held.signal.aborted).toBe(true);
    expect(held.signal.reason).toBeInstanceOf(NoSessionError);
    await settle();
    expect(store.sessions.size).toBe(0);
  });

  it("without a session opens one of its own, which release ends", async () => {
    const { store, client } = setup();
    const held = await client.lock("/l", { ttlMs: 2_000 });
    expect(store.sessions.get(held.session.id)?.ttlMs).toBe(2_000);
    await held.release();
    expect(store.sessions.size).toBe(0);
    expect(store.files.has("/l")).toBe(false);
  });
});

describe("electLeader", () => {
  it("tells the leader the moment its file is deleted", async () => {
    const { store, client } = setup();
    const session = await client.session();
    const leadership = await session.electLeader("/leader", "node-a");
    expect(new TextDecoder().decode(store.files.get("/leader")?.value)).toBe("node-a");
    await settle();
    await client.del("/leader", -1);
    await settle();
    expect(leadership.signal.aborted).toBe(true);
  });

  it("passes to the next candidate when the leader's session is lost", async () => {
    const { store, client } = setup();
    const a = await client.session();
    const b = await client.session();
    const first = await a.electLeader("/leader", "a");
    const next = b.electLeader("/leader", "b");
    await settle();
    store.expire(a.id);
    expect(first.signal.aborted).toBe(true);
    const second = await next;
    expect(second.id).toBe("b");
    expect(second.token).toBeGreaterThan(first.token);
    await second.resign();
    expect(store.files.has("/leader")).toBe(false);
  });
});
