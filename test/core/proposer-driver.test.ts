// The proposer driver over five in-memory replicas whose answers come back a
// macrotask later, as RPCs do: many writes waiting together all complete, and
// an answer wakes one waiting request, not all of them (waking all cost a loop
// turn per waiting write on every answer: O(waiters²) a slot at the leader).

import { afterEach, describe, expect, it, vi } from "vitest";
import { parseClusterConfig } from "../../core/cluster-config";
import type { Mutation } from "../../core/mutation";
import { Replica } from "../../core/replica";
import { AcceptorClient } from "../../server/acceptor-client";
import type { AcceptorRpc } from "../../server/acceptor-rpc";
import { ProposerDriver } from "../../server/proposer-driver";
import { MemoryStorage } from "../sim/memory-storage";

/** Answers after the current macrotask, like an RPC: setImmediate, so the test can count the driver's timers alone. */
const later = <T>(answer: () => T): Promise<T> =>
  new Promise((resolve) => setImmediate(() => resolve(answer())));

function cluster() {
  const config = parseClusterConfig({});
  const replicas = new Map(
    config.acceptors.map((a) => [a.name, new Replica(new MemoryStorage(), { historyRevs: 10_000 })]),
  );
  const peers = {
    peer(name: string): AcceptorRpc {
      const replica = replicas.get(name);
      if (!replica) throw new Error(`no acceptor ${name}`);
      return {
        prepare: (m) => later(() => replica.prepare(m)),
        accept: (m) => later(() => replica.accept(m)),
        commit: (m) => later(() => replica.commit(m)),
      } as Partial<AcceptorRpc> as AcceptorRpc;
    },
  };
  const background: Promise<unknown>[] = [];
  const lifetime = { waitUntil: (work: Promise<unknown>) => void background.push(work) };
  const driver = new ProposerDriver(new AcceptorClient(peers, config), config, "test.proposer");
  return { driver, replicas, lifetime, background };
}

const set = (i: number): Mutation => ({
  op: "set",
  id: `write-${i}`,
  path: `/driver/f${i}`,
  rev: -1,
  value: new TextEncoder().encode(`v${i}`),
});

describe("ProposerDriver", () => {
  afterEach(() => vi.restoreAllMocks());

  it("decides 300 writes that wait together, each once, with distinct revs", async () => {
    const { driver, replicas, lifetime, background } = cluster();
    const outcomes = await Promise.all(Array.from({ length: 300 }, (_, i) => driver.write(set(i), lifetime)));
    expect(outcomes.every((o) => !o.error)).toBe(true);
    expect(new Set(outcomes.map((o) => o.rev)).size).toBe(300);
    await Promise.allSettled(background);
    // The commits went out too: every replica holds the last file.
    for (const replica of replicas.values())
      expect(replica.store.rev).toBe(Math.max(...outcomes.map((o) => o.rev)));
  });

  it("wakes one waiting request per answer: loop turns grow with the writes, not with their square", async () => {
    const { driver, lifetime } = cluster();
    // Each turn of a waiting request's loop asks the core for its next deadline once.
    const core = (driver as unknown as { core: { nextDeadline(): number | undefined } }).core;
    const turns = vi.spyOn(core, "nextDeadline");
    const writes = 300;
    await Promise.all(Array.from({ length: writes }, (_, i) => driver.write(set(i), lifetime)));
    const slots = driver.stats.slotsChosen;
    // A turn on entry per write, one per answer (5 acceptors × accept and commit a slot), and the turns of the
    // request each leaving one hands the role to. Waking every waiter made it ~10 × writes a slot.
    expect(turns.mock.calls.length).toBeLessThan(3 * writes + 10 * slots + 50);
  });

  it("arms a timer per round of messages and one per waiting request, not one per message and turn", async () => {
    const { driver, lifetime } = cluster();
    const timers = vi.spyOn(globalThis, "setTimeout");
    const writes = 20;
    // One at a time: each write is its own slot, an accept round and a commit round of five messages each.
    for (let i = 0; i < writes; i++) await driver.write(set(i), lifetime);
    expect(driver.stats.slotsChosen).toBe(writes);
    // Per write: the waiting request's timer and the two rounds' (a timer per message and turn made it ~20).
    expect(timers.mock.calls.length).toBeLessThanOrEqual(3 * writes + 5);
  });
});
