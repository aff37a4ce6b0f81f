// SPEC §6 as the store decides it: sessions open and end in the log, files
// are owned, ending deletes them in bytewise order in consecutive revs, and
// reads show the owner at the rev read. Plus §8's NOSPACE on a plain write.

import { describe, expect, it } from "vitest";
import { CodedError } from "../../core/errors";
import { sessionTtlMsMax, sessionTtlMsMin } from "../../core/limits";
import {
  decodeBatch,
  encodeBatch,
  encodedSize,
  type Mutation,
  type MutationOutcome,
} from "../../core/mutation";
import { executeRead } from "../../core/reads";
import type { Store } from "../../core/store";
import { newStore } from "./store-factory";

const bytes = (text: string) => new TextEncoder().encode(text);

const set = (path: string, rev: number, value = "", session?: string, id = ""): Mutation =>
  session === undefined
    ? { op: "set", id, path, rev, value: bytes(value) }
    : { op: "set", id, path, rev, value: bytes(value), session };
const del = (path: string, rev: number, id = ""): Mutation => ({ op: "del", id, path, rev });
const nop = (id = ""): Mutation => ({ op: "nop", id });
const open = (session: string, ttlMs = 15_000, id = ""): Mutation => ({
  op: "session-open",
  id,
  session,
  ttlMs,
});
const end = (session: string, id = "", reason?: "client" | "expired"): Mutation =>
  reason === undefined ? { op: "session-end", id, session } : { op: "session-end", id, session, reason };

function applyOne(store: Store, mutation: Mutation): MutationOutcome {
  const [outcome] = store.apply([mutation]);
  if (outcome === undefined) throw new Error("no outcome");
  return outcome;
}

function treeOf(store: Store): string {
  return store.serialize().split("\n").slice(1).join("\n");
}

describe("opening a session", () => {
  it("consumes one rev and answers the session and its ttl", () => {
    const store = newStore();
    store.apply([nop()]);
    expect(applyOne(store, open("S", 20_000))).toEqual({ rev: 2, session: "S", ttlMs: 20_000 });
    expect(store.rev).toBe(2);
    expect(store.session("S")).toEqual({ session: "S", ttlMs: 20_000, files: [] });
    expect(store.sessions()).toEqual([{ session: "S", ttlMs: 20_000, files: [] }]);
    expect(store.eventsFrom(0)).toEqual([]);
  });

  const refused: [string, Mutation, string][] = [
    ["an empty id", open(""), "BAD_REQUEST"],
    ["an id with a slash", open("a/b"), "BAD_REQUEST"],
    ["an id of 65 characters", open("x".repeat(65)), "BAD_REQUEST"],
    ["a ttl below the minimum", open("S", sessionTtlMsMin - 1), "RANGE"],
    ["a ttl above the maximum", open("S", sessionTtlMsMax + 1), "RANGE"],
    ["a ttl that is no integer", open("S", 1500.5), "RANGE"],
    ["an id already open", open("live"), "OTHER"],
  ];
  it.each(refused)("with %s fails with %s, consuming its rev and opening nothing", (_, mutation, code) => {
    const store = newStore();
    store.apply([open("live")]);
    const outcome = applyOne(store, mutation);
    expect(outcome.rev).toBe(2);
    expect(outcome.error?.code).toBe(code);
    expect(store.rev).toBe(2);
    expect(store.sessions().map((info) => info.session)).toEqual(["live"]);
  });

  it("accepts ids of 1 and 64 characters of the whole alphabet, and the ttl bounds", () => {
    const store = newStore();
    const long = `${"Az09_-".repeat(10)}abcd`;
    expect(long).toHaveLength(64);
    const outcomes = store.apply([open("a", sessionTtlMsMin), open(long, sessionTtlMsMax)]);
    expect(outcomes.map((outcome) => outcome.error)).toEqual([undefined, undefined]);
    expect(store.sessionCount).toBe(2);
  });

  it("beyond sessionsMax fails with NOSPACE until one ends", () => {
    const store = newStore({ sessionsMax: 2 });
    store.apply([open("a"), open("b")]);
    expect(applyOne(store, open("c")).error?.code).toBe("NOSPACE");
    expect(store.rev).toBe(3);
    store.apply([end("a")]);
    expect(applyOne(store, open("c"))).toEqual({ rev: 5, session: "c", ttlMs: 15_000 });
  });

  it("again after it ended opens a fresh session", () => {
    const store = newStore();
    store.apply([open("S"), set("/f", 0, "x", "S"), end("S")]);
    expect(applyOne(store, open("S", 5000)).error).toBeUndefined();
    expect(store.session("S")).toEqual({ session: "S", ttlMs: 5000, files: [] });
  });
});

describe("ending a session", () => {
  it("deletes its files in bytewise path order, one rev each, consecutive, as plain del events", () => {
    const store = newStore();
    store.apply([
      open("S"), // 1
      set("/b", 0, "b", "S"), // 2
      set("/a/z", 0, "az", "S"), // 3
      set("/keep", 0, "k"), // 4
      set("/a-", 0, "dash", "S"), // 5
      set("/A", 0, "A", "S"), // 6
      set("/a/b", 0, "ab", "S"), // 7
    ]);
    const outcome = applyOne(store, end("S", "", "client"));
    expect(outcome).toEqual({ rev: 12, revsConsumed: 5, session: "S" });
    // Bytewise: "/A" < "/a-" < "/a/b" < "/a/z" < "/b" ('-' 0x2d < '/' 0x2f).
    expect(store.eventsFrom(8)).toEqual([
      { rev: 8, path: "/A", op: "del", value: new Uint8Array() },
      { rev: 9, path: "/a-", op: "del", value: new Uint8Array() },
      { rev: 10, path: "/a/b", op: "del", value: new Uint8Array() },
      { rev: 11, path: "/a/z", op: "del", value: new Uint8Array() },
      { rev: 12, path: "/b", op: "del", value: new Uint8Array() },
    ]);
    expect(store.rev).toBe(12);
    expect(store.session("S")).toBeUndefined();
    expect(treeOf(store)).toBe("/keep 4 6b\n");
    // Each rev inside the range sees the deletions up to it.
    expect(store.getdir("/", 9)).toEqual(["a", "b", "keep"]);
    expect(store.getdir("/a", 10)).toEqual(["z"]);
    expect(store.stat("/a", 11)).toEqual({ len: 0, rev: 0 });
  });

  it("that owns one file consumes exactly one rev", () => {
    const store = newStore();
    store.apply([open("S"), set("/f", 0, "", "S")]);
    expect(applyOne(store, end("S"))).toEqual({ rev: 3, session: "S" });
    expect(store.eventsFrom(3)).toEqual([{ rev: 3, path: "/f", op: "del", value: new Uint8Array() }]);
  });

  it("that owns none consumes one rev and makes no event", () => {
    const store = newStore();
    store.apply([open("S")]);
    expect(applyOne(store, end("S", "", "expired"))).toEqual({ rev: 2, session: "S" });
    expect(store.rev).toBe(2);
    expect(store.eventsFrom(0)).toEqual([]);
  });

  it.each([
    ["never opened", [] as Mutation[]],
    ["already ended", [open("S"), end("S")]],
  ])("that was %s fails with NOSESSION and consumes no rev", (_, before) => {
    const store = newStore();
    store.apply([nop(), ...before]);
    const rev = store.rev;
    const outcome = applyOne(store, end("S"));
    expect(outcome).toEqual({
      rev,
      revsConsumed: 0,
      session: "S",
      error: { code: "NOSESSION", message: expect.any(String) },
    });
    expect(store.rev).toBe(rev);
    // The next mutation takes the very next rev: no gap.
    expect(applyOne(store, nop())).toEqual({ rev: rev + 1 });
  });

  it("deletes only the files it owns at the end, not those moved away or made persistent", () => {
    const store = newStore();
    store.apply([
      open("S"),
      open("T"),
      set("/moved", 0, "", "S"),
      set("/persistent", 0, "", "S"),
      set("/deleted", 0, "", "S"),
      set("/owned", 0, "", "S"),
      set("/moved", -1, "", "T"),
      set("/persistent", -1, ""),
      del("/deleted", -1),
    ]);
    expect(store.session("S")?.files).toEqual(["/owned"]);
    expect(store.session("T")?.files).toEqual(["/moved"]);
    expect(applyOne(store, end("S"))).toEqual({ rev: store.rev, session: "S" });
    expect(store.walk("/**").map((file) => [file.path, file.session])).toEqual([
      ["/moved", "T"],
      ["/persistent", undefined],
    ]);
  });

  it("is answered once: a retry with the same mutation id gets the first outcome and consumes nothing", () => {
    const store = newStore();
    store.apply([open("S", 15_000, "open-1"), set("/a", 0, "", "S"), set("/b", 0, "", "S")]);
    const first = applyOne(store, end("S", "end-1"));
    expect(first).toEqual({ rev: 5, revsConsumed: 2, session: "S" });
    expect(applyOne(store, end("S", "end-1"))).toStrictEqual(first);
    expect(applyOne(store, open("S", 15_000, "open-1"))).toEqual({ rev: 1, session: "S", ttlMs: 15_000 });
    expect(store.rev).toBe(5);
    expect(store.session("S")).toBeUndefined();
  });
});

describe("a SET under a session", () => {
  it("makes the file owned; reads, walks and events say so; a persistent file has no session key", () => {
    const store = newStore();
    store.apply([open("S"), set("/eph", 0, "e", "S"), set("/per", 0, "p")]);
    expect(store.get("/eph")).toEqual({ value: bytes("e"), rev: 2, session: "S" });
    expect(store.stat("/eph")).toEqual({ len: 1, rev: 2, session: "S" });
    expect(Object.keys(store.get("/per"))).toEqual(["value", "rev"]);
    expect(Object.keys(store.stat("/per"))).toEqual(["len", "rev"]);
    expect(store.walk("/**")).toEqual([
      { path: "/eph", rev: 2, value: bytes("e"), session: "S" },
      { path: "/per", rev: 3, value: bytes("p") },
    ]);
    expect(Object.keys(store.walk("/per")[0] ?? {})).toEqual(["path", "rev", "value"]);
    expect(store.eventsFrom(0)).toEqual([
      { rev: 2, path: "/eph", op: "set", value: bytes("e"), session: "S" },
      { rev: 3, path: "/per", op: "set", value: bytes("p") },
    ]);
    expect(store.session("S")?.files).toEqual(["/eph"]);
  });

  it("shows the owner as it was at the rev read", () => {
    const store = newStore();
    store.apply([
      open("S"), // 1
      open("T"), // 2
      set("/f", 0, "1", "S"), // 3
      set("/f", -1, "2", "T"), // 4: moved
      set("/f", -1, "3"), // 5: persistent again
      set("/f", -1, "4", "S"), // 6
      end("S"), // 7: deleted
    ]);
    const owners = [3, 4, 5, 6].map((rev) => store.get("/f", rev).session);
    expect(owners).toEqual(["S", "T", undefined, "S"]);
    expect(store.stat("/f", 4)).toEqual({ len: 1, rev: 4, session: "T" });
    expect(store.walk("/**", 3)).toEqual([{ path: "/f", rev: 3, value: bytes("1"), session: "S" }]);
    expect(store.stat("/f")).toEqual({ len: 0, rev: 0 });
    expect(store.session("T")?.files).toEqual([]);
  });

  const notAlive: [string, Mutation[]][] = [
    ["never opened", []],
    ["ended", [open("S"), end("S")]],
  ];
  it.each(notAlive)("of a session %s fails with NOSESSION before any other check", (_, before) => {
    const store = newStore();
    store.apply([set("/dir/f", 0, "x"), ...before]);
    const tree = treeOf(store);
    // Each of these would fail another check too: a directory, a bad path, a bad rev.
    for (const mutation of [set("/dir", -1, "", "S"), set("/bad/", -1, "", "S"), set("/dir/f", 0, "", "S")]) {
      const rev = store.rev + 1;
      expect(applyOne(store, mutation)).toEqual({
        rev,
        error: { code: "NOSESSION", message: expect.any(String) },
      });
    }
    expect(treeOf(store)).toBe(tree);
  });

  it("DEL of an ephemeral file works as for any file and drops it from the session", () => {
    const store = newStore();
    store.apply([open("S"), set("/f", 0, "x", "S")]);
    expect(applyOne(store, del("/f", 2))).toEqual({ rev: 3 });
    expect(store.eventsFrom(3)).toEqual([{ rev: 3, path: "/f", op: "del", value: new Uint8Array() }]);
    expect(store.session("S")?.files).toEqual([]);
  });

  it("that fails a check leaves the owner alone", () => {
    const store = newStore();
    store.apply([open("S"), open("T"), set("/f", 0, "x", "S")]);
    expect(applyOne(store, set("/f", 0, "y", "T")).error?.code).toBe("REV_MISMATCH");
    expect(store.session("S")?.files).toEqual(["/f"]);
    expect(store.session("T")?.files).toEqual([]);
    expect(store.get("/f").session).toBe("S");
  });
});

describe("the size limit on a plain write (SPEC §8)", () => {
  // Live data counts path and value bytes: "/a" + 8 bytes = 10.
  it("refuses a SET that would grow live data past the limit, consuming its rev", () => {
    const store = newStore({ storeBytesMax: 20 });
    store.apply([set("/a", 0, "12345678")]);
    expect(store.liveBytes).toBe(10);
    const tree = treeOf(store);
    expect(applyOne(store, set("/b", 0, "123456789"))).toEqual({
      rev: 2,
      error: { code: "NOSPACE", message: expect.any(String) },
    });
    expect(treeOf(store)).toBe(tree);
    expect(store.liveBytes).toBe(10);
    // Exactly at the limit fits.
    expect(applyOne(store, set("/b", 0, "12345678"))).toEqual({ rev: 3 });
    expect(store.liveBytes).toBe(20);
  });

  it("always lets through writes that do not grow it, even over the limit", () => {
    const big = newStore({ storeBytesMax: 100 });
    big.apply([set("/a", 0, "x".repeat(40)), set("/b", 0, "y".repeat(40))]);
    // The same log replayed under a lower limit: the store is over it now.
    const store = newStore({ storeBytesMax: 10 });
    store.apply([set("/a", 0, "x".repeat(8))]);
    const outcomes = store.apply([
      set("/a", -1, "z".repeat(8)), // same size
      set("/a", -1, "z".repeat(3)), // smaller
      set("/a", -1, "z".repeat(8)), // grows back, to the limit
      set("/a", -1, "z".repeat(9)), // past it
      del("/a", -1),
      nop(),
    ]);
    expect(outcomes.map((outcome) => outcome.error?.code)).toEqual([
      undefined,
      undefined,
      undefined,
      "NOSPACE",
      undefined,
      undefined,
    ]);
    expect(store.liveBytes).toBe(0);
  });

  it("checks the rev and the kind before the size", () => {
    const store = newStore({ storeBytesMax: 4 });
    store.apply([set("/d/f", 0, "")]);
    expect(applyOne(store, set("/d", -1, "too big")).error?.code).toBe("ISDIR");
    expect(applyOne(store, set("/d/f", 0, "too big")).error?.code).toBe("REV_MISMATCH");
  });

  it("counts path and value bytes of every live file", () => {
    const store = newStore();
    store.apply([open("S"), set("/a/b", 0, "héllo"), set("/c", 0, "", "S"), set("/a/b", -1, "x")]);
    expect(store.liveBytes).toBe(4 + 1 + 2);
    store.apply([end("S")]);
    expect(store.liveBytes).toBe(5);
  });
});

describe("reads of sessions and owners through executeRead", () => {
  const store = newStore();
  store.apply([open("S", 5000), open("T"), set("/f", 0, "v", "S"), set("/g", 0, "w")]);

  it("carry session on get, stat and walk", () => {
    expect(executeRead(store, { op: "get", path: "/f" }, 3)).toEqual({
      op: "get",
      value: bytes("v"),
      rev: 3,
      session: "S",
    });
    expect(executeRead(store, { op: "stat", path: "/f" }, 4)).toEqual({
      op: "stat",
      len: 1,
      rev: 3,
      session: "S",
    });
    expect(executeRead(store, { op: "get", path: "/g" }, 4)).toEqual({
      op: "get",
      value: bytes("w"),
      rev: 4,
    });
    expect(executeRead(store, { op: "walk", glob: "/*", offset: 0, limit: 10 }, 4)).toEqual({
      op: "walk",
      files: [
        { path: "/f", rev: 3, value: bytes("v"), session: "S" },
        { path: "/g", rev: 4, value: bytes("w") },
      ],
    });
  });

  it("answer a live session with its files, and NOSESSION for another", () => {
    expect(executeRead(store, { op: "session", session: "S" }, 4)).toEqual({
      op: "session",
      session: "S",
      ttlMs: 5000,
      files: ["/f"],
    });
    let thrown: unknown;
    try {
      executeRead(store, { op: "session", session: "nope" }, 4);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(CodedError);
    expect((thrown as CodedError).code).toBe("NOSESSION");
    expect((thrown as CodedError).status).toBe(404);
  });

  it("page the live sessions by id, at the current rev only", () => {
    expect(executeRead(store, { op: "sessions", offset: 1, limit: 5 }, 4)).toEqual({
      op: "sessions",
      sessions: [{ session: "T", ttlMs: 15_000, files: [] }],
    });
    expect(() => executeRead(store, { op: "sessions", offset: 0, limit: 5 }, 3)).toThrow(/current rev/);
  });
});

describe("serialize", () => {
  it("shows owners on file lines and the live sessions after the tree", () => {
    const store = newStore();
    store.apply([open("T", 2000), open("S"), set("/f", 0, "a", "S"), set("/g", 0, "b")]);
    expect(store.serialize()).toBe("rev 4\n/f 3 61 S\n/g 4 62\nsession S 15000\nsession T 2000\n");
  });
});

describe("the log encoding of session mutations", () => {
  const batch: Mutation[] = [
    open("S", 15_000, "m1"),
    set("/f", 0, "x", "S", "m2"),
    set("/g", -1, "y", undefined, "m3"),
    end("S", "m4", "expired"),
    end("S", "m5", "client"),
    end("S", "m6"),
    { op: "set", id: "m7", path: "/bin", rev: 7, value: Uint8Array.from([0, 255, 10]), session: "é" },
  ];

  it("round-trips every field", () => {
    expect(decodeBatch(encodeBatch(batch))).toEqual(batch);
  });

  it("bounds each mutation's encoded size from above", () => {
    for (const mutation of batch) {
      expect(encodeBatch([mutation]).length - 4).toBeLessThanOrEqual(encodedSize(mutation));
    }
  });
});
