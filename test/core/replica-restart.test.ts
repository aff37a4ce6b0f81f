// A replica over the acceptor's SQLite storage (node:sqlite in place of the
// Durable Object's): it applies each slot in the transaction that records it,
// so a restart reads no log, a failed apply leaves nothing behind, and an
// acceptor that ran before the store was kept in SQLite rebuilds it once.

import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";
import { SqliteStorage } from "../../acceptors/sqlite-storage";
import { storeTables, ValueCache } from "../../acceptors/sqlite-store-backend";
import { encodeBatch, type Mutation } from "../../core/mutation";
import { zeroBallot } from "../../core/paxos/ballot";
import { Replica } from "../../core/replica";
import { nodeDurableStorage } from "./node-sql";

const bytes = (text: string) => new TextEncoder().encode(text);

function commitSlot(replica: Replica, slot: number, mutations: Mutation[]): void {
  replica.commit({ type: "commit", entries: [{ slot, ballot: zeroBallot, value: encodeBatch(mutations) }] });
}

/** Slots 1..count, each setting /f/<slot % 7> and opening or ending a session now and then. */
function writeSlots(replica: Replica, from: number, count: number): void {
  for (let slot = from; slot < from + count; slot++) {
    const mutations: Mutation[] = [
      { op: "set", id: `w${slot}`, path: `/f/${slot % 7}`, rev: -1, value: bytes(`v${slot}`) },
    ];
    if (slot % 10 === 0) mutations.push({ op: "del", id: `d${slot}`, path: `/f/${(slot + 3) % 7}`, rev: -1 });
    if (slot % 13 === 0)
      mutations.push({ op: "session-open", id: `s${slot}`, session: `S${slot}`, ttlMs: 15_000 });
    commitSlot(replica, slot, mutations);
  }
}

describe("a replica over SQLite", () => {
  it("restarts at its applied slot without reading the log", () => {
    const db = new DatabaseSync(":memory:");
    const first = new Replica(new SqliteStorage(nodeDurableStorage(db)), { historyRevs: 20 });
    writeSlots(first, 1, 120);
    expect(first.chosenThrough).toBe(120);
    const before = first.store.serialize();
    const events = first.store.eventsFrom(first.store.oldestRev).map((e) => ({ ...e }));
    // Were the log replayed, a store without its log would come back empty.
    db.exec("DELETE FROM log");
    const again = new Replica(new SqliteStorage(nodeDurableStorage(db)), { historyRevs: 20 });
    expect(again.chosenThrough).toBe(120);
    expect(again.store.serialize()).toBe(before);
    expect(again.store.eventsFrom(again.store.oldestRev).map((e) => ({ ...e }))).toEqual(events);
    expect(again.store.get("/f/3", again.store.rev - 5)).toEqual(
      first.store.get("/f/3", first.store.rev - 5),
    );
    // And it goes on from there like a replica that never stopped.
    const twin = new Replica(new SqliteStorage(nodeDurableStorage()), { historyRevs: 20 });
    writeSlots(twin, 1, 130);
    writeSlots(again, 121, 10);
    expect(again.store.serialize()).toBe(twin.store.serialize());
    expect(again.store.eventsFrom(again.store.oldestRev)).toEqual(
      twin.store.eventsFrom(twin.store.oldestRev),
    );
  });

  it("rebuilds the store once from the log when it has only the log (data from before)", () => {
    const db = new DatabaseSync(":memory:");
    const old = new Replica(new SqliteStorage(nodeDurableStorage(db)), { historyRevs: 20 });
    writeSlots(old, 1, 60);
    const before = old.store.serialize();
    for (const table of storeTables) db.exec(`DROP TABLE ${table}`);
    const storage = new SqliteStorage(nodeDurableStorage(db));
    expect(storage.storeBackend.appliedSlot()).toBe(0);
    const migrated = new Replica(storage, { historyRevs: 20 });
    expect(migrated.chosenThrough).toBe(60);
    expect(migrated.store.serialize()).toBe(before);
    expect(storage.storeBackend.appliedSlot()).toBe(60);
  });

  it("keeps the log and the store together when an apply fails halfway", () => {
    const db = new DatabaseSync(":memory:");
    const storage = new SqliteStorage(nodeDurableStorage(db));
    const replica = new Replica(storage, { historyRevs: 20 });
    writeSlots(replica, 1, 5);
    const before = replica.store.serialize();
    // A batch that cannot be decoded throws inside the transaction, after the slot was written to the log.
    expect(() =>
      replica.commit({
        type: "commit",
        entries: [{ slot: 6, ballot: zeroBallot, value: new Uint8Array([0, 0, 0, 1, 99]) }],
      }),
    ).toThrow();
    const reloaded = new Replica(new SqliteStorage(nodeDurableStorage(db)), { historyRevs: 20 });
    expect(reloaded.chosenThrough).toBe(5);
    expect(reloaded.store.serialize()).toBe(before);
    expect(storage.readChosen(6, 6, 1 << 20)).toEqual([]);
  });
});

describe("the value cache", () => {
  it("stays within its bound however small the values, counting each entry's keep", () => {
    const cache = new ValueCache(64 * 1024);
    for (let i = 0; i < 100_000; i++) cache.put(`${i} /f/${i % 100}`, new Uint8Array([i % 256]));
    expect(cache.costBytes).toBeLessThanOrEqual(64 * 1024);
    // A bound on value bytes alone would have kept all 100,000.
    expect(cache.size).toBeLessThan(300);
    expect(cache.get("99999 /f/99")).toEqual(new Uint8Array([99999 % 256]));
    expect(cache.get("0 /f/0")).toBeUndefined();
  });

  it("keeps no value larger than itself", () => {
    const cache = new ValueCache(1024);
    cache.put("1 /big", new Uint8Array(2048));
    expect(cache.size).toBe(0);
  });
});
