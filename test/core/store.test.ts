import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CodedError } from "../../core/errors";
import { compileGlob } from "../../core/glob";
import { valueBytesMax } from "../../core/limits";
import type { Mutation, MutationOutcome } from "../../core/mutation";
import { isValidPath, splitPath } from "../../core/path";
import type { Store, StoreEvent } from "../../core/store";
import { newStore } from "./store-factory";

const encoder = new TextEncoder();
const bytes = (text: string) => encoder.encode(text);
const text = (value: Uint8Array) => new TextDecoder().decode(value);

const set = (path: string, rev: number, value: string | Uint8Array = "", id = ""): Mutation => ({
  op: "set",
  id,
  path,
  rev,
  value: typeof value === "string" ? bytes(value) : value,
});
const del = (path: string, rev: number, id = ""): Mutation => ({ op: "del", id, path, rev });
const nop = (id = ""): Mutation => ({ op: "nop", id });

/** Applies one mutation and returns its outcome. */
function applyOne(store: Store, mutation: Mutation): MutationOutcome {
  const [outcome] = store.apply([mutation]);
  if (outcome === undefined) throw new Error("no outcome");
  return outcome;
}

/** Runs a read; returns its answer, or the CodedError code it threw. */
function attempt<T>(read: () => T): { ok: T } | { code: string } {
  try {
    return { ok: read() };
  } catch (error) {
    if (error instanceof CodedError) return { code: error.code };
    throw error;
  }
}

function codeOf(read: () => unknown): string | undefined {
  const result = attempt(read);
  return "code" in result ? result.code : undefined;
}

/** The tree part of serialize(), without the rev line: what a failed write must leave alone. */
function treeOf(store: Store): string {
  return store.serialize().split("\n").slice(1).join("\n");
}

/** A store holding `/f` at file rev 3 (two NOPs first), `/a/b/c`, and `/a/d`. */
function storeWithFiles(): Store {
  const store = newStore();
  store.apply([nop(), nop(), set("/f", 0, "old"), set("/a/b/c", 0, "c"), set("/a/d", 0, "d")]);
  return store;
}

describe("a new store", () => {
  it("is empty at rev 0 with the root directory", () => {
    const store = newStore();
    expect(store.rev).toBe(0);
    expect(store.oldestRev).toBe(0);
    expect(store.getdir("/")).toEqual([]);
    expect(store.stat("/")).toEqual({ len: 0, rev: -2 });
    expect(codeOf(() => store.get("/"))).toBe("ISDIR");
    expect(store.walk("/**")).toEqual([]);
    expect(store.eventsFrom(0)).toEqual([]);
    expect(store.serialize()).toBe("rev 0\n");
  });

  it("answers a missing file with NOENT carrying rev 0", () => {
    const store = newStore();
    let thrown: unknown;
    try {
      store.get("/missing");
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(CodedError);
    expect((thrown as CodedError).code).toBe("NOENT");
    expect((thrown as CodedError).details.rev).toBe(0);
    expect(store.stat("/missing")).toEqual({ len: 0, rev: 0 });
  });
});

describe("the rev check", () => {
  // `/f` is at file rev 3; each write is the store's 6th change.
  const onExisting: [string, number, boolean][] = [
    ["-1 clobbers", -1, true],
    ["0 only creates", 0, false],
    ["an older rev", 2, false],
    ["a much older rev", 1, false],
    ["the file's rev", 3, true],
    ["a newer rev", 4, true],
    ["a far newer rev", 1000, true],
    ["-2", -2, false],
    ["-7", -7, false],
  ];

  it.each(onExisting)("SET on an existing file with %s (%i) succeeds: %s", (_, checkRev, succeeds) => {
    const store = storeWithFiles();
    const outcome = applyOne(store, set("/f", checkRev, "new"));
    expect(store.rev).toBe(6);
    if (succeeds) {
      expect(outcome).toEqual({ rev: 6 });
      expect(text(store.get("/f").value)).toBe("new");
      expect(store.get("/f").rev).toBe(6);
    } else {
      expect(outcome).toEqual({
        rev: 6,
        error: { code: "REV_MISMATCH", message: expect.any(String), rev: 3 },
      });
      expect(text(store.get("/f").value)).toBe("old");
      expect(store.get("/f").rev).toBe(3);
    }
  });

  it.each(onExisting)("DEL on an existing file with %s (%i) succeeds: %s", (_, checkRev, succeeds) => {
    const store = storeWithFiles();
    const outcome = applyOne(store, del("/f", checkRev));
    expect(store.rev).toBe(6);
    if (succeeds) {
      expect(outcome).toEqual({ rev: 6 });
      expect(store.stat("/f")).toEqual({ len: 0, rev: 0 });
    } else {
      expect(outcome.error?.code).toBe("REV_MISMATCH");
      expect(outcome.error?.rev).toBe(3);
      expect(store.get("/f").rev).toBe(3);
    }
  });

  const onMissing: [string, number, boolean][] = [
    ["-1 clobbers", -1, true],
    ["0 creates", 0, true],
    ["a positive rev", 5, true],
    ["-2", -2, false],
    ["-3", -3, false],
  ];

  it.each(onMissing)("SET on a missing file with %s (%i) succeeds: %s", (_, checkRev, succeeds) => {
    const store = storeWithFiles();
    const outcome = applyOne(store, set("/new", checkRev, "v"));
    if (succeeds) {
      expect(outcome).toEqual({ rev: 6 });
      expect(store.get("/new")).toEqual({ value: bytes("v"), rev: 6 });
    } else {
      expect(outcome.error).toMatchObject({ code: "REV_MISMATCH", rev: 0 });
      expect(store.stat("/new")).toEqual({ len: 0, rev: 0 });
    }
  });

  it.each(onMissing)("DEL on a missing file with %s (%i) succeeds: %s", (_, checkRev, succeeds) => {
    const store = storeWithFiles();
    const before = treeOf(store);
    const outcome = applyOne(store, del("/new", checkRev));
    expect(outcome.rev).toBe(6);
    expect(outcome.error?.code).toBe(succeeds ? undefined : "REV_MISMATCH");
    expect(treeOf(store)).toBe(before);
    expect(store.eventsFrom(6)).toEqual([]);
  });

  it("lets only the first of two creators win", () => {
    const store = newStore();
    const [first, second] = store.apply([set("/lock", 0, "me"), set("/lock", 0, "you")]);
    expect(first).toEqual({ rev: 1 });
    expect(second?.error).toMatchObject({ code: "REV_MISMATCH", rev: 1 });
    expect(text(store.get("/lock").value)).toBe("me");
  });

  it("re-creates a deleted file with rev 0", () => {
    const store = newStore();
    store.apply([set("/f", 0, "1"), del("/f", 1)]);
    expect(applyOne(store, set("/f", 0, "2"))).toEqual({ rev: 3 });
    expect(store.get("/f")).toEqual({ value: bytes("2"), rev: 3 });
  });

  it("sets a file's rev to the rev of the change that wrote it, even with the same value", () => {
    const store = newStore();
    store.apply([set("/f", 0, "x"), nop(), set("/f", 1, "x")]);
    expect(store.get("/f")).toEqual({ value: bytes("x"), rev: 3 });
  });
});

describe("wrong kinds of node", () => {
  // In storeWithFiles: `/f` and `/a/b/c` and `/a/d` are files; `/`, `/a` and `/a/b` are directories.
  const cases: [string, Mutation, string | undefined][] = [
    ["SET the root", set("/", -1, "x"), "ISDIR"],
    ["DEL the root", del("/", -1), "ISDIR"],
    ["SET the root with rev 0", set("/", 0, "x"), "ISDIR"],
    ["SET a directory", set("/a", -1, "x"), "ISDIR"],
    ["SET a nested directory", set("/a/b", -1, "x"), "ISDIR"],
    ["DEL a directory", del("/a", -1), "ISDIR"],
    ["DEL a nested directory", del("/a/b", 0), "ISDIR"],
    ["SET below a file", set("/f/x", -1, "x"), "NOTDIR"],
    ["SET two below a file", set("/f/x/y", -1, "x"), "NOTDIR"],
    ["SET below a nested file", set("/a/b/c/d", 0, "x"), "NOTDIR"],
    ["DEL below a file (missing: nothing to do)", del("/f/x", -1), undefined],
    ["DEL two below a file", del("/f/x/y", 0), undefined],
    // Check order: BAD_PATH, TOO_LARGE, ISDIR, NOTDIR, REV_MISMATCH.
    ["SET a directory with a bad rev", set("/a", -5, "x"), "ISDIR"],
    ["DEL a directory with a bad rev", del("/a", -5), "ISDIR"],
    ["SET below a file with a bad rev", set("/f/x", -5, "x"), "NOTDIR"],
    ["DEL below a file with a bad rev", del("/f/x", -5), "REV_MISMATCH"],
    ["SET a directory with a value too large", set("/a", -1, new Uint8Array(valueBytesMax + 1)), "TOO_LARGE"],
    ["SET a bad path with a value too large", set("/a/", -1, new Uint8Array(valueBytesMax + 1)), "BAD_PATH"],
    ["SET a bad path", set("/a/../f", -1, "x"), "BAD_PATH"],
    ["SET an empty path", set("", -1, "x"), "BAD_PATH"],
    ["DEL a bad path", del("a", -1), "BAD_PATH"],
    ["SET a value one byte too large", set("/big", -1, new Uint8Array(valueBytesMax + 1)), "TOO_LARGE"],
  ];

  it.each(cases)("%s → %s", (_, mutation, code) => {
    const store = storeWithFiles();
    const before = treeOf(store);
    const outcome = applyOne(store, mutation);
    expect(outcome.rev).toBe(6);
    expect(store.rev).toBe(6);
    expect(outcome.error?.code).toBe(code);
    expect(treeOf(store)).toBe(before);
    expect(store.eventsFrom(6)).toEqual([]);
  });

  it("stores a value of exactly valueBytesMax", () => {
    const store = newStore();
    expect(applyOne(store, set("/big", 0, new Uint8Array(valueBytesMax)))).toEqual({ rev: 1 });
    expect(store.stat("/big")).toEqual({ len: valueBytesMax, rev: 1 });
  });

  it("names the offending file in a NOTDIR message and the path in others", () => {
    const store = storeWithFiles();
    expect(applyOne(store, set("/f/x/y", -1, "x")).error?.message).toContain("/f");
    expect(applyOne(store, set("/a", -1, "x")).error?.message).toContain("/a");
  });
});

describe("implicit directories", () => {
  it("appear with their first file and vanish with their last", () => {
    const store = newStore();
    store.apply([set("/a/b/c", 0, "1")]);
    expect(store.getdir("/")).toEqual(["a"]);
    expect(store.getdir("/a")).toEqual(["b"]);
    expect(store.getdir("/a/b")).toEqual(["c"]);
    expect(store.stat("/a")).toEqual({ len: 1, rev: -2 });
    expect(store.stat("/")).toEqual({ len: 1, rev: -2 });

    store.apply([set("/a/d", 0, "2")]);
    expect(store.getdir("/a")).toEqual(["b", "d"]);
    expect(store.stat("/a")).toEqual({ len: 2, rev: -2 });

    store.apply([del("/a/b/c", -1)]);
    expect(store.getdir("/a")).toEqual(["d"]);
    expect(store.stat("/a/b")).toEqual({ len: 0, rev: 0 });
    expect(codeOf(() => store.getdir("/a/b"))).toBe("NOENT");
    expect(store.stat("/a")).toEqual({ len: 1, rev: -2 });

    store.apply([del("/a/d", -1)]);
    expect(store.getdir("/")).toEqual([]);
    expect(store.stat("/")).toEqual({ len: 0, rev: -2 });
    expect(codeOf(() => store.getdir("/a"))).toBe("NOENT");
    expect(store.serialize()).toBe("rev 4\n");
  });

  it("vanish all the way up from a deep file, stopping at a directory that still holds something", () => {
    const store = newStore();
    store.apply([set("/x/keep", 0), set("/x/y/z/w/v", 0), del("/x/y/z/w/v", -1)]);
    expect(store.getdir("/")).toEqual(["x"]);
    expect(store.getdir("/x")).toEqual(["keep"]);
    for (const gone of ["/x/y", "/x/y/z", "/x/y/z/w"]) expect(store.stat(gone)).toEqual({ len: 0, rev: 0 });
  });

  it("let a vanished directory's path become a file, and a file's path become a directory", () => {
    const store = newStore();
    store.apply([set("/p/q", 0, "child"), del("/p/q", -1), set("/p", 0, "file")]);
    expect(store.get("/p")).toEqual({ value: bytes("file"), rev: 3 });
    expect(codeOf(() => store.getdir("/p"))).toBe("NOTDIR");
    store.apply([del("/p", 3), set("/p/r", 0, "again")]);
    expect(store.getdir("/p")).toEqual(["r"]);
    expect(codeOf(() => store.get("/p"))).toBe("ISDIR");
  });

  it.each([
    ["/f", "NOTDIR"],
    ["/a/b/c", "NOTDIR"],
    ["/missing", "NOENT"],
    ["/f/below", "NOENT"],
    ["/a/x", "NOENT"],
    ["/a/", "BAD_PATH"],
  ])("GETDIR %j → %s", (path, code) => {
    expect(codeOf(() => storeWithFiles().getdir(path))).toBe(code);
  });

  it.each([
    ["/", { len: 2, rev: -2 }],
    ["/a", { len: 2, rev: -2 }],
    ["/a/b", { len: 1, rev: -2 }],
    ["/f", { len: 3, rev: 3 }],
    ["/a/b/c", { len: 1, rev: 4 }],
    ["/missing", { len: 0, rev: 0 }],
    ["/f/below", { len: 0, rev: 0 }],
  ])("STAT %j → %j", (path, expected) => {
    expect(storeWithFiles().stat(path)).toEqual(expected);
  });

  it.each([
    ["/a", "ISDIR"],
    ["/", "ISDIR"],
    ["/missing", "NOENT"],
    ["/f/below", "NOENT"],
    ["f", "BAD_PATH"],
  ])("GET %j → %s", (path, code) => {
    expect(codeOf(() => storeWithFiles().get(path))).toBe(code);
  });

  it("validates the path of every read", () => {
    const store = storeWithFiles();
    for (const path of ["", "a", "/a/", "/a/./b", "/é"]) {
      expect(codeOf(() => store.get(path))).toBe("BAD_PATH");
      expect(codeOf(() => store.stat(path))).toBe("BAD_PATH");
      expect(codeOf(() => store.getdir(path))).toBe("BAD_PATH");
    }
    for (const glob of ["", "a", "/a/", "/[a]"]) {
      expect(codeOf(() => store.walk(glob))).toBe("BAD_PATH");
      expect(codeOf(() => store.firstEvent(glob, 0))).toBe("BAD_PATH");
    }
  });

  it("counts a file's length in bytes", () => {
    const store = newStore();
    store.apply([set("/u", 0, "héllo")]);
    expect(store.stat("/u")).toEqual({ len: 6, rev: 1 });
  });
});

describe("revs", () => {
  it("are consumed by every mutation, one each, in order, success or failure", () => {
    const store = storeWithFiles();
    const before = treeOf(store);
    const outcomes = store.apply([nop(), set("/a", -1, "x"), set("/f", 0, "x"), del("/a", -1), nop()]);
    expect(outcomes.map((outcome) => outcome.rev)).toEqual([6, 7, 8, 9, 10]);
    expect(outcomes.map((outcome) => outcome.error?.code)).toEqual([
      undefined,
      "ISDIR",
      "REV_MISMATCH",
      "ISDIR",
      undefined,
    ]);
    expect(store.rev).toBe(10);
    expect(treeOf(store)).toBe(before);
    expect(store.eventsFrom(6)).toEqual([]);
  });

  it("are consumed by a NOP that changes nothing", () => {
    const store = newStore();
    expect(store.apply([nop(), nop(), nop()])).toEqual([{ rev: 1 }, { rev: 2 }, { rev: 3 }]);
    expect(store.rev).toBe(3);
    expect(store.serialize()).toBe("rev 3\n");
    expect(store.eventsFrom(0)).toEqual([]);
  });

  it("apply an empty batch as nothing", () => {
    const store = newStore();
    expect(store.apply([])).toEqual([]);
    expect(store.rev).toBe(0);
  });
});

describe("dedup by mutation id", () => {
  it("answers a retry with the first outcome and consumes no rev", () => {
    const store = newStore();
    const first = applyOne(store, set("/f", 0, "one", "req-1"));
    expect(first).toEqual({ rev: 1 });
    // A retry carries the same id; even a different body must not apply again.
    expect(applyOne(store, set("/f", 0, "two", "req-1"))).toEqual({ rev: 1 });
    expect(store.rev).toBe(1);
    expect(store.get("/f")).toEqual({ value: bytes("one"), rev: 1 });
    expect(store.eventsFrom(0)).toHaveLength(1);
  });

  it("answers a retry of a failed write with the same failure", () => {
    const store = newStore();
    store.apply([set("/f", 0, "x")]);
    const failed = applyOne(store, set("/f", 0, "y", "req-2"));
    expect(failed.error?.code).toBe("REV_MISMATCH");
    expect(applyOne(store, set("/f", 0, "y", "req-2"))).toEqual(failed);
    expect(store.rev).toBe(2);
  });

  it("dedups within one batch, for every kind of mutation", () => {
    const store = newStore();
    const outcomes = store.apply([
      nop("n"),
      nop("n"),
      set("/f", -1, "1", "s"),
      set("/f", -1, "2", "s"),
      del("/f", -1, "d"),
      del("/f", -1, "d"),
    ]);
    expect(outcomes.map((outcome) => outcome.rev)).toEqual([1, 1, 2, 2, 3, 3]);
    expect(store.rev).toBe(3);
  });

  it("never dedups an empty id", () => {
    const store = newStore();
    expect(store.apply([nop(""), nop(""), set("/f", -1, "x", ""), set("/f", -1, "x", "")])).toEqual([
      { rev: 1 },
      { rev: 2 },
      { rev: 3 },
      { rev: 4 },
    ]);
  });

  it("forgets the oldest ids beyond dedupMax", () => {
    const store = newStore({ dedupMax: 3 });
    store.apply([nop("a"), nop("b"), nop("c"), nop("d")]);
    expect(store.debugSizes().dedupIds).toBe(3);
    expect(applyOne(store, nop("d"))).toEqual({ rev: 4 });
    expect(applyOne(store, nop("b"))).toEqual({ rev: 2 });
    // `a` was evicted when `d` came: a retry of it applies again.
    expect(applyOne(store, nop("a"))).toEqual({ rev: 5 });
    // Remembering `a` again evicted `b`, the oldest.
    expect(applyOne(store, nop("b"))).toEqual({ rev: 6 });
    expect(store.debugSizes().dedupIds).toBe(3);
  });

  it("with dedupMax 0 remembers nothing", () => {
    const store = newStore({ dedupMax: 0 });
    expect(store.apply([nop("a"), nop("a")])).toEqual([{ rev: 1 }, { rev: 2 }]);
    expect(store.debugSizes().dedupIds).toBe(0);
  });

  it("keeps a remembered outcome safe from callers", () => {
    const store = newStore();
    const first = applyOne(store, set("/f", -1, "x", "id"));
    expect(() => {
      (first as { rev: number }).rev = 99;
    }).toThrow();
    expect(applyOne(store, set("/f", -1, "x", "id"))).toEqual({ rev: 1 });
  });
});

describe("events", () => {
  it("are made by every SET and by a DEL that removed a file, and by nothing else", () => {
    const store = newStore();
    store.apply([
      set("/a", 0, "x"), // 1: event
      set("/a", 1, "x"), // 2: event, same value
      nop(), // 3
      del("/missing", -1), // 4: removes nothing
      set("/a", 0, "y"), // 5: fails
      set("/a/b", -1, "y"), // 6: fails
      del("/a", 2), // 7: event
      del("/a", -1), // 8: nothing left to remove
      set("/d/e", 0, "z"), // 9: event
    ]);
    const summary = store.eventsFrom(0).map((event) => [event.rev, event.op, event.path, text(event.value)]);
    expect(summary).toEqual([
      [1, "set", "/a", "x"],
      [2, "set", "/a", "x"],
      [7, "del", "/a", ""],
      [9, "set", "/d/e", "z"],
    ]);
    expect(store.eventsFrom(3).map((event) => event.rev)).toEqual([7, 9]);
    expect(store.eventsFrom(9).map((event) => event.rev)).toEqual([9]);
    expect(store.eventsFrom(10)).toEqual([]);
  });

  const store = newStore();
  store.apply([
    set("/app/a", 0, "1"),
    set("/other", 0, "2"),
    nop(),
    set("/app/b/c", 0, "3"),
    del("/app/a", -1),
  ]);
  it.each([
    ["/**", 0, 1],
    ["/**", 1, 1],
    ["/**", 2, 2],
    ["/**", 3, 4],
    ["/app/**", 2, 4],
    ["/app/*", 0, 1],
    ["/app/*", 2, 5],
    ["/other", 0, 2],
    ["/other", 3, undefined],
    ["/nothing/**", 0, undefined],
    ["/**", 6, undefined],
    ["/**", 100, undefined],
  ])("firstEvent(%j, %i) is at rev %s", (glob, fromRev, rev) => {
    expect(store.firstEvent(glob, fromRev)?.rev).toBe(rev);
  });

  it("carry path, op and value", () => {
    expect(store.firstEvent("/app/**", 5)).toEqual({
      rev: 5,
      path: "/app/a",
      op: "del",
      value: new Uint8Array(),
    });
    expect(store.firstEvent("/app/b/*", 0)).toEqual({
      rev: 4,
      path: "/app/b/c",
      op: "set",
      value: bytes("3"),
    });
  });
});

describe("reads at a past rev", () => {
  // A path that is a file, then nothing, then a directory, then nothing again.
  const store = newStore();
  store.apply([
    set("/p", 0, "file"), // 1
    del("/p", 1), // 2
    set("/p/q", 0, "child"), // 3
    set("/p/q", 3, "child2"), // 4
    set("/z", 0, "z"), // 5
    del("/p/q", -1), // 6
    nop(), // 7
  ]);

  const expected: {
    rev: number;
    root: string[];
    p: unknown;
    pStat: { len: number; rev: number };
    pDir: unknown;
    q: unknown;
    walk: string[];
  }[] = [
    { rev: 0, root: [], p: "NOENT", pStat: { len: 0, rev: 0 }, pDir: "NOENT", q: "NOENT", walk: [] },
    {
      rev: 1,
      root: ["p"],
      p: { value: "file", rev: 1 },
      pStat: { len: 4, rev: 1 },
      pDir: "NOTDIR",
      q: "NOENT",
      walk: ["/p"],
    },
    { rev: 2, root: [], p: "NOENT", pStat: { len: 0, rev: 0 }, pDir: "NOENT", q: "NOENT", walk: [] },
    {
      rev: 3,
      root: ["p"],
      p: "ISDIR",
      pStat: { len: 1, rev: -2 },
      pDir: ["q"],
      q: { value: "child", rev: 3 },
      walk: ["/p/q"],
    },
    {
      rev: 4,
      root: ["p"],
      p: "ISDIR",
      pStat: { len: 1, rev: -2 },
      pDir: ["q"],
      q: { value: "child2", rev: 4 },
      walk: ["/p/q"],
    },
    {
      rev: 5,
      root: ["p", "z"],
      p: "ISDIR",
      pStat: { len: 1, rev: -2 },
      pDir: ["q"],
      q: { value: "child2", rev: 4 },
      walk: ["/p/q", "/z"],
    },
    { rev: 6, root: ["z"], p: "NOENT", pStat: { len: 0, rev: 0 }, pDir: "NOENT", q: "NOENT", walk: ["/z"] },
    { rev: 7, root: ["z"], p: "NOENT", pStat: { len: 0, rev: 0 }, pDir: "NOENT", q: "NOENT", walk: ["/z"] },
  ];

  const readFile = (path: string, rev: number) => {
    const result = attempt(() => store.get(path, rev));
    return "code" in result ? result.code : { value: text(result.ok.value), rev: result.ok.rev };
  };
  const readDir = (path: string, rev: number) => {
    const result = attempt(() => store.getdir(path, rev));
    return "code" in result ? result.code : result.ok;
  };

  it.each(expected)("see the tree exactly as it was at rev $rev", (want) => {
    expect(store.getdir("/", want.rev)).toEqual(want.root);
    expect(store.stat("/", want.rev)).toEqual({ len: want.root.length, rev: -2 });
    expect(readFile("/p", want.rev)).toEqual(want.p);
    expect(store.stat("/p", want.rev)).toEqual(want.pStat);
    expect(readDir("/p", want.rev)).toEqual(want.pDir);
    expect(readFile("/p/q", want.rev)).toEqual(want.q);
    expect(store.walk("/**", want.rev).map((file) => file.path)).toEqual(want.walk);
  });

  it("default to the current rev", () => {
    expect(store.getdir("/")).toEqual(store.getdir("/", 7));
    expect(store.walk("/**")).toEqual(store.walk("/**", 7));
  });

  it("beyond the current rev are a caller's bug, not a client's error", () => {
    for (const read of [
      () => store.get("/z", 8),
      () => store.stat("/z", 8),
      () => store.getdir("/", 8),
      () => store.walk("/**", 8),
    ]) {
      expect(read).toThrow(Error);
      let thrown: unknown;
      try {
        read();
      } catch (error) {
        thrown = error;
      }
      expect(thrown).not.toBeInstanceOf(CodedError);
    }
  });
});

describe("the history window", () => {
  it("reads oldestRev and refuses oldestRev - 1 with TOO_LATE", () => {
    const store = newStore({ historyRevs: 5 });
    store.apply([
      set("/f", 0, "1"),
      nop(),
      nop(),
      nop(),
      set("/g", 0, "e"),
      nop(),
      nop(),
      nop(),
      nop(),
      nop(),
    ]);
    expect(store.rev).toBe(10);
    expect(store.oldestRev).toBe(5);
    // The file written at rev 1 is still in force at rev 5.
    expect(store.get("/f", 5)).toEqual({ value: bytes("1"), rev: 1 });
    expect(store.getdir("/", 5)).toEqual(["f", "g"]);
    expect(store.eventsFrom(5).map((event) => event.rev)).toEqual([5]);
    expect(store.firstEvent("/**", 5)?.rev).toBe(5);
    for (const read of [
      () => store.get("/f", 4),
      () => store.stat("/f", 4),
      () => store.getdir("/", 4),
      () => store.walk("/**", 4),
      () => store.eventsFrom(4),
      () => store.firstEvent("/**", 4),
      () => store.get("/f", 0),
    ]) {
      expect(codeOf(read)).toBe("TOO_LATE");
    }
  });

  it("grows from 0 until historyRevs changes have been applied", () => {
    const store = newStore({ historyRevs: 3 });
    const oldest: number[] = [];
    for (let i = 0; i < 6; i++) {
      store.apply([nop()]);
      oldest.push(store.oldestRev);
    }
    expect(oldest).toEqual([0, 0, 0, 1, 2, 3]);
  });

  it("with historyRevs 0 keeps only the current rev", () => {
    const store = newStore({ historyRevs: 0 });
    store.apply([set("/f", 0, "1"), set("/f", 1, "2")]);
    expect(store.get("/f", 2)).toEqual({ value: bytes("2"), rev: 2 });
    expect(codeOf(() => store.get("/f", 1))).toBe("TOO_LATE");
    expect(store.eventsFrom(2)).toHaveLength(1);
    expect(store.debugSizes()).toMatchObject({ paths: 2, versions: 2, events: 1 });
  });

  it("uses historyRevsDefault (2000) when not told otherwise", () => {
    const store = newStore();
    store.apply(Array.from({ length: 2500 }, () => nop()));
    expect(store.oldestRev).toBe(500);
  });

  it("keeps few versions of a file overwritten 10,000 times", () => {
    const store = newStore({ historyRevs: 10 });
    for (let i = 0; i < 10_000; i++) store.apply([set("/hot", -1, `v${i}`)]);
    const sizes = store.debugSizes();
    expect(sizes.paths).toBe(2);
    expect(sizes.versions).toBeLessThanOrEqual(12);
    expect(sizes.pendingVersions).toBeLessThanOrEqual(11);
    expect(sizes.events).toBeLessThanOrEqual(11);
    expect(store.get("/hot", store.oldestRev)).toEqual({ value: bytes("v9989"), rev: 9990 });
  });

  it("forgets paths created and deleted long ago, with their directories", () => {
    const store = newStore({ historyRevs: 10 });
    store.apply([set("/keep/me", 0, "x")]);
    for (let i = 0; i < 5000; i++) store.apply([set(`/tmp/${i}/file`, 0, "x"), del(`/tmp/${i}/file`, -1)]);
    // The last delete is at rev oldestRev - 1 once 11 more revs are applied.
    store.apply(Array.from({ length: 11 }, () => nop()));
    // Root, /keep, /keep/me: everything else left the window.
    expect(store.debugSizes()).toMatchObject({ paths: 3, versions: 3, events: 0 });
    expect(store.getdir("/")).toEqual(["keep"]);
    expect(store.serialize()).toBe(`rev ${store.rev}\n/keep/me 1 78\n`);
  });

  it("keeps a live tree whole however old it is", () => {
    const store = newStore({ historyRevs: 4 });
    for (let i = 0; i < 300; i++) store.apply([set(`/d${i % 3}/f${i}`, 0, String(i))]);
    store.apply(Array.from({ length: 50 }, () => nop()));
    expect(store.debugSizes()).toMatchObject({ paths: 1 + 3 + 300, versions: 1 + 3 + 300 });
    expect(store.walk("/**")).toHaveLength(300);
    expect(store.getdir("/")).toEqual(["d0", "d1", "d2"]);
    expect(store.get("/d1/f4", store.oldestRev)).toEqual({ value: bytes("4"), rev: 5 });
  });
});

describe("walk", () => {
  const store = newStore();
  store.apply([
    set("/b", 0, "b"), // 1
    set("/a.x", 0, "a.x"), // 2
    set("/a/c/d", 0, "acd"), // 3
    set("/a-", 0, "a-"), // 4
    set("/a/b", 0, "ab"), // 5
    set("/a/c/e.json", 0, "json"), // 6
  ]);

  it("visits depth-first with each directory's entries in bytewise order", () => {
    // Sorting full paths would put /a- and /a.x before /a/b, since `-` and `.` sort before `/`.
    expect(store.walk("/**").map((file) => file.path)).toEqual([
      "/a/b",
      "/a/c/d",
      "/a/c/e.json",
      "/a-",
      "/a.x",
      "/b",
    ]);
  });

  it("answers path, rev and value", () => {
    expect(store.walk("/a/c/*")).toEqual([
      { path: "/a/c/d", rev: 3, value: bytes("acd") },
      { path: "/a/c/e.json", rev: 6, value: bytes("json") },
    ]);
  });

  it.each([
    ["/a/*", ["/a/b"]],
    ["/a/**", ["/a/b", "/a/c/d", "/a/c/e.json"]],
    ["/a*", ["/a-", "/a.x"]],
    ["/a**", ["/a/b", "/a/c/d", "/a/c/e.json", "/a-", "/a.x"]],
    ["/**/*.json", ["/a/c/e.json"]],
    ["/*/*/?", ["/a/c/d"]],
    ["/b", ["/b"]],
    ["/a", []],
    ["/a/c", []],
    ["/b/*", []],
    ["/", []],
    ["/missing/**", []],
  ])("%j finds %j", (glob, paths) => {
    expect(store.walk(glob).map((file) => file.path)).toEqual(paths);
  });

  it.each([
    [0, 2, ["/a/b", "/a/c/d"]],
    [2, 2, ["/a/c/e.json", "/a-"]],
    [4, 2, ["/a.x", "/b"]],
    [5, 10, ["/b"]],
    [6, 10, []],
    [100, 1, []],
    [1, 1, ["/a/c/d"]],
  ])("pages with offset %i and limit %i", (offset, limit, paths) => {
    expect(store.walk("/**", undefined, offset, limit).map((file) => file.path)).toEqual(paths);
  });

  it("pages at a past rev", () => {
    expect(store.walk("/**", 4, 1, 2).map((file) => file.path)).toEqual(["/a-", "/a.x"]);
  });

  it("answers at most 1,000 files by default", () => {
    const big = newStore();
    big.apply(Array.from({ length: 1200 }, (_, i) => set(`/many/${i}`, 0)));
    expect(big.walk("/**")).toHaveLength(1000);
    expect(big.walk("/**", undefined, 1000)).toHaveLength(200);
  });
});

describe("getdir paging", () => {
  const names = Array.from({ length: 26 }, (_, i) => String.fromCharCode(97 + i));
  const store = newStore();
  store.apply(names.map((name) => set(`/d/${name}`, 0)));

  it.each([
    [0, 1000, names],
    [0, 3, ["a", "b", "c"]],
    [3, 3, ["d", "e", "f"]],
    [24, 5, ["y", "z"]],
    [25, 1, ["z"]],
    [26, 1, []],
    [1000, 1000, []],
  ])("offset %i limit %i", (offset, limit, expected) => {
    expect(store.getdir("/d", undefined, offset, limit)).toEqual(expected);
  });

  it("pages over names deleted within the window, now and at a past rev", () => {
    const store = newStore();
    store.apply([
      set("/d/a", 0),
      set("/d/b", 0),
      set("/d/c", 0),
      set("/d/d", 0),
      del("/d/b", -1),
      set("/e", 0),
    ]);
    expect(store.getdir("/d", undefined, 1, 2)).toEqual(["c", "d"]);
    expect(store.getdir("/d", undefined, 0, 2)).toEqual(["a", "c"]);
    expect(store.getdir("/d", 4, 1, 2)).toEqual(["b", "c"]);
    expect(store.getdir("/d", 3, 2, 5)).toEqual(["c"]);
  });

  it("sorts names bytewise: digits, capitals, `-`, `.`", () => {
    const mixed = newStore();
    mixed.apply(
      ["b", "a", "B", "A", "10", "9", "-x", ".x", "a.b", "a-b", "ab"].map((name) => set(`/${name}`, 0)),
    );
    expect(mixed.getdir("/")).toEqual(["-x", ".x", "10", "9", "A", "B", "a", "a-b", "a.b", "ab", "b"]);
  });

  it("answers at most 1,000 names by default", () => {
    const big = newStore();
    big.apply(Array.from({ length: 1500 }, (_, i) => set(`/big/${i}`, 0)));
    expect(big.getdir("/big")).toHaveLength(1000);
    expect(big.getdir("/big", undefined, 1000)).toHaveLength(500);
    expect(big.stat("/big")).toEqual({ len: 1500, rev: -2 });
  });
});

describe("binary values", () => {
  const binary = Uint8Array.from([0xff, 0xfe, 0x00, 0xc3, 0x28, 0x80, 0x0a]);

  it("round-trip through get, walk, events and serialize", () => {
    const store = newStore();
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    store.apply([set("/bin", 0, binary), set("/all", 0, all)]);
    expect(store.get("/bin").value).toEqual(binary);
    expect(store.get("/all").value).toEqual(all);
    expect(store.walk("/bin")[0]?.value).toEqual(binary);
    expect(store.firstEvent("/bin", 0)?.value).toEqual(binary);
    expect(store.serialize()).toContain("/bin 1 fffe00c328800a\n");
  });

  it("are copied in, so a caller reusing its buffer changes nothing", () => {
    const store = newStore();
    const buffer = Uint8Array.from([1, 2, 3]);
    store.apply([set("/f", 0, buffer)]);
    buffer[0] = 9;
    expect(store.get("/f").value).toEqual(Uint8Array.from([1, 2, 3]));
  });

  it("store an empty value", () => {
    const store = newStore();
    store.apply([set("/empty", 0, new Uint8Array())]);
    expect(store.get("/empty")).toEqual({ value: new Uint8Array(), rev: 1 });
    expect(store.stat("/empty")).toEqual({ len: 0, rev: 1 });
    expect(store.serialize()).toBe("rev 1\n/empty 1 \n");
  });
});

// --- A naive model of SPEC §1 to check the store against on random histories ---

interface ModelFile {
  value: Uint8Array;
  rev: number;
}

/** Keeps every past tree as a whole copy: slow, obviously right. */
class Model {
  rev = 0;
  files = new Map<string, ModelFile>();
  trees: Map<string, ModelFile>[] = [new Map()];
  events: StoreEvent[] = [];
  outcomesById = new Map<string, MutationOutcome>();

  constructor(readonly dedupMax: number) {}

  apply(mutation: Mutation): MutationOutcome {
    const first = mutation.id === "" ? undefined : this.outcomesById.get(mutation.id);
    if (first !== undefined) return first;
    this.rev++;
    const outcome = this.execute(mutation);
    if (mutation.id !== "" && this.dedupMax > 0) {
      this.outcomesById.set(mutation.id, outcome);
      if (this.outcomesById.size > this.dedupMax) {
        this.outcomesById.delete([...this.outcomesById.keys()][0] as string);
      }
    }
    this.trees.push(new Map(this.files));
    return outcome;
  }

  private execute(mutation: Mutation): MutationOutcome {
    const rev = this.rev;
    if (mutation.op === "nop") return { rev };
    if (mutation.op !== "set" && mutation.op !== "del") throw new Error(`the model knows no ${mutation.op}`);
    const { path } = mutation;
    const fail = (code: "BAD_PATH" | "ISDIR" | "NOTDIR" | "REV_MISMATCH", fileRev?: number) => ({
      rev,
      code,
      fileRev,
    });
    let failure: { rev: number; code: string; fileRev?: number } | undefined;
    const fileRev = this.files.get(path)?.rev ?? 0;
    const revFails = mutation.rev !== -1 && mutation.rev < fileRev;
    if (!isValidPath(path)) failure = fail("BAD_PATH");
    else if (kindIn(this.files, path) === "dir") failure = fail("ISDIR");
    else if (mutation.op === "set" && ancestorFile(this.files, path)) failure = fail("NOTDIR");
    else if (revFails) failure = fail("REV_MISMATCH", fileRev);
    if (failure !== undefined) {
      const error: MutationOutcome["error"] = { code: failure.code as "ISDIR", message: "" };
      if (failure.fileRev !== undefined) error.rev = failure.fileRev;
      return { rev, error };
    }
    if (mutation.op === "set") {
      this.files.set(path, { value: mutation.value, rev });
      this.events.push({ rev, path, op: "set", value: mutation.value });
    } else if (this.files.delete(path)) {
      this.events.push({ rev, path, op: "del", value: new Uint8Array() });
    }
    return { rev };
  }
}

function kindIn(files: Map<string, ModelFile>, path: string): "file" | "dir" | "none" {
  if (files.has(path)) return "file";
  const prefix = path === "/" ? "/" : `${path}/`;
  if (path === "/" || [...files.keys()].some((file) => file.startsWith(prefix))) return "dir";
  return "none";
}

function ancestorFile(files: Map<string, ModelFile>, path: string): boolean {
  const names = splitPath(path);
  return names.slice(0, -1).some((_, i) => files.has(`/${names.slice(0, i + 1).join("/")}`));
}

/** Depth-first with bytewise entries is the same as comparing name lists name by name. */
function walkOrder(a: string, b: string): number {
  const left = splitPath(a);
  const right = splitPath(b);
  for (let i = 0; i < Math.min(left.length, right.length); i++) {
    const l = left[i] as string;
    const r = right[i] as string;
    if (l !== r) return l < r ? -1 : 1;
  }
  return left.length - right.length;
}

function hex(value: Uint8Array | undefined): string {
  return [...(value ?? [])].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

function modelReads(files: Map<string, ModelFile>, path: string, globs: string[]) {
  const kind = kindIn(files, path);
  const prefix = path === "/" ? "/" : `${path}/`;
  const entries = [
    ...new Set(
      [...files.keys()]
        .filter((file) => file.startsWith(prefix))
        .map((file) => file.slice(prefix.length).split("/")[0]),
    ),
  ].sort();
  const file = files.get(path);
  const walk = (glob: string) => {
    const pattern = compileGlob(glob);
    return [...files.keys()]
      .filter((name) => pattern.matches(name))
      .sort(walkOrder)
      .map((name) => ({ path: name, rev: files.get(name)?.rev, value: files.get(name)?.value }));
  };
  return {
    get: kind === "file" ? { value: file?.value, rev: file?.rev } : kind === "dir" ? "ISDIR" : "NOENT",
    stat:
      kind === "file"
        ? { len: file?.value.length, rev: file?.rev }
        : kind === "dir"
          ? { len: entries.length, rev: -2 }
          : { len: 0, rev: 0 },
    getdir: kind === "dir" ? entries : kind === "file" ? "NOTDIR" : "NOENT",
    page: kind === "dir" ? entries.slice(1, 3) : kind === "file" ? "NOTDIR" : "NOENT",
    walkPage: walk("/**").slice(1, 3),
    walks: globs.map(walk),
  };
}

function storeReads(store: Store, rev: number, path: string, globs: string[]) {
  const unwrap = <T>(result: { ok: T } | { code: string }) => ("code" in result ? result.code : result.ok);
  return {
    get: unwrap(attempt(() => store.get(path, rev))),
    stat: store.stat(path, rev),
    getdir: unwrap(attempt(() => store.getdir(path, rev))),
    page: unwrap(attempt(() => store.getdir(path, rev, 1, 2))),
    walkPage: store.walk("/**", rev, 1, 2),
    walks: globs.map((glob) => store.walk(glob, rev)),
  };
}

const universe = ["/", "/a", "/b", "/a/a", "/a/b", "/b/a", "/a/a/a", "/a/a/b", "/a.x", "/a-"];
const globs = ["/**", "/a/*", "/*", "/a/**", "/*/a", "/a?"];

/** A mutation whose rev may be "the file's rev now" or one older, resolved against the model when applied. */
const arbitraryStep = fc.record({
  op: fc.constantFrom("set", "set", "del", "nop"),
  path: fc.constantFrom(...universe, "/bad/"),
  rev: fc.oneof(
    fc.constantFrom<number | "current" | "older">(-3, -2, -1, 0, "current", "older"),
    fc.integer({ min: 1, max: 40 }),
  ),
  value: fc.uint8Array({ maxLength: 4 }),
  id: fc.constantFrom("", "", "", "x", "y", "z", "w"),
});
type Step = typeof arbitraryStep extends fc.Arbitrary<infer T> ? T : never;

function resolve(step: Step, model: Model): Mutation {
  const fileRev = model.files.get(step.path)?.rev ?? 0;
  const rev = step.rev === "current" ? fileRev : step.rev === "older" ? fileRev - 1 : step.rev;
  if (step.op === "nop") return { op: "nop", id: step.id };
  if (step.op === "del") return { op: "del", id: step.id, path: step.path, rev };
  return { op: "set", id: step.id, path: step.path, rev, value: step.value };
}

const withoutMessages = (outcomes: MutationOutcome[]) =>
  outcomes.map((outcome) =>
    outcome.error === undefined ? outcome : { ...outcome, error: { ...outcome.error, message: "" } },
  );

describe("against a naive model", () => {
  it("agrees on outcomes, every read at every rev in the window, events and TOO_LATE", () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(arbitraryStep, { minLength: 0, maxLength: 5 }), { maxLength: 14 }),
        fc.integer({ min: 0, max: 12 }),
        fc.integer({ min: 0, max: 3 }),
        (batches, historyRevs, dedupMax) => {
          const store = newStore({ historyRevs, dedupMax });
          const model = new Model(dedupMax);
          for (const steps of batches) {
            const batch = steps.map((step) => {
              const mutation = resolve(step, model);
              return { mutation, outcome: model.apply(mutation) };
            });
            const outcomes = store.apply(batch.map(({ mutation }) => mutation));
            expect(withoutMessages(outcomes)).toEqual(withoutMessages(batch.map(({ outcome }) => outcome)));
          }
          expect(store.rev).toBe(model.rev);
          expect(store.oldestRev).toBe(Math.max(0, model.rev - historyRevs));
          for (let rev = store.oldestRev; rev <= store.rev; rev++) {
            const tree = model.trees[rev] as Map<string, ModelFile>;
            for (const path of universe) {
              expect(storeReads(store, rev, path, globs)).toEqual(modelReads(tree, path, globs));
            }
            const events = model.events.filter((event) => event.rev >= rev);
            expect(store.eventsFrom(rev)).toEqual(events);
            for (const glob of globs) {
              const pattern = compileGlob(glob);
              expect(store.firstEvent(glob, rev)).toEqual(
                events.find((event) => pattern.matches(event.path)),
              );
            }
          }
          if (store.oldestRev > 0) {
            expect(codeOf(() => store.get("/a", store.oldestRev - 1))).toBe("TOO_LATE");
            expect(codeOf(() => store.eventsFrom(store.oldestRev - 1))).toBe("TOO_LATE");
          }
          const current = model.trees[model.rev] as Map<string, ModelFile>;
          const lines = [...current.keys()]
            .sort(walkOrder)
            .map((path) => `${path} ${current.get(path)?.rev} ${hex(current.get(path)?.value)}`);
          expect(store.serialize()).toBe([`rev ${model.rev}`, ...lines, ""].join("\n"));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("determinism", () => {
  it("two stores fed the same batches hold the same state and give the same outcomes, however batched", () => {
    const arbitraryMutation: fc.Arbitrary<Mutation> = fc.oneof(
      fc.record({
        op: fc.constant("set" as const),
        id: fc.constantFrom("", "p", "q"),
        path: fc.constantFrom(...universe),
        rev: fc.integer({ min: -2, max: 30 }),
        value: fc.uint8Array({ maxLength: 3 }),
      }),
      fc.record({
        op: fc.constant("del" as const),
        id: fc.constantFrom("", "p", "r"),
        path: fc.constantFrom(...universe),
        rev: fc.integer({ min: -2, max: 30 }),
      }),
      fc.record({ op: fc.constant("nop" as const), id: fc.constantFrom("", "s") }),
    );
    fc.assert(
      fc.property(fc.array(fc.array(arbitraryMutation, { maxLength: 6 }), { maxLength: 12 }), (batches) => {
        const one = newStore({ historyRevs: 7 });
        const two = newStore({ historyRevs: 7 });
        const unbatched = newStore({ historyRevs: 7 });
        for (const batch of batches) {
          const outcomes = one.apply(batch);
          expect(two.apply(batch)).toEqual(outcomes);
          expect(batch.flatMap((mutation) => unbatched.apply([mutation]))).toEqual(outcomes);
        }
        expect(two.serialize()).toBe(one.serialize());
        expect(unbatched.serialize()).toBe(one.serialize());
        expect(two.debugSizes()).toEqual(one.debugSizes());
      }),
      { numRuns: 300 },
    );
  });
});
