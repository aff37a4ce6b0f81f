// Log trimming and state transfer between two replicas, over the in-memory
// storage and over SQLite (node:sqlite in place of the Durable Object's): the
// source keeps applying slots while the receiver takes its state chunk by
// chunk, and the receiver ends equal to a replica that applied the whole log.

import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";
import { SqliteStorage } from "../../acceptors/sqlite-storage";
import { encodeBatch, type Mutation, type MutationOutcome } from "../../core/mutation";
import { zeroBallot } from "../../core/paxos/ballot";
import { Replica, type ReplicaOptions, type ReplicaStorage } from "../../core/replica";
import { MemoryStorage } from "../sim/memory-storage";
import { nodeDurableStorage } from "./node-sql";

const bytes = (text: string) => new TextEncoder().encode(text);

/** The mutations of slot `slot`: files in nested directories, deletes, sessions and their files, a retried id. */
function slotMutations(slot: number): Mutation[] {
  const mutations: Mutation[] = [
    { op: "set", id: `w${slot}`, path: `/d${slot % 3}/f${slot % 11}`, rev: -1, value: bytes(`v${slot}`) },
  ];
  if (slot % 7 === 0)
    mutations.push({ op: "del", id: `d${slot}`, path: `/d${slot % 3}/f${(slot + 4) % 11}`, rev: -1 });
  if (slot % 13 === 0)
    mutations.push({ op: "session-open", id: `s${slot}`, session: `S${slot}`, ttlMs: 15_000 });
  if (slot % 13 === 5 && slot > 13) {
    const session = `S${slot - 5}`;
    mutations.push({
      op: "set",
      id: `e${slot}`,
      path: `/eph/${session}`,
      rev: -1,
      value: bytes("x"),
      session,
    });
  }
  if (slot % 39 === 0 && slot > 39)
    mutations.push({ op: "session-end", id: `x${slot}`, session: `S${slot - 26}` });
  // A session keeper's claim: the term is state like the rest, and consumes no rev.
  if (slot % 17 === 0) mutations.push({ op: "keeper-claim", id: `k${slot}`, term: slot });
  // A move of the leader role: its term is state too, and consumes no rev.
  if (slot % 23 === 0) mutations.push({ op: "leader-move", id: `l${slot}`, term: slot, leader: slot % 5 });
  // A retry of an earlier write: applies once, answers with the first outcome.
  if (slot % 5 === 0 && slot > 10) mutations.push({ op: "nop", id: `w${slot - 10}` });
  return mutations;
}

function commitSlots(replica: Replica, from: number, through: number): void {
  for (let slot = from; slot <= through; slot++) {
    const value = encodeBatch(slotMutations(slot));
    replica.commit({ type: "commit", entries: [{ slot, ballot: zeroBallot, value }] });
  }
}

/** Ids whose remembered outcome the tests compare: every id the slots use. */
function outcomesOf(replica: Replica, through: number): (MutationOutcome | undefined)[] {
  const ids: string[] = [];
  for (let slot = 1; slot <= through; slot++)
    ids.push(`w${slot}`, `d${slot}`, `s${slot}`, `e${slot}`, `x${slot}`);
  return ids.map((id) => replica.store.outcomeOf(id));
}

/** Drives a transfer from `source` into `receiver` until installed, letting `between` run after each chunk. */
function transfer(
  receiver: Replica,
  source: Replica,
  nowMs: number,
  between: () => void = () => undefined,
): number {
  let chunks = 0;
  for (;;) {
    const reply = source.transferChunk(receiver.transferRequest(), nowMs);
    chunks++;
    const progress = receiver.takeTransferChunk(reply);
    if (progress === "installed") return chunks;
    expect(progress).toBe("more");
    between();
  }
}

const small: ReplicaOptions = {
  historyRevs: 20,
  logSlotsKept: 10,
  transferChunkBytesMax: 400,
  transferChunkItemsMax: 7,
};

const kinds: [string, () => ReplicaStorage][] = [
  ["memory", () => new MemoryStorage()],
  ["sqlite", () => new SqliteStorage(nodeDurableStorage())],
];

describe.each(kinds)("log trimming (%s)", (_, newStorage) => {
  it("keeps logSlotsKept slots below the applied one, and answers a fetch below them with its trim point", () => {
    const replica = new Replica(newStorage(), small);
    commitSlots(replica, 1, 100);
    // A few rows per slot applied, so the trim point follows the applied slot exactly.
    expect(replica.status().logTrimmedThrough).toBe(90);
    expect(replica.fetch({ type: "fetch", fromSlot: 90, toSlot: 100 })).toEqual({
      type: "fetched",
      entries: [],
      trimmedThrough: 90,
    });
    expect(replica.fetch({ type: "fetch", fromSlot: 91, toSlot: 100 }).entries.map((e) => e.slot)).toEqual([
      91, 92, 93, 94, 95, 96, 97, 98, 99, 100,
    ]);
  });

  it("still promises to a proposer that asks from below the trim point, reporting the chosen prefix", () => {
    const replica = new Replica(newStorage(), small);
    commitSlots(replica, 1, 50);
    replica.accept({
      type: "accept",
      ballot: { round: 1, proposer: "p" },
      entries: [{ slot: 51, value: bytes("") }],
    });
    const promise = replica.prepare({ type: "prepare", ballot: { round: 2, proposer: "q" }, fromSlot: 1 });
    expect(promise).toMatchObject({ type: "promised", chosenThrough: 50 });
    // Only the vote above the chosen prefix: the proposer settles through 50 and proposes nothing there.
    expect(promise.type === "promised" && promise.accepted.map((e) => e.slot)).toEqual([51]);
    // An accept into the trimmed prefix is acknowledged and not stored again.
    expect(
      replica.accept({
        type: "accept",
        ballot: { round: 2, proposer: "q" },
        entries: [{ slot: 3, value: bytes("") }],
      }),
    ).toMatchObject({ type: "accepted", slots: [3] });
    expect(replica.fetch({ type: "fetch", fromSlot: 3, toSlot: 3 }).trimmedThrough).toBe(40);
  });

  it("trims no slot after a state pinned for a transfer until the pin is released", () => {
    const replica = new Replica(newStorage(), { ...small, transferPinIdleMs: 1000 });
    commitSlots(replica, 1, 30);
    replica.transferChunk(new Replica(newStorage(), small).transferRequest(), 0);
    commitSlots(replica, 31, 80);
    expect(replica.status().logTrimmedThrough).toBe(30);
    replica.tick(999);
    expect(replica.pinned).toBe(true);
    replica.tick(1000);
    expect(replica.pinned).toBe(false);
    commitSlots(replica, 81, 81);
    // The backlog drains a few rows a slot.
    expect(replica.status().logTrimmedThrough).toBe(34);
    commitSlots(replica, 82, 100);
    expect(replica.status().logTrimmedThrough).toBe(90);
  });
});

describe.each(kinds)("state transfer (%s)", (_, newStorage) => {
  it("installs the source's state at one slot while the source applies more, then catches up by the log", () => {
    const source = new Replica(newStorage(), small);
    const twin = new Replica(newStorage(), { ...small, logSlotsKept: 100_000 });
    const receiver = new Replica(newStorage(), small);
    commitSlots(source, 1, 200);
    commitSlots(twin, 1, 200);
    commitSlots(receiver, 1, 20);
    const fetched = source.fetch({ type: "fetch", fromSlot: 21, toSlot: 30 });
    expect(fetched.trimmedThrough).toBe(190);
    let applied = 200;
    const chunks = transfer(receiver, source, 0, () => {
      // The source goes on: its window moves far past the pinned rev, files change, sessions end.
      commitSlots(source, applied + 1, applied + 15);
      applied += 15;
    });
    expect(chunks).toBeGreaterThan(5);
    expect(applied - 200).toBeGreaterThan(4 * 20);
    expect(receiver.chosenThrough).toBe(200);
    expect(receiver.status().logTrimmedThrough).toBe(200);
    // Exactly the state at the pinned slot, though every chunk after the first was read later.
    expect(receiver.store.rev).toBe(twin.store.rev);
    expect(receiver.store.serialize()).toBe(twin.store.serialize());
    expect(receiver.store.liveBytes).toBe(twin.store.liveBytes);
    expect(receiver.store.keeperTerm).toBe(twin.store.keeperTerm);
    expect(receiver.store.keeperTerm).toBeGreaterThan(0);
    expect(receiver.store.leaderTerm).toEqual(twin.store.leaderTerm);
    expect(receiver.store.leaderTerm.term).toBeGreaterThan(0);
    expect(outcomesOf(receiver, 200)).toEqual(outcomesOf(twin, 200));
    commitSlots(twin, 201, applied);
    // Ordinary catch-up from the installed slot: the source kept its log after the pinned slot.
    receiver.learn(source.fetch({ type: "fetch", fromSlot: 201, toSlot: applied }).entries);
    expect(receiver.chosenThrough).toBe(applied);
    expect(receiver.store.serialize()).toBe(twin.store.serialize());
    expect(receiver.store.keeperTerm).toBe(twin.store.keeperTerm);
    expect(receiver.store.liveBytes).toBe(twin.store.liveBytes);
    expect(outcomesOf(receiver, applied)).toEqual(outcomesOf(twin, applied));
    // And goes on applying like a replica that never left: retries, session ends, deletes.
    commitSlots(receiver, applied + 1, applied + 60);
    commitSlots(twin, applied + 1, applied + 60);
    expect(receiver.store.serialize()).toBe(twin.store.serialize());
    expect(outcomesOf(receiver, applied + 60)).toEqual(outcomesOf(twin, applied + 60));
    expect(receiver.store.eventsFrom(receiver.store.oldestEventRev)).toEqual(
      twin.store.eventsFrom(receiver.store.oldestEventRev),
    );
  });

  it("answers TOO_LATE below the installed rev, for reads and for events", () => {
    const source = new Replica(newStorage(), small);
    const receiver = new Replica(newStorage(), small);
    commitSlots(source, 1, 120);
    transfer(receiver, source, 0);
    const rev = receiver.store.rev;
    expect(rev).toBe(source.store.rev);
    expect(receiver.store.oldestRev).toBe(rev);
    expect(receiver.store.oldestEventRev).toBe(rev + 1);
    expect(() => receiver.store.get("/d0/f0", rev - 1)).toThrow(/TOO_LATE|history window/);
    expect(() => receiver.store.firstEvent("/**", rev)).toThrow(/history window/);
    expect(receiver.store.firstEvent("/**", rev + 1)).toBeUndefined();
    expect(receiver.store.getdir("/d1", rev)).toEqual(source.store.getdir("/d1", rev));
    expect(receiver.store.walk("/**", rev)).toEqual(source.store.walk("/**", rev));
    // Once the window has moved past the installed rev, the store is like any other.
    commitSlots(receiver, 121, 160);
    commitSlots(source, 121, 160);
    expect(receiver.store.oldestEventRev).toBe(source.store.oldestEventRev);
    expect(receiver.store.eventsFrom(receiver.store.oldestEventRev)).toEqual(
      source.store.eventsFrom(source.store.oldestEventRev),
    );
  });

  it("starts again when the source released its state between chunks", () => {
    const source = new Replica(newStorage(), { ...small, transferPinIdleMs: 1000 });
    const receiver = new Replica(newStorage(), small);
    commitSlots(source, 1, 100);
    expect(receiver.takeTransferChunk(source.transferChunk(receiver.transferRequest(), 0))).toBe("more");
    commitSlots(source, 101, 120);
    source.tick(5000);
    const refused = source.transferChunk(receiver.transferRequest(), 5000);
    expect(refused.type).toBe("transfer-refused");
    expect(receiver.takeTransferChunk(refused)).toBe("restart");
    expect(receiver.transferRequest().slot).toBeUndefined();
    transfer(receiver, source, 5000);
    expect(receiver.chosenThrough).toBe(120);
    expect(receiver.store.serialize()).toBe(source.store.serialize());
  });

  it("drops a staged transfer once it reached the staged slot by fetching slots after all", () => {
    const storage = newStorage();
    const source = new Replica(newStorage(), small);
    const keeper = new Replica(newStorage(), { ...small, logSlotsKept: 100_000 });
    const receiver = new Replica(storage, small);
    commitSlots(source, 1, 100);
    commitSlots(keeper, 1, 100);
    expect(receiver.takeTransferChunk(source.transferChunk(receiver.transferRequest(), 0))).toBe("more");
    expect(storage.storeBackend.stagedTransfer()?.slot).toBe(100);
    // A peer that kept its whole log serves the slots.
    receiver.learn(keeper.fetch({ type: "fetch", fromSlot: 1, toSlot: 100 }).entries);
    expect(receiver.chosenThrough).toBe(100);
    expect(storage.storeBackend.stagedTransfer()).toBeUndefined();
    expect(receiver.store.serialize()).toBe(source.store.serialize());
  });

  it("serves one pinned state to a second receiver that starts later, and moves the pin once it is of no use", () => {
    const source = new Replica(newStorage(), small);
    const first = new Replica(newStorage(), small);
    const second = new Replica(newStorage(), small);
    commitSlots(source, 1, 60);
    expect(first.takeTransferChunk(source.transferChunk(first.transferRequest(), 0))).toBe("more");
    commitSlots(source, 61, 90);
    transfer(second, source, 10);
    transfer(first, source, 20);
    expect(first.chosenThrough).toBe(60);
    expect(second.chosenThrough).toBe(60);
    expect(second.store.serialize()).toBe(first.store.serialize());
    // A receiver already at the pinned slot gets a new pin at the source's applied slot.
    const third = new Replica(newStorage(), small);
    commitSlots(third, 1, 60);
    expect(transfer(third, source, 30)).toBeGreaterThan(0);
    expect(third.chosenThrough).toBe(90);
    expect(third.store.serialize()).toBe(source.store.serialize());
  });

  it("refuses a state that is not above the asker's applied slot", () => {
    const source = new Replica(newStorage(), small);
    const receiver = new Replica(newStorage(), small);
    commitSlots(source, 1, 30);
    commitSlots(receiver, 1, 30);
    expect(source.transferChunk(receiver.transferRequest(), 0).type).toBe("transfer-refused");
  });
});

describe("state transfer over SQLite: a receiver that crashes", () => {
  it("resumes from the chunks it staged, and its store stays whole until the install", () => {
    const db = new DatabaseSync(":memory:");
    const source = new Replica(new SqliteStorage(nodeDurableStorage()), small);
    commitSlots(source, 1, 150);
    let receiver = new Replica(new SqliteStorage(nodeDurableStorage(db)), small);
    commitSlots(receiver, 1, 12);
    const before = receiver.store.serialize();
    for (let i = 0; i < 4; i++) {
      expect(receiver.takeTransferChunk(source.transferChunk(receiver.transferRequest(), 0))).toBe("more");
    }
    const resumeAt = receiver.transferRequest();
    // A crash: everything in memory is lost; what is in SQLite stays.
    receiver = new Replica(new SqliteStorage(nodeDurableStorage(db)), small);
    expect(receiver.chosenThrough).toBe(12);
    expect(receiver.store.serialize()).toBe(before);
    expect(receiver.transferRequest()).toEqual(resumeAt);
    expect(resumeAt.slot).toBe(150);
    transfer(receiver, source, 0);
    expect(receiver.store.serialize()).toBe(source.store.serialize());
    // And a restart after the install finds the installed store, with its floor.
    const again = new Replica(new SqliteStorage(nodeDurableStorage(db)), small);
    expect(again.chosenThrough).toBe(150);
    expect(again.store.serialize()).toBe(source.store.serialize());
    expect(again.store.oldestEventRev).toBe(source.store.rev + 1);
    expect(db.prepare("SELECT count(*) AS n FROM transfer_staged_paths").get()).toEqual({ n: 0 });
  });
});
