// Transactions (SPEC §7), black-box over HTTP (POST /v1/txn) and the WebSocket
// (verb TXN), against the real Worker and acceptor Durable Objects.
//
// Tests in this file run one after another on one store, so a test may compare
// the store rev before and after what it does; each uses its own fresh paths.

import { describe, expect, it } from "vitest";
import { api, type Frame, freshPath, json, openSocket, sleep, storeRev, text, until, write } from "./helpers";

interface TxnError {
  code: string;
  message: string;
  storeRev?: number;
  path?: string;
  rev?: number;
  check?: number;
  op?: number;
}

function txn(body: unknown): Promise<Response> {
  return api("/v1/txn", { method: "POST", body: typeof body === "string" ? body : JSON.stringify(body) });
}

async function ok(body: unknown): Promise<{ rev: number; results: { path: string; rev: number }[] }> {
  const response = await txn(body);
  const answer = await json<{ rev: number; results: { path: string; rev: number }[] }>(response);
  expect(response.status, JSON.stringify(answer)).toBe(200);
  return answer;
}

async function fails(body: unknown, status: number, code: string): Promise<TxnError> {
  const response = await txn(body);
  const answer = (await response.json()) as { error: TxnError };
  expect({ status: response.status, code: answer.error?.code }).toEqual({ status, code });
  expect(answer.error.message.length).toBeGreaterThan(0);
  return answer.error;
}

/** A failure that was decided: one rev consumed, nothing changed. Returns the error. */
async function failsDecided(body: unknown, status: number, code: string): Promise<TxnError> {
  const before = await storeRev();
  const error = await fails(body, status, code);
  expect(error.storeRev).toBe(before + 1);
  expect(await storeRev()).toBe(before + 1);
  return error;
}

/** A refusal before deciding: no rev consumed. */
async function refused(body: unknown, status: number, code: string): Promise<TxnError> {
  const before = await storeRev();
  const error = await fails(body, status, code);
  expect(error.storeRev).toBeUndefined();
  expect(await storeRev()).toBe(before);
  return error;
}

async function read(path: string): Promise<{ status: number; value: string; rev: string | null }> {
  const response = await api(`/v1/files${path}`);
  return { status: response.status, value: await text(response), rev: response.headers.get("Doozer-Rev") };
}

async function openSession(): Promise<string> {
  const response = await api("/v1/sessions", { method: "POST" });
  expect(response.status).toBe(200);
  return (await json<{ session: string }>(response)).session;
}

// --- Success ---

describe("a transaction that passes", () => {
  it("applies its ops in order in consecutive revs and answers {rev: lastRev, results}", async () => {
    const dir = freshPath("ok");
    const owner = await write(`${dir}/owner`, "me");
    await write(`${dir}/old`, "old");
    const before = await storeRev();
    const answer = await ok({
      checks: [{ path: `${dir}/owner`, rev: owner }],
      ops: [
        { op: "set", path: `${dir}/config`, rev: -1, value: "v2" },
        { op: "set", path: `${dir}/lease`, rev: 0, value: "eA==", encoding: "base64" },
        { op: "del", path: `${dir}/old`, rev: -1 },
      ],
    });
    expect(answer).toEqual({
      rev: before + 3,
      results: [
        { path: `${dir}/config`, rev: before + 1 },
        { path: `${dir}/lease`, rev: before + 2 },
        { path: `${dir}/old`, rev: before + 3 },
      ],
    });
    expect(await storeRev()).toBe(before + 3);
    expect(await read(`${dir}/config`)).toEqual({ status: 200, value: "v2", rev: String(before + 1) });
    expect(await read(`${dir}/lease`)).toEqual({ status: 200, value: "x", rev: String(before + 2) });
    expect((await read(`${dir}/old`)).status).toBe(404);
  });

  it("a read at an explicit rev inside the range sees the ops up to that rev", async () => {
    const dir = freshPath("mid");
    const before = await storeRev();
    await ok({
      ops: [
        { op: "set", path: `${dir}/a`, rev: 0, value: "1" },
        { op: "set", path: `${dir}/b`, rev: 0, value: "2" },
        { op: "set", path: `${dir}/c`, rev: 0, value: "3" },
      ],
    });
    const walk = async (rev: number) =>
      (await json<{ files: { path: string }[] }>(await api(`/v1/walk?glob=${dir}/*&rev=${rev}`))).files.map(
        (f) => f.path.slice(dir.length + 1),
      );
    expect(await walk(before)).toEqual([]);
    expect(await walk(before + 1)).toEqual(["a"]);
    expect(await walk(before + 2)).toEqual(["a", "b"]);
    expect(await walk(before + 3)).toEqual(["a", "b", "c"]);
  });

  it("each op sees the ops before it; a set with session makes the file ephemeral", async () => {
    const path = freshPath();
    const session = await openSession();
    const before = await storeRev();
    const answer = await ok({
      ops: [
        { op: "set", path, rev: 0, value: "first" },
        { op: "set", path, rev: before + 1, value: "second" },
        { op: "del", path, rev: before + 2 },
        { op: "set", path, rev: 0, value: "third", session },
      ],
    });
    expect(answer.rev).toBe(before + 4);
    const got = await api(`/v1/files${path}`);
    expect(await text(got)).toBe("third");
    expect(got.headers.get("Doozer-Session")).toBe(session);
    expect((await api(`/v1/sessions/${session}`, { method: "DELETE" })).status).toBe(200);
    expect((await read(path)).status).toBe(404);
  });

  it("checks are evaluated against the tree before the transaction", async () => {
    const path = freshPath();
    // The op creates the file; the check, against the tree before, still sees it missing.
    await ok({ checks: [{ path, rev: 0 }], ops: [{ op: "set", path, rev: 0, value: "x" }] });
    expect((await read(path)).value).toBe("x");
  });

  it("a transaction with checks only consumes one rev when it passes and answers results []", async () => {
    const path = freshPath();
    const rev = await write(path);
    const before = await storeRev();
    expect(
      await ok({
        checks: [
          { path, rev },
          { path: freshPath(), rev: 0 },
          { path: `${path}/below`, rev: 0 }, // 0 holds below a file too
        ],
      }),
    ).toEqual({ rev: before + 1, results: [] });
    expect(await storeRev()).toBe(before + 1);
  });

  it("100 checks and 100 ops are allowed, 100 revs", async () => {
    const dir = freshPath("hundred");
    const before = await storeRev();
    const answer = await ok({
      checks: Array.from({ length: 100 }, (_, i) => ({ path: `${dir}/c${i}`, rev: 0 })),
      ops: Array.from({ length: 100 }, (_, i) => ({
        op: "set",
        path: `${dir}/o${i}`,
        rev: 0,
        value: `${i}`,
      })),
    });
    expect(answer.rev).toBe(before + 100);
    expect(answer.results.map((r) => r.rev)).toEqual(Array.from({ length: 100 }, (_, i) => before + 1 + i));
  });

  it("no read reports a store rev inside the range but its last, and no read sees part of it", async () => {
    const dir = freshPath("atomic");
    const names = ["a", "b", "c", "d", "e", "f", "g", "h"];
    await ok({ ops: names.map((n) => ({ op: "set", path: `${dir}/${n}`, rev: -1, value: "g0" })) });
    const ranges: [number, number][] = [];
    const seenRevs: number[] = [];
    const torn: string[] = [];
    let done = false;
    const readers = [0, 1].map(async () => {
      while (!done) {
        const r = await json<{ rev: number }>(await api("/v1/rev"));
        seenRevs.push(r.rev);
        const w = await json<{ rev: number; files: { value: string }[] }>(
          await api(`/v1/walk?glob=${dir}/*`),
        );
        seenRevs.push(w.rev);
        const values = new Set(w.files.map((f) => f.value));
        if (w.files.length !== names.length || values.size !== 1) torn.push(JSON.stringify(w));
      }
    });
    for (let g = 1; g <= 8; g++) {
      const answer = await ok({
        ops: names.map((n) => ({ op: "set", path: `${dir}/${n}`, rev: -1, value: `g${g}` })),
      });
      ranges.push([answer.rev - names.length + 1, answer.rev]);
    }
    done = true;
    await Promise.all(readers);
    expect(torn).toEqual([]);
    expect(seenRevs.length).toBeGreaterThan(0);
    for (const rev of seenRevs) {
      for (const [first, last] of ranges) {
        expect(rev >= first && rev < last, `rev ${rev} inside [${first}, ${last}]`).toBe(false);
      }
    }
  }, 60_000);
});

// --- Checks ---

describe("checks", () => {
  it("a check holds only when the rev is exactly the file's: a later rev fails with REV_MISMATCH", async () => {
    const path = freshPath();
    const rev = await write(path);
    // A write would pass with rev >= fileRev; a check wants exactly it.
    const error = await failsDecided(
      { checks: [{ path, rev: rev + 1 }], ops: [{ op: "set", path: freshPath(), rev: -1, value: "x" }] },
      409,
      "REV_MISMATCH",
    );
    expect(error).toMatchObject({ path, rev, check: 0 });
    expect(error.op).toBeUndefined();
  });

  it("a deleted-and-recreated file fails a check of its old rev", async () => {
    const path = freshPath();
    const old = await write(path, "one");
    expect((await api(`/v1/files${path}?rev=-1`, { method: "DELETE" })).status).toBe(200);
    const now = await write(path, "two", 0);
    const error = await failsDecided({ checks: [{ path, rev: old }] }, 409, "REV_MISMATCH");
    expect(error).toMatchObject({ path, rev: now, check: 0 });
  });

  it("a check of 0 fails on an existing file, with error.rev its rev", async () => {
    const path = freshPath();
    const rev = await write(path);
    const error = await failsDecided(
      {
        checks: [
          { path: freshPath(), rev: 0 },
          { path, rev: 0 },
        ],
      },
      409,
      "REV_MISMATCH",
    );
    expect(error).toMatchObject({ path, rev, check: 1 });
  });

  it("a check on a directory fails with ISDIR", async () => {
    const path = freshPath();
    await write(path);
    const dir = path.slice(0, path.lastIndexOf("/"));
    const error = await failsDecided({ checks: [{ path: dir, rev: 0 }] }, 409, "ISDIR");
    expect(error).toMatchObject({ path: dir, check: 0, rev: -2 });
  });

  it("a check rev of -1 or not an integer is BAD_REQUEST; a check without rev is MISSING_ARG; no rev consumed", async () => {
    const path = freshPath();
    for (const rev of [-1, -2, 1.5, "3", "abc", true, [], {}]) {
      await refused({ checks: [{ path, rev }] }, 400, "BAD_REQUEST");
    }
    await refused({ checks: [{ path }] }, 400, "MISSING_ARG");
    await refused({ checks: [{ path, rev: null }] }, 400, "MISSING_ARG");
  });

  it("checks are evaluated first: a failing check is the answer even when an earlier op would fail", async () => {
    const path = freshPath();
    const rev = await write(path);
    const error = await failsDecided(
      {
        checks: [
          { path: freshPath(), rev: 0 },
          { path, rev: rev + 5 },
        ],
        ops: [{ op: "set", path, rev: 0, value: "would be REV_MISMATCH" }],
      },
      409,
      "REV_MISMATCH",
    );
    expect(error).toMatchObject({ check: 1, path, rev });
    expect(error.op).toBeUndefined();
  });
});

// --- Failures are all or nothing ---

describe("a transaction that fails", () => {
  it("changes nothing and consumes one rev: REV_MISMATCH of an op seen after the ops before it", async () => {
    const path = freshPath();
    const other = freshPath();
    const before = await storeRev();
    const error = await failsDecided(
      {
        ops: [
          { op: "set", path: other, rev: 0, value: "x" },
          { op: "set", path, rev: 0, value: "1" },
          { op: "set", path, rev: 0, value: "2" }, // the op before created it, at rev before + 2
        ],
      },
      409,
      "REV_MISMATCH",
    );
    expect(error).toMatchObject({ path, op: 2, rev: before + 2, storeRev: before + 1 });
    expect(error.check).toBeUndefined();
    expect((await read(path)).status).toBe(404);
    expect((await read(other)).status).toBe(404);
  });

  it("ISDIR and NOTDIR of an op, with error.path, error.rev and error.op", async () => {
    const path = freshPath();
    await write(path, "keep");
    const dir = path.slice(0, path.lastIndexOf("/"));
    const isdir = await failsDecided(
      {
        ops: [
          { op: "set", path: `${dir}/x`, rev: -1, value: "x" },
          { op: "set", path: dir, rev: -1, value: "x" },
        ],
      },
      409,
      "ISDIR",
    );
    expect(isdir).toMatchObject({ path: dir, op: 1, rev: -2 });
    const notdir = await failsDecided(
      { ops: [{ op: "set", path: `${path}/below`, rev: -1, value: "x" }] },
      409,
      "NOTDIR",
    );
    expect(notdir).toMatchObject({ path: `${path}/below`, op: 0 });
    expect(typeof notdir.rev).toBe("number");
    const deldir = await failsDecided({ ops: [{ op: "del", path: dir, rev: -1 }] }, 409, "ISDIR");
    expect(deldir).toMatchObject({ path: dir, op: 0, rev: -2 });
    expect((await read(`${dir}/x`)).status).toBe(404);
    expect((await read(path)).value).toBe("keep");
  });

  it("NOSESSION of an op under a session that is not alive, with error.op", async () => {
    const path = freshPath();
    const first = freshPath();
    const session = await openSession();
    expect((await api(`/v1/sessions/${session}`, { method: "DELETE" })).status).toBe(200);
    const error = await failsDecided(
      {
        ops: [
          { op: "set", path: first, rev: -1, value: "x" },
          { op: "set", path, rev: 0, value: "x", session },
        ],
      },
      404,
      "NOSESSION",
    );
    expect(error).toMatchObject({ path, op: 1, rev: 0 });
    expect((await read(first)).status).toBe(404);
  });

  it("a failing transaction shows no event and no partial change to a watcher", async () => {
    const dir = freshPath("w");
    const s = await openSocket();
    await s.ask({ verb: "WATCH", glob: `${dir}/**` });
    await fails(
      {
        ops: [
          { op: "set", path: `${dir}/a`, rev: -1, value: "x" },
          { op: "set", path: `${dir}/b`, rev: 7, value: "x" },
          { op: "set", path: `${dir}/b`, rev: 0, value: "y" },
        ],
      },
      409,
      "REV_MISMATCH",
    );
    const good = await ok({ ops: [{ op: "set", path: `${dir}/c`, rev: 0, value: "z" }] });
    await until(() => s.frames.some((f) => f.id === 1 && "event" in f), "an event");
    await sleep(50);
    const events = s.frames.filter((f) => f.id === 1 && "event" in f).map((f) => f.event as Frame);
    expect(events).toEqual([{ path: `${dir}/c`, rev: good.rev, value: "z", op: "set" }]);
    s.ws.close();
  });
});

// --- Refused before deciding ---

describe("a transaction refused before it is decided consumes no rev", () => {
  it("more than 100 checks or 100 ops is TOO_LARGE", async () => {
    await refused(
      { checks: Array.from({ length: 101 }, (_, i) => ({ path: `/c/${i}`, rev: 0 })) },
      413,
      "TOO_LARGE",
    );
    await refused(
      { ops: Array.from({ length: 101 }, (_, i) => ({ op: "set", path: `/o/${i}`, rev: -1, value: "" })) },
      413,
      "TOO_LARGE",
    );
  });

  it("a body over 2 MiB is TOO_LARGE, and so are decoded values past the documented ~1.5 MiB", async () => {
    const mib = 1024 * 1024;
    const big = "x".repeat(2 * mib + 1);
    await refused(`{"ops": [{"op": "set", "path": "/big", "rev": -1, "value": "${big}"}]}`, 413, "TOO_LARGE");
    // Under 2 MiB of body, but two values of 0.9 MiB: over the slot limit (docs/PROTOCOL.md).
    const value = "y".repeat(Math.floor(0.9 * mib));
    await refused(
      {
        ops: [
          { op: "set", path: "/big/a", rev: -1, value },
          { op: "set", path: "/big/b", rev: -1, value },
        ],
      },
      413,
      "TOO_LARGE",
    );
    // One value over 1 MiB.
    await refused(
      { ops: [{ op: "set", path: "/big/c", rev: -1, value: "z".repeat(mib + 1) }] },
      413,
      "TOO_LARGE",
    );
  });

  it("an empty transaction, an unknown op or a malformed body is BAD_REQUEST", async () => {
    const path = freshPath();
    for (const body of [
      {},
      { checks: [], ops: [] },
      { ops: [{ op: "put", path, rev: -1, value: "x" }] },
      { ops: [{ path, rev: -1, value: "x" }] },
      { ops: [{ op: "SET", path, rev: -1, value: "x" }] },
      { ops: "set" },
      { checks: {} },
      { ops: [42] },
      { checks: [null] },
      { ops: [{ op: "set", path, rev: -1, value: "!!", encoding: "base64" }] },
      { ops: [{ op: "set", path, rev: -1, value: "x", session: "bad.session" }] },
      { ops: [{ op: "set", path, rev: -1, value: "x", session: "" }] },
      "not json",
      "{",
      "[]",
      "null",
      '"x"',
      "42",
      "",
    ]) {
      await refused(body, 400, "BAD_REQUEST");
    }
  });

  it("a malformed path is BAD_PATH; a missing op rev or value is MISSING_ARG", async () => {
    for (const bad of ["a/b", "/a/", "//a", "/a b", "", "/é"]) {
      await refused({ ops: [{ op: "set", path: bad, rev: -1, value: "x" }] }, 400, "BAD_PATH");
      await refused({ ops: [{ op: "del", path: bad, rev: -1 }] }, 400, "BAD_PATH");
      await refused({ checks: [{ path: bad, rev: 0 }] }, 400, "BAD_PATH");
    }
    const path = freshPath();
    await refused({ ops: [{ op: "set", path, value: "x" }] }, 400, "MISSING_ARG");
    await refused({ ops: [{ op: "del", path }] }, 400, "MISSING_ARG");
    await refused({ ops: [{ op: "set", path, rev: -1 }] }, 400, "MISSING_ARG");
    await refused({ ops: [{ op: "set", path, rev: "abc", value: "x" }] }, 400, "MISSING_ARG");
  });

  it("GET /v1/txn is BAD_METHOD", async () => {
    const response = await api("/v1/txn");
    expect(response.status).toBe(405);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("BAD_METHOD");
  });
});

// --- Over the WebSocket ---

describe("TXN over the WebSocket", () => {
  it("answers as POST /v1/txn, with the frame's id, and fails with the same error fields", async () => {
    const s = await openSocket();
    const path = freshPath();
    const before = await storeRev();
    const answer = (await s.ask({
      verb: "TXN",
      checks: [{ path, rev: 0 }],
      ops: [
        { op: "set", path, rev: 0, value: "AAE=", encoding: "base64" },
        { op: "set", path: `${path}x`, rev: 0, value: "t" },
      ],
    })) as Frame;
    expect(answer).toEqual({
      id: answer.id,
      rev: before + 2,
      results: [
        { path, rev: before + 1 },
        { path: `${path}x`, rev: before + 2 },
      ],
    });
    expect(new Uint8Array(await (await api(`/v1/files${path}`)).arrayBuffer())).toEqual(Uint8Array.of(0, 1));

    const failed = (await s.ask({ verb: "TXN", checks: [{ path, rev: before }] })) as Frame;
    expect(failed.error).toMatchObject({
      code: "REV_MISMATCH",
      storeRev: before + 3,
      path,
      rev: before + 1,
      check: 0,
    });
    const checksOnly = (await s.ask({ verb: "TXN", checks: [{ path, rev: before + 1 }] })) as Frame;
    expect(checksOnly).toEqual({ id: checksOnly.id, rev: before + 4, results: [] });

    const refusedBefore = await storeRev();
    for (const frame of [
      { verb: "TXN" },
      { verb: "TXN", ops: [{ op: "nope", path, rev: -1 }] },
      { verb: "TXN", checks: [{ path, rev: -1 }] },
      { verb: "TXN", ops: "x" },
    ]) {
      expect(((await s.ask(frame)) as Frame).error).toMatchObject({ code: "BAD_REQUEST" });
    }
    expect(
      ((await s.ask({ verb: "TXN", ops: [{ op: "del", path: "a", rev: -1 }] })) as Frame).error,
    ).toMatchObject({
      code: "BAD_PATH",
    });
    expect(((await s.ask({ verb: "TXN", ops: [{ op: "del", path }] })) as Frame).error).toMatchObject({
      code: "MISSING_ARG",
    });
    expect(((await s.ask({ verb: "TXN", checks: [{ path }] })) as Frame).error).toMatchObject({
      code: "MISSING_ARG",
    });
    expect(
      (
        (await s.ask({
          verb: "TXN",
          checks: Array.from({ length: 101 }, (_, i) => ({ path: `/c/${i}`, rev: 0 })),
        })) as Frame
      ).error,
    ).toMatchObject({ code: "TOO_LARGE" });
    expect(await storeRev()).toBe(refusedBefore);
    s.ws.close();
  });

  it("a frame too large gets TOO_LARGE or closes the socket with 1009, and consumes no rev", async () => {
    const s = await openSocket();
    const before = await storeRev();
    const value = "q".repeat(2 * 1024 * 1024 + 10);
    const answer = await s.answerOrClose(
      { verb: "TXN", ops: [{ op: "set", path: freshPath(), rev: -1, value }] },
      10_000,
    );
    if (answer !== undefined) expect((answer.error as { code: string }).code).toBe("TOO_LARGE");
    else expect(s.closeCode()).toBe(1009);
    expect(await storeRev()).toBe(before);
    s.ws.close();
  });
});
