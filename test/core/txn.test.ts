// SPEC §7 as the store decides it, and §8's NOSPACE on a transaction; then a
// naive model of the whole store (files, owners, sessions, transactions) that
// random logs are checked against, and replay of the encoded log.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compileGlob } from "../../core/glob";
import {
  decodeBatch,
  encodeBatch,
  type Mutation,
  type MutationError,
  type MutationOutcome,
  type TxnCheck,
  type TxnOp,
} from "../../core/mutation";
import { isValidPath, splitPath } from "../../core/path";
import type { Store, StoreEvent } from "../../core/store";
import { newStore } from "./store-factory";

const bytes = (text: string) => new TextEncoder().encode(text);

const setOp = (path: string, rev: number, value = "", session?: string): TxnOp =>
  session === undefined
    ? { op: "set", path, rev, value: bytes(value) }
    : { op: "set", path, rev, value: bytes(value), session };
const delOp = (path: string, rev: number): TxnOp => ({ op: "del", path, rev });
const txn = (checks: TxnCheck[], ops: TxnOp[], id = ""): Mutation => ({ op: "txn", id, checks, ops });
const set = (path: string, rev: number, value = ""): Mutation => ({
  op: "set",
  id: "",
  path,
  rev,
  value: bytes(value),
});

function applyOne(store: Store, mutation: Mutation): MutationOutcome {
  const [outcome] = store.apply([mutation]);
  if (outcome === undefined) throw new Error("no outcome");
  return outcome;
}

function treeOf(store: Store): string {
  return store.serialize().split("\n").slice(1).join("\n");
}

/**
 * Store at rev 5: `/f` rev 3 ("old"), `/a/b/c` rev 4, `/a/d` rev 5, session
 * S open (rev 1), `/e` owned by S at rev 2.
 */
function storeWithFiles(options = {}): Store {
  const store = newStore(options);
  store.apply([
    { op: "session-open", id: "", session: "S", ttlMs: 15_000 },
    { op: "set", id: "", path: "/e", rev: 0, value: bytes("e"), session: "S" },
    set("/f", 0, "old"),
    set("/a/b/c", 0, "c"),
    set("/a/d", 0, "d"),
  ]);
  return store;
}

describe("a transaction that passes", () => {
  it("applies its ops in order in consecutive revs and answers one result per op", () => {
    const store = storeWithFiles();
    const outcome = applyOne(
      store,
      txn(
        [{ path: "/f", rev: 3 }],
        [setOp("/x", 0, "1"), setOp("/x", 6, "2"), delOp("/a/d", 5), setOp("/y", -1, "", "S")],
      ),
    );
    expect(outcome).toEqual({
      rev: 9,
      revsConsumed: 4,
      results: [
        { path: "/x", rev: 6 },
        { path: "/x", rev: 7 },
        { path: "/a/d", rev: 8 },
        { path: "/y", rev: 9 },
      ],
    });
    expect(store.rev).toBe(9);
    expect(store.eventsFrom(6)).toEqual([
      { rev: 6, path: "/x", op: "set", value: bytes("1") },
      { rev: 7, path: "/x", op: "set", value: bytes("2") },
      { rev: 8, path: "/a/d", op: "del", value: new Uint8Array() },
      { rev: 9, path: "/y", op: "set", value: bytes(""), session: "S" },
    ]);
    // A read at an explicit rev inside the range sees the ops up to that rev.
    expect(store.get("/x", 6)).toEqual({ value: bytes("1"), rev: 6 });
    expect(store.getdir("/a", 7)).toEqual(["b", "d"]);
    expect(store.getdir("/a", 8)).toEqual(["b"]);
    expect(store.session("S")?.files).toEqual(["/e", "/y"]);
  });

  it("with checks only consumes one rev and answers no results", () => {
    const store = storeWithFiles();
    const tree = treeOf(store);
    expect(
      applyOne(
        store,
        txn(
          [
            { path: "/f", rev: 3 },
            { path: "/none", rev: 0 },
          ],
          [],
        ),
      ),
    ).toEqual({
      rev: 6,
      results: [],
    });
    expect(store.rev).toBe(6);
    expect(treeOf(store)).toBe(tree);
  });

  it("with one op consumes one rev", () => {
    const store = storeWithFiles();
    expect(applyOne(store, txn([], [setOp("/f", 3, "new")]))).toEqual({
      rev: 6,
      results: [{ path: "/f", rev: 6 }],
    });
  });

  it("consumes a rev for a del of a missing file, which makes no event", () => {
    const store = storeWithFiles();
    expect(applyOne(store, txn([], [delOp("/none", -1), setOp("/n", 0)]))).toEqual({
      rev: 7,
      revsConsumed: 2,
      results: [
        { path: "/none", rev: 6 },
        { path: "/n", rev: 7 },
      ],
    });
    expect(store.eventsFrom(6).map((event) => event.rev)).toEqual([7]);
  });

  it("lets later ops see earlier ones: a file deleted then a directory in its place, and back", () => {
    const store = storeWithFiles();
    const outcome = applyOne(
      store,
      txn([], [delOp("/f", 3), setOp("/f/g", 0, "below"), delOp("/f/g", 7), setOp("/f", 0, "file again")]),
    );
    expect(outcome.error).toBeUndefined();
    expect(store.get("/f")).toEqual({ value: bytes("file again"), rev: 9 });
    expect(store.getdir("/f", 7)).toEqual(["g"]);
    // Deleting /a/b/c and /a/d empties /a, which a later op may then write as a file.
    expect(
      applyOne(store, txn([], [delOp("/a/b/c", -1), delOp("/a/d", -1), setOp("/a", 0, "now a file")])).error,
    ).toBeUndefined();
    expect(store.get("/a").rev).toBe(12);
  });
});

interface FailureCase {
  name: string;
  checks: TxnCheck[];
  ops: TxnOp[];
  error: Omit<MutationError, "message">;
}

// In storeWithFiles: `/f` rev 3, `/a/b/c` rev 4, `/a/d` rev 5, `/e` rev 2 owned by S; `/`, `/a`, `/a/b` directories.
const failures: FailureCase[] = [
  {
    name: "a check with an older rev",
    checks: [{ path: "/f", rev: 2 }],
    ops: [setOp("/x", 0)],
    error: { code: "REV_MISMATCH", path: "/f", rev: 3, check: 0 },
  },
  {
    name: "a check with a newer rev (stricter than a write)",
    checks: [{ path: "/f", rev: 4 }],
    ops: [],
    error: { code: "REV_MISMATCH", path: "/f", rev: 3, check: 0 },
  },
  {
    name: "a check with rev 0 on an existing file",
    checks: [{ path: "/f", rev: 0 }],
    ops: [],
    error: { code: "REV_MISMATCH", path: "/f", rev: 3, check: 0 },
  },
  {
    name: "a check with a rev on a missing file",
    checks: [{ path: "/none", rev: 3 }],
    ops: [],
    error: { code: "REV_MISMATCH", path: "/none", rev: 0, check: 0 },
  },
  {
    name: "a check with a rev below a file",
    checks: [{ path: "/f/g", rev: 3 }],
    ops: [],
    error: { code: "REV_MISMATCH", path: "/f/g", rev: 0, check: 0 },
  },
  {
    name: "a check on a directory",
    checks: [{ path: "/a", rev: 0 }],
    ops: [],
    error: { code: "ISDIR", path: "/a", rev: -2, check: 0 },
  },
  {
    name: "a check on the root",
    checks: [{ path: "/", rev: 0 }],
    ops: [],
    error: { code: "ISDIR", path: "/", rev: -2, check: 0 },
  },
  {
    name: "a check with a malformed path",
    checks: [{ path: "/a/", rev: 0 }],
    ops: [],
    error: { code: "BAD_PATH", path: "/a/", check: 0 },
  },
  {
    name: "the second check, the first failure in order",
    checks: [
      { path: "/f", rev: 3 },
      { path: "/a/d", rev: 4 },
      { path: "/a", rev: 0 },
    ],
    ops: [],
    error: { code: "REV_MISMATCH", path: "/a/d", rev: 5, check: 1 },
  },
  {
    name: "a check that fails before an op that fails",
    checks: [{ path: "/f", rev: 1 }],
    ops: [setOp("/a", -1)],
    error: { code: "REV_MISMATCH", path: "/f", rev: 3, check: 0 },
  },
  {
    name: "a check against the tree before the ops, not after",
    checks: [{ path: "/x", rev: 6 }],
    ops: [setOp("/x", 0)],
    error: { code: "REV_MISMATCH", path: "/x", rev: 0, check: 0 },
  },
  {
    name: "an op's own rev check",
    checks: [],
    ops: [setOp("/x", 0), setOp("/f", 2)],
    error: { code: "REV_MISMATCH", path: "/f", rev: 3, op: 1 },
  },
  {
    name: "an op that sees an earlier op's write",
    checks: [],
    ops: [setOp("/x", 0), setOp("/x", 0)],
    error: { code: "REV_MISMATCH", path: "/x", rev: 6, op: 1 },
  },
  {
    name: "an op on a directory",
    checks: [],
    ops: [delOp("/a/b", -1)],
    error: { code: "ISDIR", path: "/a/b", rev: -2, op: 0 },
  },
  {
    name: "an op on a directory an earlier op made",
    checks: [],
    ops: [setOp("/n/m", 0), setOp("/n", -1)],
    error: { code: "ISDIR", path: "/n", rev: -2, op: 1 },
  },
  {
    name: "an op below a file",
    checks: [],
    ops: [setOp("/f/g", -1)],
    error: { code: "NOTDIR", path: "/f/g", rev: 0, op: 0 },
  },
  {
    name: "an op below a file an earlier op made",
    checks: [],
    ops: [setOp("/n", 0), setOp("/n/m", 0)],
    error: { code: "NOTDIR", path: "/n/m", rev: 0, op: 1 },
  },
  {
    name: "an op under a session that is not alive, before its other checks",
    checks: [],
    ops: [setOp("/a", 0, "", "T")],
    error: { code: "NOSESSION", path: "/a", rev: -2, op: 0 },
  },
  {
    name: "an op with a malformed path",
    checks: [],
    ops: [setOp("/ok", 0), delOp("/no//", -1)],
    error: { code: "BAD_PATH", path: "/no//", op: 1 },
  },
  {
    name: "an op with a value over the limit",
    checks: [],
    ops: [{ op: "set", path: "/f", rev: -1, value: new Uint8Array(1024 * 1024 + 1) }],
    error: { code: "TOO_LARGE", path: "/f", rev: 3, op: 0 },
  },
];

describe("a transaction that fails", () => {
  it.each(failures)("at $name changes nothing and consumes one rev", ({ checks, ops, error }) => {
    const store = storeWithFiles();
    const tree = treeOf(store);
    const sessions = store.sessions();
    const outcome = applyOne(store, txn(checks, ops));
    expect(outcome).toEqual({ rev: 6, error: { ...error, message: expect.any(String) } });
    expect(store.rev).toBe(6);
    expect(treeOf(store)).toBe(tree);
    expect(store.sessions()).toEqual(sessions);
    expect(store.eventsFrom(6)).toEqual([]);
    expect(store.getdir("/", 6)).toEqual(["a", "e", "f"]);
  });

  it("with NOSPACE when its net change grows live data past the limit; error.op is its last op", () => {
    // Live now: /e 2+1, /f 2+3, /a/b/c 6+1, /a/d 4+1 = 20 bytes.
    const store = storeWithFiles({ storeBytesMax: 25 });
    expect(store.liveBytes).toBe(20);
    const outcome = applyOne(
      store,
      txn([], [setOp("/g", 0, "123"), setOp("/f", 3, "12345"), delOp("/none", -1)]),
    );
    expect(outcome).toEqual({
      rev: 6,
      error: { code: "NOSPACE", message: expect.any(String), path: "/none", rev: 0, op: 2 },
    });
    expect(store.liveBytes).toBe(20);
  });

  it("with NOSPACE telling the rev its last op saw of its file", () => {
    const store = storeWithFiles({ storeBytesMax: 20 });
    const outcome = applyOne(store, txn([], [setOp("/g", 0, "1"), setOp("/f", 3, "new")]));
    expect(outcome.error).toMatchObject({ code: "NOSPACE", path: "/f", rev: 3, op: 1 });
    const again = applyOne(store, txn([], [setOp("/f", 3, "longer"), setOp("/f", -1, "longest")]));
    expect(again.error).toMatchObject({ code: "NOSPACE", path: "/f", rev: 7, op: 1 });
  });

  it("not with NOSPACE when an op past the limit is made up by a later one", () => {
    const store = storeWithFiles({ storeBytesMax: 20 });
    const outcome = applyOne(
      store,
      txn([], [setOp("/g", 0, "12345678"), delOp("/a/b/c", -1), delOp("/f", -1)]),
    );
    expect(outcome.error).toBeUndefined();
    expect(store.liveBytes).toBe(20 - 7 - 5 + 10);
  });

  it("is answered once: a retry with the same id gets the first outcome", () => {
    const store = storeWithFiles();
    const first = applyOne(store, txn([], [setOp("/x", 0), setOp("/y", 0)], "t1"));
    expect(applyOne(store, txn([], [setOp("/x", 0), setOp("/y", 0)], "t1"))).toStrictEqual(first);
    expect(store.rev).toBe(7);
    expect(Object.isFrozen(first.results?.[0])).toBe(true);
  });
});

// --- A naive model of the whole store: whole-tree copies, obviously right ---

interface ModelFile {
  value: Uint8Array;
  rev: number;
  session?: string;
}
type Files = Map<string, ModelFile>;

function kindIn(files: Files, path: string): "file" | "dir" | "none" {
  if (files.has(path)) return "file";
  if (path === "/" || [...files.keys()].some((file) => file.startsWith(`${path}/`))) return "dir";
  return "none";
}

function ancestorFile(files: Files, path: string): boolean {
  const names = splitPath(path);
  return names.slice(0, -1).some((_, i) => files.has(`/${names.slice(0, i + 1).join("/")}`));
}

function liveBytes(files: Files): number {
  let total = 0;
  for (const [path, file] of files) total += path.length + file.value.length;
  return total;
}

function seen(files: Files, path: string): number {
  return kindIn(files, path) === "dir" ? -2 : (files.get(path)?.rev ?? 0);
}

class Model {
  rev = 0;
  files: Files = new Map();
  sessions = new Map<string, number>();
  /** The tree at every rev. */
  trees: Files[] = [new Map()];
  events: StoreEvent[] = [];
  outcomesById = new Map<string, MutationOutcome>();

  constructor(readonly bytesMax: number) {}

  apply(mutation: Mutation): MutationOutcome {
    const first = mutation.id === "" ? undefined : this.outcomesById.get(mutation.id);
    if (first !== undefined) return first;
    const outcome = this.execute(mutation);
    if (mutation.id !== "") this.outcomesById.set(mutation.id, outcome);
    return outcome;
  }

  private consume(): number {
    this.rev++;
    this.trees.push(new Map(this.files));
    return this.rev;
  }

  /** Checks one op against `files` and writes it there; the error without its message. */
  private op(files: Files, op: TxnOp, rev: number): Omit<MutationError, "message"> | undefined {
    const session = op.op === "set" ? op.session : undefined;
    if (session !== undefined && !this.sessions.has(session)) {
      return isValidPath(op.path) ? { code: "NOSESSION", rev: seen(files, op.path) } : { code: "NOSESSION" };
    }
    if (!isValidPath(op.path)) return { code: "BAD_PATH" };
    if (kindIn(files, op.path) === "dir") return { code: "ISDIR", rev: -2 };
    if (op.op === "set" && ancestorFile(files, op.path)) return { code: "NOTDIR", rev: 0 };
    const fileRev = files.get(op.path)?.rev ?? 0;
    if (op.rev !== -1 && op.rev < fileRev) return { code: "REV_MISMATCH", rev: fileRev };
    if (op.op === "set") files.set(op.path, { value: op.value, rev, ...(session ? { session } : {}) });
    else files.delete(op.path);
    return undefined;
  }

  private commit(before: Files, after: Files, path: string, rev: number): void {
    this.files = new Map(after);
    this.trees[rev] = new Map(after);
    const file = after.get(path);
    if (file !== undefined) {
      this.events.push({
        rev,
        path,
        op: "set",
        value: file.value,
        ...(file.session ? { session: file.session } : {}),
      });
    } else if (before.has(path)) {
      this.events.push({ rev, path, op: "del", value: new Uint8Array() });
    }
  }

  private execute(mutation: Mutation): MutationOutcome {
    switch (mutation.op) {
      case "nop":
        return { rev: this.consume() };
      case "keeper-claim":
      case "leader-move":
        return { rev: this.rev, revsConsumed: 0 };
      case "session-open": {
        const rev = this.consume();
        if (this.sessions.has(mutation.session))
          return { rev, session: mutation.session, error: err("OTHER") };
        this.sessions.set(mutation.session, mutation.ttlMs);
        return { rev, session: mutation.session, ttlMs: mutation.ttlMs };
      }
      case "session-end": {
        const { session } = mutation;
        if (!this.sessions.has(session))
          return { rev: this.rev, revsConsumed: 0, session, error: err("NOSESSION") };
        this.sessions.delete(session);
        const owned = [...this.files.keys()]
          .filter((path) => this.files.get(path)?.session === session)
          .sort();
        if (owned.length === 0) return { rev: this.consume(), session };
        for (const path of owned) {
          const before = this.files;
          const after = new Map(before);
          after.delete(path);
          this.commit(before, after, path, this.consume());
        }
        return { rev: this.rev, session, ...(owned.length === 1 ? {} : { revsConsumed: owned.length }) };
      }
      case "set":
      case "del": {
        const rev = this.consume();
        const after = new Map(this.files);
        const failed = this.op(after, mutation, rev);
        const grows = liveBytes(after) - liveBytes(this.files);
        if (failed !== undefined) {
          return {
            rev,
            error: failed.code === "REV_MISMATCH" ? err(failed.code, failed.rev) : err(failed.code),
          };
        }
        if (grows > 0 && liveBytes(after) > this.bytesMax) return { rev, error: err("NOSPACE") };
        this.commit(this.files, after, mutation.path, rev);
        return { rev };
      }
      case "txn": {
        const firstRev = this.rev + 1;
        const fail = (error: Omit<MutationError, "message">): MutationOutcome => {
          this.consume();
          return { rev: firstRev, error: { ...error, message: "" } };
        };
        for (const [index, check] of mutation.checks.entries()) {
          const { path } = check;
          if (!isValidPath(path)) return fail({ code: "BAD_PATH", path, check: index });
          if (kindIn(this.files, path) === "dir") return fail({ code: "ISDIR", path, rev: -2, check: index });
          const fileRev = this.files.get(path)?.rev ?? 0;
          if (fileRev !== check.rev) return fail({ code: "REV_MISMATCH", path, rev: fileRev, check: index });
        }
        const stages: Files[] = [];
        let work = new Map(this.files);
        let lastSeen = 0;
        for (const [index, op] of mutation.ops.entries()) {
          lastSeen = isValidPath(op.path) ? seen(work, op.path) : 0;
          work = new Map(work);
          const failed = this.op(work, op, firstRev + index);
          if (failed !== undefined) return fail({ ...failed, path: op.path, op: index });
          stages.push(work);
        }
        const last = mutation.ops.length - 1;
        const grows = liveBytes(work) - liveBytes(this.files);
        if (grows > 0 && liveBytes(work) > this.bytesMax) {
          return fail({ code: "NOSPACE", path: mutation.ops[last]?.path, rev: lastSeen, op: last });
        }
        if (mutation.ops.length === 0) return { rev: this.consume(), results: [] };
        const results = mutation.ops.map((op, index) => {
          const rev = this.consume();
          this.commit(this.files, stages[index] as Files, op.path, rev);
          return { path: op.path, rev };
        });
        return { rev: this.rev, results, ...(results.length === 1 ? {} : { revsConsumed: results.length }) };
      }
    }
  }

  serialize(): string {
    const lines = [...this.files.keys()].sort(walkOrder).map((path) => {
      const file = this.files.get(path) as ModelFile;
      return `${path} ${file.rev} ${hex(file.value)}${file.session ? ` ${file.session}` : ""}`;
    });
    const sessions = [...this.sessions.keys()].sort().map((id) => `session ${id} ${this.sessions.get(id)}`);
    return [`rev ${this.rev}`, ...lines, ...sessions, ""].join("\n");
  }
}

function err(code: MutationError["code"], rev?: number): MutationError {
  return rev === undefined ? { code, message: "" } : { code, message: "", rev };
}

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

function hex(value: Uint8Array): string {
  return [...value].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

const withoutMessages = (outcomes: MutationOutcome[]) =>
  outcomes.map((outcome) =>
    outcome.error === undefined ? outcome : { ...outcome, error: { ...outcome.error, message: "" } },
  );

const universe = ["/", "/a", "/b", "/a/a", "/a/b", "/b/a", "/a/a/a", "/a-", "/bad/"];
const sessionIds = ["s", "t"];

/** Revs are resolved against the model when applied: "current" is the file's rev then, "older" one less. */
const arbitraryRev = fc.oneof(
  fc.constantFrom<number | "current" | "older">(-2, -1, 0, "current", "current", "older"),
  fc.integer({ min: 1, max: 30 }),
);
const arbitraryOp = fc.record({
  op: fc.constantFrom("set" as const, "set" as const, "del" as const),
  path: fc.constantFrom(...universe),
  rev: arbitraryRev,
  value: fc.uint8Array({ maxLength: 4 }),
  session: fc.option(fc.constantFrom(...sessionIds), { nil: undefined, freq: 2 }),
});
const arbitraryStep = fc.oneof(
  { weight: 6, arbitrary: arbitraryOp.map((op) => ({ kind: "write" as const, op })) },
  { weight: 1, arbitrary: fc.constant({ kind: "nop" as const }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("open" as const), session: fc.constantFrom(...sessionIds) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("end" as const), session: fc.constantFrom(...sessionIds) }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("txn" as const),
      checks: fc.array(fc.record({ path: fc.constantFrom(...universe), rev: arbitraryRev }), {
        maxLength: 2,
      }),
      ops: fc.array(arbitraryOp, { maxLength: 4 }),
    }),
  },
);
type Step = typeof arbitraryStep extends fc.Arbitrary<infer T> ? T : never;
// Mostly no id: a repeated id applies once, so ids would waste most steps.
const arbitraryId = fc.oneof(
  { weight: 8, arbitrary: fc.constant("") },
  { weight: 1, arbitrary: fc.constantFrom("x", "y") },
);

function resolveRev(rev: number | "current" | "older", path: string, model: Model): number {
  const fileRev = model.files.get(path)?.rev ?? 0;
  return rev === "current" ? fileRev : rev === "older" ? fileRev - 1 : rev;
}

function resolveOp(op: Step & { kind: "write" } extends { op: infer O } ? O : never, model: Model): TxnOp {
  const rev = resolveRev(op.rev, op.path, model);
  if (op.op === "del") return { op: "del", path: op.path, rev };
  return op.session === undefined
    ? { op: "set", path: op.path, rev, value: op.value }
    : { op: "set", path: op.path, rev, value: op.value, session: op.session };
}

function resolve(step: Step, id: string, model: Model): Mutation {
  switch (step.kind) {
    case "nop":
      return { op: "nop", id };
    case "open":
      return { op: "session-open", id, session: step.session, ttlMs: 1000 + step.session.length };
    case "end":
      return { op: "session-end", id, session: step.session };
    case "write":
      return { ...resolveOp(step.op, model), id };
    case "txn":
      return {
        op: "txn",
        id,
        checks: step.checks.map((check) => ({
          path: check.path,
          rev: resolveRev(check.rev, check.path, model),
        })),
        ops: step.ops.map((op) => resolveOp(op, model)),
      };
  }
}

const validPaths = universe.filter(isValidPath);

describe("against a naive model", () => {
  it("agrees on outcomes, owners, reads at every rev, events, sessions and serialize; replay agrees too", () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.tuple(arbitraryStep, arbitraryId), { maxLength: 5 }), { maxLength: 12 }),
        // Mostly room to spare, so that files live long enough for sessions to own several.
        fc.oneof(
          { weight: 1, arbitrary: fc.integer({ min: 0, max: 30 }) },
          { weight: 2, arbitrary: fc.constant(1000) },
        ),
        (batches, bytesMax) => {
          const store = newStore({ storeBytesMax: bytesMax, historyRevs: 1000 });
          const model = new Model(bytesMax);
          const log: Uint8Array[] = [];
          const allOutcomes: MutationOutcome[] = [];
          // Both sessions open first, so that files have owners to lose.
          const prelude: [Step, string][] = sessionIds.map((session) => [{ kind: "open", session }, ""]);
          for (const steps of [prelude, ...batches]) {
            const batch = steps.map(([step, id]) => {
              const mutation = resolve(step, id, model);
              return { mutation, outcome: model.apply(mutation) };
            });
            const mutations = batch.map(({ mutation }) => mutation);
            const outcomes = store.apply(mutations);
            expect(withoutMessages(outcomes)).toEqual(withoutMessages(batch.map(({ outcome }) => outcome)));
            log.push(encodeBatch(mutations));
            allOutcomes.push(...outcomes);
          }
          expect(store.rev).toBe(model.rev);
          expect(store.serialize()).toBe(model.serialize());
          expect(store.liveBytes).toBe(liveBytes(model.files));
          expect(store.sessions()).toEqual(
            [...model.sessions.keys()].sort().map((session) => ({
              session,
              ttlMs: model.sessions.get(session),
              files: [...model.files.keys()]
                .filter((path) => model.files.get(path)?.session === session)
                .sort(),
            })),
          );
          for (let rev = 0; rev <= store.rev; rev++) {
            const tree = model.trees[rev] as Files;
            for (const path of validPaths) {
              const file = tree.get(path);
              if (file !== undefined) {
                expect(store.get(path, rev)).toEqual(file);
                expect(store.stat(path, rev)).toEqual({
                  len: file.value.length,
                  rev: file.rev,
                  ...(file.session ? { session: file.session } : {}),
                });
              } else if (kindIn(tree, path) === "none") {
                expect(store.stat(path, rev)).toEqual({ len: 0, rev: 0 });
              } else {
                expect(store.stat(path, rev).rev).toBe(-2);
              }
            }
            const pattern = compileGlob("/**");
            expect(store.walk("/**", rev)).toEqual(
              [...tree.keys()]
                .filter((path) => pattern.matches(path))
                .sort(walkOrder)
                .map((path) => ({ path, ...(tree.get(path) as ModelFile) })),
            );
            expect(store.eventsFrom(rev)).toEqual(model.events.filter((event) => event.rev >= rev));
          }
          // Replaying the encoded log into a fresh store gives the same outcomes and the same text.
          const replica = newStore({ storeBytesMax: bytesMax, historyRevs: 1000 });
          const replayed = log.flatMap((batch) => replica.apply(decodeBatch(batch)));
          expect(replayed).toEqual(allOutcomes);
          expect(replica.serialize()).toBe(store.serialize());
          expect(replica.debugSizes()).toEqual(store.debugSizes());
        },
      ),
      { numRuns: 300 },
    );
  });
});
