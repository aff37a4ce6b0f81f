// The HTTP API (SPEC §2) against the real Worker and acceptor Durable Objects:
// every route, every error HTTP can produce (SPEC §1), with status, error code
// and the documented fields and headers.
//
// Tests in this file run one after another on one store, so a test may compare
// the store rev before and after what it does; none assumes where the rev
// starts, and each uses its own fresh paths.

import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import type { Env } from "../../worker/env";
import worker from "../../worker/index";
import { api, base, del, freshPath, healAll, json, put, storeRev, text } from "./helpers";

// --- Helpers ---

/** A request handled by the Worker in this test's own context, through the proposer of `env`. */
async function inIsolate(path: string, init?: RequestInit): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await worker.fetch(new Request(`${base}${path}`, init), env as unknown as Env, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

interface ErrorFields {
  code: string;
  message: string;
  rev?: number;
  storeRev?: number;
}

/** Checks the status, that the body is exactly {"error": {code, message, ...}} with a message, and returns error. */
async function expectError(response: Response, status: number, code: string): Promise<ErrorFields> {
  const body = (await response.json()) as { error: ErrorFields };
  expect({ status: response.status, code: body.error?.code }).toEqual({ status, code });
  expect(Object.keys(body)).toEqual(["error"]);
  expect(typeof body.error.message).toBe("string");
  expect(body.error.message.length).toBeGreaterThan(0);
  return body.error;
}

/** Writes a file (clobbering by default) and returns the rev of the write. */
async function write(path: string, value: string | Uint8Array, rev: number | string = -1): Promise<number> {
  const response = await put(path, rev, value);
  expect(response.status).toBe(200);
  const body = await json<{ path: string; rev: number }>(response);
  expect(body.path).toBe(path);
  return body.rev;
}

async function remove(path: string, rev: number | string = -1): Promise<number> {
  const response = await del(path, rev);
  expect(response.status).toBe(200);
  return (await json<{ rev: number }>(response)).rev;
}

async function bytesOf(response: Response): Promise<Uint8Array> {
  return new Uint8Array(await response.arrayBuffer());
}

/** Appends a query argument to a URL that may already have some. */
function withArg(url: string, arg: string): string {
  return `${url}${url.includes("?") ? "&" : "?"}${arg}`;
}

/** A directory of its own: files go below it. */
function freshDir(): string {
  return freshPath("d");
}

const encoder = new TextEncoder();
const allBytes = Uint8Array.from({ length: 256 }, (_, i) => i);
const notUtf8 = Uint8Array.of(0xff, 0xfe, 0x00, 0x80);
const notUtf8Base64 = "//4AgA==";
const mebibyte = 1024 * 1024;
const revAbsMax = "9007199254740992"; // 2^53

// --- PUT /v1/files/<path>?rev=R ---

describe("PUT /v1/files/<path>", () => {
  it("rev 0 creates a file and answers {path, rev} with the rev it consumed", async () => {
    const path = freshPath();
    const before = await storeRev();
    const response = await put(path, 0, "v1");
    expect(response.status).toBe(200);
    expect(await json(response)).toEqual({ path, rev: before + 1 });
    const read = await api(`/v1/files${path}`);
    expect(await text(read)).toBe("v1");
    expect(read.headers.get("Doozer-Rev")).toBe(String(before + 1));
  });

  it.each([
    ["the file's own rev (overwrite)", (fileRev: number) => fileRev],
    ["-1 (clobber)", () => -1],
    ["a rev newer than the file's (rev < fileRev is what fails)", (fileRev: number) => fileRev + 100],
    ["2^53, the largest rev allowed", () => revAbsMax],
  ])("overwrites with %s", async (_name, revFor) => {
    const path = freshPath();
    const fileRev = await write(path, "old", 0);
    const before = await storeRev();
    const response = await put(path, revFor(fileRev), "new");
    expect(response.status).toBe(200);
    expect(await json(response)).toEqual({ path, rev: before + 1 });
    const read = await api(`/v1/files${path}`);
    expect(await text(read)).toBe("new");
    expect(read.headers.get("Doozer-Rev")).toBe(String(before + 1));
  });

  it.each([
    ["rev 0 on an existing file", (_fileRev: number) => 0],
    ["a rev older than the file's", (fileRev: number) => fileRev - 1],
    ["-2, neither create nor clobber", (_fileRev: number) => -2],
    ["-2^53", (_fileRev: number) => `-${revAbsMax}`],
  ])(
    "REV_MISMATCH 409 for %s: error.rev is the file rev, error.storeRev the rev consumed",
    async (_name, revFor) => {
      const path = freshPath();
      await write(path, "a", 0);
      const fileRev = await write(path, "original");
      const before = await storeRev();
      const error = await expectError(await put(path, revFor(fileRev), "clobbered?"), 409, "REV_MISMATCH");
      expect(error.rev).toBe(fileRev);
      expect(error.storeRev).toBe(before + 1);
      expect(await storeRev()).toBe(before + 1);
      const read = await api(`/v1/files${path}`);
      expect(await text(read)).toBe("original");
      expect(read.headers.get("Doozer-Rev")).toBe(String(fileRev));
    },
  );

  it("REV_MISMATCH on a missing file with a nonzero rev gives error.rev 0", async () => {
    const path = freshPath();
    const before = await storeRev();
    const error = await expectError(await put(path, -2, "x"), 409, "REV_MISMATCH");
    expect(error).toMatchObject({ rev: 0, storeRev: before + 1 });
    await expectError(await api(`/v1/files${path}`), 404, "NOENT");
  });

  it.each([
    ["a directory", (dir: string) => dir],
    ["the root, /v1/files/", (_dir: string) => "/"],
  ])("ISDIR 409 on %s, consuming one rev", async (_name, target) => {
    const dir = freshDir();
    await write(`${dir}/child`, "x");
    const path = target(dir);
    const before = await storeRev();
    const url = path === "/" ? "/v1/files/?rev=-1" : `/v1/files${path}?rev=-1`;
    const error = await expectError(await api(url, { method: "PUT", body: "x" }), 409, "ISDIR");
    expect(error.storeRev).toBe(before + 1);
    expect(await storeRev()).toBe(before + 1);
    const listing = await json(await api(`/v1/dirs${dir}`));
    expect(listing.entries).toEqual(["child"]);
  });

  it.each([
    ["its parent is a file", "/child"],
    ["a grandparent is a file", "/child/grandchild"],
  ])("NOTDIR 409 when %s, consuming one rev", async (_name, below) => {
    const file = freshPath();
    await write(file, "a file");
    const before = await storeRev();
    const error = await expectError(await put(`${file}${below}`, -1, "x"), 409, "NOTDIR");
    expect(error.storeRev).toBe(before + 1);
    expect(await storeRev()).toBe(before + 1);
    expect(await text(await api(`/v1/files${file}`))).toBe("a file");
  });

  it.each([
    ["no rev", ""],
    ["an empty rev", "?rev="],
    ["rev=abc", "?rev=abc"],
    ["rev=1.5", "?rev=1.5"],
    ["rev=1e3", "?rev=1e3"],
    ["rev=0x10", "?rev=0x10"],
    ["rev=+1", "?rev=%2B1"],
    ["rev beyond 2^53", "?rev=9007199254740993"],
    ["rev below -2^53", "?rev=-9007199254740993"],
    ["a huge rev", `?rev=${"9".repeat(40)}`],
  ])("MISSING_ARG 400 for %s, and nothing changes", async (_name, query) => {
    const path = freshPath();
    const before = await storeRev();
    await expectError(
      await api(`/v1/files${path}${query}`, { method: "PUT", body: "x" }),
      400,
      "MISSING_ARG",
    );
    expect(await storeRev()).toBe(before);
    await expectError(await api(`/v1/files${path}`), 404, "NOENT");
  });

  it("stores exactly 1 MiB", async () => {
    const path = freshPath();
    const value = Uint8Array.from({ length: mebibyte }, (_, i) => (i * 7) % 251);
    await write(path, value, 0);
    expect(await bytesOf(await api(`/v1/files${path}`))).toEqual(value);
  });

  it.each([
    ["a new file", false],
    ["an existing file", true],
  ])("TOO_LARGE 413 for 1 MiB + 1 byte on %s, and nothing changes", async (_name, exists) => {
    const path = freshPath();
    if (exists) await write(path, "small");
    const before = await storeRev();
    await expectError(await put(path, -1, new Uint8Array(mebibyte + 1)), 413, "TOO_LARGE");
    expect(await storeRev()).toBe(before);
    const read = await api(`/v1/files${path}`);
    if (exists) expect(await text(read)).toBe("small");
    else await expectError(read, 404, "NOENT");
  });

  it.each([
    ["every byte value", allBytes],
    ["bytes that are not UTF-8", notUtf8],
    ["the empty value", new Uint8Array(0)],
    ["UTF-8 text", encoder.encode("héllo, wörld ✓")],
  ])("stores %s byte-exact", async (_name, value) => {
    const path = freshPath();
    const rev = await write(path, value, 0);
    const read = await api(`/v1/files${path}`);
    expect(read.status).toBe(200);
    expect(read.headers.get("Doozer-Rev")).toBe(String(rev));
    expect(await bytesOf(read)).toEqual(value);
  });

  it("stores the body as sent, whatever its content type", async () => {
    const path = freshPath();
    const body = "a=1&b=%20{not json";
    const response = await api(`/v1/files${path}?rev=0`, {
      method: "PUT",
      body,
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
    });
    expect(response.status).toBe(200);
    expect(await text(await api(`/v1/files${path}`))).toBe(body);
  });

  it("a retried write with the same Doozer-Request-Id applies once and answers the first outcome", async () => {
    const path = freshPath();
    const id = `retry-${path.slice(1).replaceAll("/", ".")}`;
    const init = { method: "PUT", body: "once", headers: { "Doozer-Request-Id": id } };
    const before = await storeRev();
    const first = await api(`/v1/files${path}?rev=0`, init);
    const again = await api(`/v1/files${path}?rev=0`, init);
    expect([first.status, again.status]).toEqual([200, 200]);
    expect(await json(first)).toEqual({ path, rev: before + 1 });
    expect(await json(again)).toEqual({ path, rev: before + 1 });
    expect(await storeRev()).toBe(before + 1);
  });

  it.each([
    ["a space", "a b"],
    ["a slash", "a/b"],
    ["129 characters", "x".repeat(129)],
  ])("a Doozer-Request-Id with %s → 400 BAD_REQUEST, and nothing changes", async (_name, id) => {
    const path = freshPath();
    const before = await storeRev();
    const response = await api(`/v1/files${path}?rev=0`, {
      method: "PUT",
      body: "x",
      headers: { "Doozer-Request-Id": id },
    });
    await expectError(response, 400, "BAD_REQUEST");
    expect(await storeRev()).toBe(before);
  });

  it("accepts a path of exactly 4096 bytes", async () => {
    const dir = freshDir();
    const path = `${dir}/${"a".repeat(4096 - dir.length - 1)}`;
    expect(path.length).toBe(4096);
    await write(path, "long", 0);
    expect(await text(await api(`/v1/files${path}`))).toBe("long");
  });
});

// --- Bad paths, on every route that takes one ---

const badPaths: [string, (dir: string) => string][] = [
  ["a trailing slash", (dir) => `${dir}/a/`],
  ["an empty name (//)", (dir) => `${dir}//a`],
  ["a percent-encoded space (%20)", (dir) => `${dir}/a%20b`],
  ["a space (sent encoded)", (dir) => `${dir}/a b`],
  ["an underscore", (dir) => `${dir}/a_b`],
  ["a tilde", (dir) => `${dir}/a~b`],
  ["a non-ASCII letter", (dir) => `${dir}/é`],
  ["a colon", (dir) => `${dir}/a:b`],
  ["a path of 4097 bytes", (dir) => `${dir}/${"a".repeat(4096 - dir.length)}`],
];

const pathRoutes: [string, string, (path: string) => string][] = [
  ["PUT", "PUT", (path) => `/v1/files${path}?rev=-1`],
  ["DELETE", "DELETE", (path) => `/v1/files${path}?rev=-1`],
  ["GET files", "GET", (path) => `/v1/files${path}`],
  ["GET dirs", "GET", (path) => `/v1/dirs${path}`],
  ["GET stat", "GET", (path) => `/v1/stat${path}`],
];

describe("bad paths", () => {
  const cases = pathRoutes.flatMap(([route, method, url]) =>
    badPaths.map(([name, path]) => ({ route, method, url, name, path })),
  );

  it.each(cases)("$route with $name → 400 BAD_PATH, and nothing changes", async ({ method, url, path }) => {
    const dir = freshDir();
    await write(`${dir}/a`, "x");
    const before = await storeRev();
    const init: RequestInit = method === "PUT" ? { method, body: "v" } : { method };
    await expectError(await api(url(path(dir)), init), 400, "BAD_PATH");
    expect(await storeRev()).toBe(before);
    expect(await json(await api(`/v1/dirs${dir}`))).toMatchObject({ entries: ["a"] });
  });
});

// --- GET /v1/files/<path> ---

describe("GET /v1/files/<path>", () => {
  it("answers the raw bytes with Doozer-Rev (file rev) and Doozer-Store-Rev (rev read at)", async () => {
    const path = freshPath();
    const fileRev = await write(path, "hello", 0);
    await api("/v1/nop", { method: "POST" });
    const now = await storeRev();
    const read = await api(`/v1/files${path}`);
    expect(read.status).toBe(200);
    expect(read.headers.get("Doozer-Rev")).toBe(String(fileRev));
    expect(read.headers.get("Doozer-Store-Rev")).toBe(String(now));
    expect(await text(read)).toBe("hello");
  });

  it.each([
    ["a file never written", (file: string) => `${file}-missing`],
    ["a path below a file", (file: string) => `${file}/below`],
  ])("404 NOENT with Doozer-Rev: 0 and error.rev 0 for %s", async (_name, target) => {
    const file = freshPath();
    await write(file, "x");
    const read = await api(`/v1/files${target(file)}`);
    expect(read.headers.get("Doozer-Rev")).toBe("0");
    const error = await expectError(read, 404, "NOENT");
    expect(error.rev).toBe(0);
  });

  it("404 NOENT with Doozer-Rev: 0 for a deleted file", async () => {
    const path = freshPath();
    await write(path, "x");
    await remove(path);
    const read = await api(`/v1/files${path}`);
    expect(read.headers.get("Doozer-Rev")).toBe("0");
    expect((await expectError(read, 404, "NOENT")).rev).toBe(0);
  });

  it.each([
    ["a directory", (dir: string) => `/v1/files${dir}`],
    ["the root, /v1/files/", () => "/v1/files/"],
  ])("409 ISDIR for %s", async (_name, url) => {
    const dir = freshDir();
    await write(`${dir}/f`, "x");
    await expectError(await api(url(dir)), 409, "ISDIR");
  });

  it("?rev=N reads the value as it was at N, with Doozer-Store-Rev: N", async () => {
    const path = freshPath();
    const rev1 = await write(path, "v1", 0);
    const rev2 = await write(path, "v2", rev1);
    for (const [at, value, fileRev] of [
      [rev1, "v1", rev1],
      [rev2 - 1, "v1", rev1],
      [rev2, "v2", rev2],
    ] as const) {
      const read = await api(`/v1/files${path}?rev=${at}`);
      expect(read.status).toBe(200);
      expect(await text(read)).toBe(value);
      expect(read.headers.get("Doozer-Rev")).toBe(String(fileRev));
      expect(read.headers.get("Doozer-Store-Rev")).toBe(String(at));
    }
    const beforeCreate = await api(`/v1/files${path}?rev=${rev1 - 1}`);
    expect(beforeCreate.headers.get("Doozer-Rev")).toBe("0");
    await expectError(beforeCreate, 404, "NOENT");
  });

  it("?stale=1 reads from one replica and says the rev it reflects", async () => {
    const path = freshPath();
    const rev = await write(path, "stale ok", 0);
    const atRev = await api(`/v1/files${path}?stale=1&rev=${rev}`);
    expect(atRev.status).toBe(200);
    expect(await text(atRev)).toBe("stale ok");
    expect(atRev.headers.get("Doozer-Store-Rev")).toBe(String(rev));
    // Without a rev, a stale read may lag, but whatever it answers is true at the rev it names.
    const now = await storeRev();
    const current = await api(`/v1/files${path}?stale=1`);
    if (current.status === 200) {
      const readAt = Number(current.headers.get("Doozer-Store-Rev"));
      expect(readAt).toBeGreaterThanOrEqual(rev);
      expect(readAt).toBeLessThanOrEqual(now);
      expect(await text(current)).toBe("stale ok");
    } else {
      await expectError(current, 404, "NOENT");
    }
  });
});

// --- Arguments of every read route ---

const readRoutes: [string, (path: string) => string][] = [
  ["GET files", (path) => `/v1/files${path}`],
  ["GET dirs", (path) => `/v1/dirs${path.slice(0, path.lastIndexOf("/"))}`],
  ["GET stat", (path) => `/v1/stat${path}`],
  ["GET walk", (path) => `/v1/walk?glob=${path}`],
];

describe("read arguments", () => {
  const badArgs: [string, string, number, string][] = [
    ["timeout over 300000", "timeout=300001", 400, "RANGE"],
    ["a negative timeout", "timeout=-1", 400, "RANGE"],
    ["timeout=abc", "timeout=abc", 400, "MISSING_ARG"],
    ["timeout=1.5", "timeout=1.5", 400, "MISSING_ARG"],
    ["a negative rev", "rev=-1", 400, "MISSING_ARG"],
    ["rev=abc", "rev=abc", 400, "MISSING_ARG"],
    ["rev=1e3", "rev=1e3", 400, "MISSING_ARG"],
    ["rev beyond 2^53", "rev=9007199254740993", 400, "MISSING_ARG"],
  ];
  const cases = readRoutes.flatMap(([route, url]) =>
    badArgs.map(([name, arg, status, code]) => ({ route, url, name, arg, status, code })),
  );

  it.each(cases)("$route with $name → $status $code", async ({ url, arg, status, code }) => {
    const path = freshPath();
    await write(path, "x");
    await expectError(await api(withArg(url(path), arg)), status, code);
  });

  it.each(readRoutes)(
    "%s at a rev the store does not reach within timeout → 504 TIMEOUT",
    async (_route, url) => {
      const path = freshPath();
      await write(path, "x");
      const future = (await storeRev()) + 1000;
      await expectError(await api(withArg(url(path), `rev=${future}&timeout=200`)), 504, "TIMEOUT");
    },
  );

  it.each(readRoutes)("%s accepts the largest timeout, 300000", async (_route, url) => {
    const path = freshPath();
    await write(path, "x");
    const response = await api(withArg(url(path), "timeout=300000"));
    expect(response.status).toBe(200);
    await response.body?.cancel();
  });
});

// --- DELETE /v1/files/<path>?rev=R ---

describe("DELETE /v1/files/<path>", () => {
  it.each([
    ["-1 (clobber)", (_fileRev: number) => -1],
    ["the file's rev", (fileRev: number) => fileRev],
    ["a rev newer than the file's", (fileRev: number) => fileRev + 5],
  ])("with %s deletes and answers {path, rev} with the rev it consumed", async (_name, revFor) => {
    const path = freshPath();
    const fileRev = await write(path, "x", 0);
    const before = await storeRev();
    const response = await del(path, revFor(fileRev));
    expect(response.status).toBe(200);
    expect(await json(response)).toEqual({ path, rev: before + 1 });
    expect(await storeRev()).toBe(before + 1);
    await expectError(await api(`/v1/files${path}`), 404, "NOENT");
  });

  it.each([
    ["a file never written, with rev -1", "", -1],
    ["a file never written, with rev 0", "", 0],
    ["a path below a file", "/below", -1],
  ])("of %s succeeds and consumes one rev", async (_name, below, rev) => {
    const file = freshPath();
    await write(file, "x");
    const path = below ? `${file}${below}` : `${file}-missing`;
    const before = await storeRev();
    const response = await del(path, rev);
    expect(response.status).toBe(200);
    expect(await json(response)).toEqual({ path, rev: before + 1 });
    expect(await storeRev()).toBe(before + 1);
    expect(await text(await api(`/v1/files${file}`))).toBe("x");
  });

  it.each([
    ["rev 0 on an existing file", (_fileRev: number) => 0],
    ["a rev older than the file's", (fileRev: number) => fileRev - 1],
  ])("REV_MISMATCH 409 for %s, with error.rev and error.storeRev", async (_name, revFor) => {
    const path = freshPath();
    await write(path, "a");
    const fileRev = await write(path, "kept");
    const before = await storeRev();
    const error = await expectError(await del(path, revFor(fileRev)), 409, "REV_MISMATCH");
    expect(error.rev).toBe(fileRev);
    expect(error.storeRev).toBe(before + 1);
    expect(await storeRev()).toBe(before + 1);
    expect(await text(await api(`/v1/files${path}`))).toBe("kept");
  });

  it.each([
    ["a directory", (dir: string) => `/v1/files${dir}?rev=-1`],
    ["the root, /v1/files/", () => "/v1/files/?rev=-1"],
  ])("ISDIR 409 on %s, consuming one rev and deleting nothing", async (_name, url) => {
    const dir = freshDir();
    await write(`${dir}/f`, "x");
    const before = await storeRev();
    const error = await expectError(await api(url(dir), { method: "DELETE" }), 409, "ISDIR");
    expect(error.storeRev).toBe(before + 1);
    expect(await storeRev()).toBe(before + 1);
    expect(await text(await api(`/v1/files${dir}/f`))).toBe("x");
  });

  it.each([
    ["no rev", ""],
    ["rev=abc", "?rev=abc"],
    ["rev=1.5", "?rev=1.5"],
    ["an empty rev", "?rev="],
    ["rev beyond 2^53", "?rev=9007199254740993"],
  ])("MISSING_ARG 400 for %s, and nothing changes", async (_name, query) => {
    const path = freshPath();
    await write(path, "x");
    const before = await storeRev();
    await expectError(await api(`/v1/files${path}${query}`, { method: "DELETE" }), 400, "MISSING_ARG");
    expect(await storeRev()).toBe(before);
    expect(await text(await api(`/v1/files${path}`))).toBe("x");
  });

  it("empty parent directories vanish with their last file, up to the first one still holding something", async () => {
    const top = freshDir();
    await write(`${top}/keep`, "k");
    await write(`${top}/a/b/c/f1`, "1");
    await write(`${top}/a/b/c/f2`, "2");
    await remove(`${top}/a/b/c/f1`);
    expect(await json(await api(`/v1/dirs${top}/a/b/c`))).toMatchObject({ entries: ["f2"] });
    await remove(`${top}/a/b/c/f2`);
    for (const dir of [`${top}/a/b/c`, `${top}/a/b`, `${top}/a`]) {
      await expectError(await api(`/v1/dirs${dir}`), 404, "NOENT");
      expect(await json(await api(`/v1/stat${dir}`))).toMatchObject({ rev: 0, len: 0 });
    }
    expect(await json(await api(`/v1/dirs${top}`))).toMatchObject({ entries: ["keep"] });
    // The path that was a directory can now be a file.
    await write(`${top}/a`, "now a file", 0);
  });
});

// --- GET /v1/dirs/<path> ---

describe("GET /v1/dirs/<path>", () => {
  /** A directory holding the names 0 B a a-b a.b and a subdirectory sub. */
  async function populated(): Promise<{ dir: string; entries: string[] }> {
    const dir = freshDir();
    for (const name of ["a.b", "B", "sub/x", "a", "0", "a-b", "sub/y"]) await write(`${dir}/${name}`, name);
    // Bytewise: "-" (2d) < "." (2e) < "0" (30) < "B" (42) < "a" (61) < "s" (73).
    return { dir, entries: ["0", "B", "a", "a-b", "a.b", "sub"] };
  }

  it("answers {path, rev, entries}: names sorted bytewise, rev the store rev read at", async () => {
    const { dir, entries } = await populated();
    const now = await storeRev();
    const response = await api(`/v1/dirs${dir}`);
    expect(response.status).toBe(200);
    expect(await json(response)).toEqual({ path: dir, rev: now, entries });
  });

  it("lists the root at /v1/dirs/", async () => {
    const { dir } = await populated();
    const top = dir.slice(1, dir.indexOf("/", 1));
    const now = await storeRev();
    const listing = await json<{ path: string; rev: number; entries: string[] }>(await api("/v1/dirs/"));
    expect(listing.path).toBe("/");
    expect(listing.rev).toBe(now);
    expect(listing.entries).toContain(top);
    expect(listing.entries).toEqual([...listing.entries].sort(bytewise));
  });

  it.each([
    ["offset=2&limit=2", ["a", "a-b"]],
    ["limit=1", ["0"]],
    ["limit=1000", ["0", "B", "a", "a-b", "a.b", "sub"]],
    ["offset=5", ["sub"]],
    ["offset=5&limit=10", ["sub"]],
    ["offset=6", []],
    ["offset=1000000", []],
    ["offset=0&limit=6", ["0", "B", "a", "a-b", "a.b", "sub"]],
  ])("pages with %s", async (query, expected) => {
    const { dir } = await populated();
    const response = await api(`/v1/dirs${dir}?${query}`);
    expect(response.status).toBe(200);
    expect((await json(response)).entries).toEqual(expected);
  });

  it.each([
    ["limit=0", 400, "RANGE"],
    ["limit=1001", 400, "RANGE"],
    ["limit=-1", 400, "RANGE"],
    ["offset=-1", 400, "RANGE"],
    ["offset=x", 400, "MISSING_ARG"],
    ["limit=x", 400, "MISSING_ARG"],
    ["offset=1.5", 400, "MISSING_ARG"],
  ])("%s → %i %s", async (query, status, code) => {
    const { dir } = await populated();
    await expectError(await api(`/v1/dirs${dir}?${query}`), status, code);
  });

  it("404 NOENT for a missing directory, 409 NOTDIR for a file", async () => {
    const dir = freshDir();
    await write(`${dir}/f`, "x");
    await expectError(await api(`/v1/dirs${dir}/missing`), 404, "NOENT");
    await expectError(await api(`/v1/dirs${dir}/f`), 409, "NOTDIR");
  });

  it("?rev= lists the directory as it was at that rev", async () => {
    const dir = freshDir();
    await write(`${dir}/a`, "a");
    const atTwo = await write(`${dir}/b`, "b");
    await remove(`${dir}/a`);
    await write(`${dir}/c`, "c");
    expect(await json(await api(`/v1/dirs${dir}?rev=${atTwo}`))).toEqual({
      path: dir,
      rev: atTwo,
      entries: ["a", "b"],
    });
    expect((await json(await api(`/v1/dirs${dir}`))).entries).toEqual(["b", "c"]);
    await expectError(await api(`/v1/dirs${dir}?rev=${atTwo - 2}`), 404, "NOENT");
  });

  it("?stale=1 works", async () => {
    const { dir, entries } = await populated();
    const rev = await storeRev();
    expect(await json(await api(`/v1/dirs${dir}?stale=1&rev=${rev}`))).toEqual({ path: dir, rev, entries });
  });
});

function bytewise(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// --- GET /v1/stat/<path> ---

describe("GET /v1/stat/<path>", () => {
  it("of a file: rev = file rev, len = bytes", async () => {
    const path = freshPath();
    const fileRev = await write(path, "héllo", 0); // 6 bytes
    await api("/v1/nop", { method: "POST" });
    const now = await storeRev();
    const response = await api(`/v1/stat${path}`);
    expect(response.status).toBe(200);
    expect(await json(response)).toEqual({ path, rev: fileRev, len: 6, storeRev: now });
  });

  it("of an empty file: len 0, its rev", async () => {
    const path = freshPath();
    const fileRev = await write(path, "", 0);
    expect(await json(await api(`/v1/stat${path}`))).toMatchObject({ path, rev: fileRev, len: 0 });
  });

  it("of a directory: rev -2, len = entry count", async () => {
    const dir = freshDir();
    for (const name of ["a", "b", "c/d", "c/e"]) await write(`${dir}/${name}`, "x");
    const now = await storeRev();
    expect(await json(await api(`/v1/stat${dir}`))).toEqual({ path: dir, rev: -2, len: 3, storeRev: now });
  });

  it("of the root, /v1/stat/: rev -2", async () => {
    await write(freshPath(), "x");
    const stat = await json(await api("/v1/stat/"));
    expect(stat).toMatchObject({ path: "/", rev: -2 });
    expect(stat.len).toBeGreaterThan(0);
  });

  it.each([
    ["a path never written", ""],
    ["a path below a file", "/below"],
  ])("of %s: 200 with rev 0, len 0", async (_name, below) => {
    const file = freshPath();
    await write(file, "x");
    const path = below ? `${file}${below}` : `${file}-missing`;
    const now = await storeRev();
    const response = await api(`/v1/stat${path}`);
    expect(response.status).toBe(200);
    expect(await json(response)).toEqual({ path, rev: 0, len: 0, storeRev: now });
  });

  it("?rev= stats the file as it was, and ?stale=1 works", async () => {
    const path = freshPath();
    const rev1 = await write(path, "four", 0);
    await write(path, "eight!!!", rev1);
    expect(await json(await api(`/v1/stat${path}?rev=${rev1}`))).toEqual({
      path,
      rev: rev1,
      len: 4,
      storeRev: rev1,
    });
    expect(await json(await api(`/v1/stat${path}?rev=${rev1}&stale=1`))).toEqual({
      path,
      rev: rev1,
      len: 4,
      storeRev: rev1,
    });
  });
});

// --- GET /v1/walk?glob=G ---

describe("GET /v1/walk", () => {
  // Depth-first with each directory's entries bytewise: /a/… before /a.x,
  // although "/a.x" < "/a/b" as whole strings ("." is 2e, "/" is 2f).
  const tree = ["/a/b", "/a/bc/d", "/a/c", "/a/f", "/a.x", "/abc", "/x/app.json", "/x/app.yaml"];

  async function populated(): Promise<{ dir: string; revs: Map<string, number> }> {
    const dir = freshDir();
    const revs = new Map<string, number>();
    // Written in an order unlike the walk's, so the order cannot come from write order.
    for (const name of [...tree].reverse()) revs.set(name, await write(`${dir}${name}`, `value of ${name}`));
    return { dir, revs };
  }

  it("answers {rev, files: [{path, rev, value}]} depth-first, rev the store rev read at", async () => {
    const { dir, revs } = await populated();
    const now = await storeRev();
    const response = await api(`/v1/walk?glob=${dir}/**`);
    expect(response.status).toBe(200);
    expect(await json(response)).toEqual({
      rev: now,
      files: tree.map((name) => ({ path: `${dir}${name}`, rev: revs.get(name), value: `value of ${name}` })),
    });
  });

  it.each([
    ["/**", tree],
    ["/*", ["/a.x", "/abc"]],
    ["/a/*", ["/a/b", "/a/c", "/a/f"]],
    ["/a/**", ["/a/b", "/a/bc/d", "/a/c", "/a/f"]],
    ["/*/*", ["/a/b", "/a/c", "/a/f", "/x/app.json", "/x/app.yaml"]],
    ["/a?c", ["/abc"]],
    ["/a/?", ["/a/b", "/a/c", "/a/f"]],
    ["/a/b*", ["/a/b"]],
    ["/a/**/d", ["/a/bc/d"]],
    ["/a/**/f", []],
    ["/**/c", ["/a/c"]],
    ["/**/*.json", ["/x/app.json"]],
    ["/x/*.json", ["/x/app.json"]],
    ["/x/app.*", ["/x/app.json", "/x/app.yaml"]],
    ["/a.x", ["/a.x"]],
    ["/a", []],
    ["/nothing/**", []],
  ])("glob <dir>%s matches %j", async (glob, expected) => {
    const { dir } = await populated();
    const walk = await json<{ files: { path: string }[] }>(await api(`/v1/walk?glob=${dir}${glob}`));
    expect(walk.files.map((f) => f.path)).toEqual(expected.map((name) => `${dir}${name}`));
  });

  it("/** matches every file, the ones under <dir> in order among them", async () => {
    const { dir } = await populated();
    const walk = await json<{ files: { path: string }[] }>(await api("/v1/walk?glob=/**"));
    const paths = walk.files.map((f) => f.path);
    expect(paths.filter((p) => p.startsWith(`${dir}/`))).toEqual(tree.map((name) => `${dir}${name}`));
  });

  it.each([
    ["offset=2&limit=3", tree.slice(2, 5)],
    ["limit=1", tree.slice(0, 1)],
    ["offset=7", tree.slice(7)],
    ["offset=8", []],
    ["offset=100&limit=1000", []],
  ])("pages with %s", async (query, expected) => {
    const { dir } = await populated();
    const walk = await json<{ files: { path: string }[] }>(await api(`/v1/walk?glob=${dir}/**&${query}`));
    expect(walk.files.map((f) => f.path)).toEqual(expected.map((name) => `${dir}${name}`));
  });

  it.each([
    ["no glob", "", 400, "MISSING_ARG"],
    ["limit=0", "glob=/**&limit=0", 400, "RANGE"],
    ["limit=1001", "glob=/**&limit=1001", 400, "RANGE"],
    ["offset=-1", "glob=/**&offset=-1", 400, "RANGE"],
    ["offset=x", "glob=/**&offset=x", 400, "MISSING_ARG"],
    ["a relative glob", "glob=a/*", 400, "BAD_PATH"],
    ["a glob with a trailing slash", "glob=/a/", 400, "BAD_PATH"],
    ["a glob with an empty name", "glob=/a//b", 400, "BAD_PATH"],
    ["a glob with an underscore", "glob=/a_*", 400, "BAD_PATH"],
    ["a glob with a space", "glob=/a%20*", 400, "BAD_PATH"],
    ["a glob with brackets", "glob=/a/[bc]", 400, "BAD_PATH"],
    ["a glob over 4096 bytes", `glob=/${"a".repeat(4096)}`, 400, "BAD_PATH"],
  ])("%s → %i %s", async (_name, query, status, code) => {
    await expectError(await api(`/v1/walk?${query}`), status, code);
  });

  it("?rev= walks the tree as it was, and ?stale=1 works", async () => {
    const dir = freshDir();
    const revA = await write(`${dir}/a`, "a");
    const revB = await write(`${dir}/b`, "b");
    await remove(`${dir}/a`);
    const expected = {
      rev: revB,
      files: [
        { path: `${dir}/a`, rev: revA, value: "a" },
        { path: `${dir}/b`, rev: revB, value: "b" },
      ],
    };
    expect(await json(await api(`/v1/walk?glob=${dir}/*&rev=${revB}`))).toEqual(expected);
    expect(await json(await api(`/v1/walk?glob=${dir}/*&rev=${revB}&stale=1`))).toEqual(expected);
    const now = await json<{ files: { path: string }[] }>(await api(`/v1/walk?glob=${dir}/*`));
    expect(now.files.map((f) => f.path)).toEqual([`${dir}/b`]);
  });

  it("sends a value that is not UTF-8 as base64 with encoding: base64, and UTF-8 as it is", async () => {
    const dir = freshDir();
    const revBin = await write(`${dir}/bin`, notUtf8);
    const revText = await write(`${dir}/text`, "héllo");
    const revEmpty = await write(`${dir}/vide`, "");
    expect((await json(await api(`/v1/walk?glob=${dir}/*`))).files).toEqual([
      { path: `${dir}/bin`, rev: revBin, value: notUtf8Base64, encoding: "base64" },
      { path: `${dir}/text`, rev: revText, value: "héllo" },
      { path: `${dir}/vide`, rev: revEmpty, value: "" },
    ]);
  });

  it("with ?encoding=base64 sends every value base64", async () => {
    const dir = freshDir();
    const revBin = await write(`${dir}/bin`, notUtf8);
    const revText = await write(`${dir}/text`, "héllo");
    const revAll = await write(`${dir}/all`, allBytes);
    expect((await json(await api(`/v1/walk?glob=${dir}/*&encoding=base64`))).files).toEqual([
      { path: `${dir}/all`, rev: revAll, value: base64(allBytes), encoding: "base64" },
      { path: `${dir}/bin`, rev: revBin, value: notUtf8Base64, encoding: "base64" },
      { path: `${dir}/text`, rev: revText, value: base64(encoder.encode("héllo")), encoding: "base64" },
    ]);
  });
});

function base64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

// --- GET /v1/wait?glob=G&rev=R ---

describe("GET /v1/wait", () => {
  it("answers a past set at once: {path, rev, value, op: set}", async () => {
    const path = freshPath();
    const rev1 = await write(path, "v1", 0);
    const rev2 = await write(path, "v2", rev1);
    const response = await api(`/v1/wait?glob=${path}&rev=${rev1}`);
    expect(response.status).toBe(200);
    expect(await json(response)).toEqual({ path, rev: rev1, value: "v1", op: "set" });
    // The first change at or after the rev asked for.
    expect(await json(await api(`/v1/wait?glob=${path}&rev=${rev1 + 1}`))).toEqual({
      path,
      rev: rev2,
      value: "v2",
      op: "set",
    });
  });

  it("answers a delete with op: del", async () => {
    const path = freshPath();
    await write(path, "x", 0);
    const delRev = await remove(path);
    expect(await json(await api(`/v1/wait?glob=${path}&rev=${delRev}`))).toEqual({
      path,
      rev: delRev,
      value: "",
      op: "del",
    });
  });

  it("matches by glob and skips what is no event: failed writes and deletes of missing files", async () => {
    const dir = freshDir();
    await write(`${dir}/taken`, "x", 0);
    const start = (await storeRev()) + 1;
    await expectError(await put(`${dir}/taken`, 0, "again"), 409, "REV_MISMATCH");
    await remove(`${dir}/never`);
    await write(`${freshDir()}/elsewhere`, "other dir");
    const rev = await write(`${dir}/sub/later`, "this one");
    expect(await json(await api(`/v1/wait?glob=${dir}/**&rev=${start}`))).toEqual({
      path: `${dir}/sub/later`,
      rev,
      value: "this one",
      op: "set",
    });
  });

  it("answers a change made after the wait started", async () => {
    const path = freshPath();
    const next = (await storeRev()) + 1;
    const waiting = api(`/v1/wait?glob=${path}&rev=${next}&timeout=20000`);
    const rev = await write(path, "later", 0);
    const response = await waiting;
    expect(response.status).toBe(200);
    expect(await json(response)).toEqual({ path, rev, value: "later", op: "set" });
  });

  it("answers 204 with no body when the timeout passes first", async () => {
    const path = freshPath();
    const next = (await storeRev()) + 1;
    const response = await api(`/v1/wait?glob=${path}&rev=${next}&timeout=200`);
    expect(response.status).toBe(204);
    expect(await response.text()).toBe("");
  });

  it("sends a value that is not UTF-8 as base64, and ?encoding=base64 makes any value base64", async () => {
    const dir = freshDir();
    const revBin = await write(`${dir}/bin`, notUtf8);
    const revText = await write(`${dir}/text`, "hi");
    expect(await json(await api(`/v1/wait?glob=${dir}/bin&rev=${revBin}`))).toEqual({
      path: `${dir}/bin`,
      rev: revBin,
      value: notUtf8Base64,
      encoding: "base64",
      op: "set",
    });
    expect(await json(await api(`/v1/wait?glob=${dir}/text&rev=${revText}&encoding=base64`))).toEqual({
      path: `${dir}/text`,
      rev: revText,
      value: base64(encoder.encode("hi")),
      encoding: "base64",
      op: "set",
    });
  });

  it("?stale=1 works", async () => {
    const path = freshPath();
    const rev = await write(path, "s", 0);
    expect(await json(await api(`/v1/wait?glob=${path}&rev=${rev}&stale=1`))).toEqual({
      path,
      rev,
      value: "s",
      op: "set",
    });
  });

  it.each([
    ["no rev", "glob=/a/**", 400, "MISSING_ARG"],
    ["no glob", "rev=1", 400, "MISSING_ARG"],
    ["rev=abc", "glob=/a/**&rev=abc", 400, "MISSING_ARG"],
    ["a negative rev", "glob=/a/**&rev=-1", 400, "MISSING_ARG"],
    ["rev beyond 2^53", "glob=/a/**&rev=9007199254740993", 400, "MISSING_ARG"],
    ["timeout=abc", "glob=/a/**&rev=1&timeout=abc", 400, "MISSING_ARG"],
    ["timeout 300001", "glob=/a/**&rev=1&timeout=300001", 400, "RANGE"],
    ["a negative timeout", "glob=/a/**&rev=1&timeout=-1", 400, "RANGE"],
    ["a relative glob", "glob=a/**&rev=1", 400, "BAD_PATH"],
    ["a glob with a trailing slash", "glob=/a/&rev=1", 400, "BAD_PATH"],
    ["a glob with an underscore", "glob=/a_b&rev=1", 400, "BAD_PATH"],
  ])("%s → %i %s", async (_name, query, status, code) => {
    await expectError(await api(`/v1/wait?${query}`), status, code);
  });
});

// --- POST /v1/nop, GET /v1/rev ---

describe("POST /v1/nop and GET /v1/rev", () => {
  it("a nop answers {rev} and advances the store rev by exactly 1", async () => {
    const before = await storeRev();
    const response = await api("/v1/nop", { method: "POST" });
    expect(response.status).toBe(200);
    expect(await json(response)).toEqual({ rev: before + 1 });
    const rev = await api("/v1/rev");
    expect(rev.status).toBe(200);
    expect(await json(rev)).toEqual({ rev: before + 1 });
  });

  it("the rev counts every decided change: sets, deletes, failed writes and nops", async () => {
    const path = freshPath();
    const before = await storeRev();
    await write(path, "x", 0);
    await expectError(await put(path, 0, "y"), 409, "REV_MISMATCH");
    await remove(path);
    await remove(path);
    await api("/v1/nop", { method: "POST" });
    expect(await json(await api("/v1/rev"))).toEqual({ rev: before + 5 });
  });

  it("GET /v1/rev?stale=1 answers a rev no later than the current one", async () => {
    const now = await storeRev();
    const stale = await json<{ rev: number }>(await api("/v1/rev?stale=1"));
    expect(Object.keys(stale)).toEqual(["rev"]);
    expect(stale.rev).toBeLessThanOrEqual(now);
    expect(stale.rev).toBeGreaterThanOrEqual(0);
  });
});

// --- GET /v1/cluster ---

describe("GET /v1/cluster", () => {
  it("lists the 5 acceptors with their location, reachability and Paxos positions", async () => {
    await api("/v1/nop", { method: "POST" });
    const response = await api("/v1/cluster");
    expect(response.status).toBe(200);
    const { acceptors } = await json<{ acceptors: Record<string, unknown>[] }>(response);
    expect(acceptors.map((a) => [a.id, a.location])).toEqual([
      ["acceptor-0", "wnam"],
      ["acceptor-1", "enam"],
      ["acceptor-2", "weur"],
      ["acceptor-3", "apac"],
      ["acceptor-4", "oc"],
    ]);
    for (const acceptor of acceptors) {
      expect(acceptor).toMatchObject({
        reachable: true,
        promised: expect.any(String),
        accepted: expect.any(Number),
        chosen: expect.any(Number),
      });
    }
    // A nop was just decided: a majority has accepted and learned at least one slot.
    expect(acceptors.filter((a) => (a.accepted as number) >= 1).length).toBeGreaterThanOrEqual(3);
  });
});

// --- Routes and methods ---

describe("routes and methods", () => {
  it("GET / serves the web viewer", async () => {
    const response = await api("/");
    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Type")).toContain("text/html");
    expect(await response.text()).toContain('<script type="module" src="/app.js">');
  });

  it.each([
    ["POST", "/"],
    ["GET", "/nothing"],
    ["GET", "/v2/rev"],
    ["GET", "/v1"],
    ["GET", "/v1/"],
    ["GET", "/v1/nothing"],
    ["GET", "/v1/revs"],
    ["GET", "/v1/rev/x"],
    ["GET", "/v1/filesx/a"],
    ["GET", "/v1/nop/x"],
    ["POST", "/v2/nop"],
  ])("%s %s → 404 NOT_FOUND", async (method, url) => {
    await expectError(await api(url, { method }), 404, "NOT_FOUND");
  });

  it.each([
    ["POST", "/v1/rev", "GET"],
    ["PATCH", "/v1/files/a", "GET, PUT, DELETE"],
    ["POST", "/v1/files/a", "GET, PUT, DELETE"],
    ["GET", "/v1/nop", "POST"],
    ["PUT", "/v1/dirs/a", "GET"],
    ["DELETE", "/v1/stat/a", "GET"],
    ["POST", "/v1/walk", "GET"],
    ["PUT", "/v1/wait", "GET"],
    ["POST", "/v1/cluster", "GET"],
    ["DELETE", "/v1/faults", "GET, POST"],
  ])("%s %s → 405 BAD_METHOD with Allow: %s, and nothing changes", async (method, url, allow) => {
    const before = await storeRev();
    const response = await api(url, { method });
    expect(response.headers.get("Allow")).toBe(allow);
    await expectError(response, 405, "BAD_METHOD");
    expect(await storeRev()).toBe(before);
  });
});

// --- GET and POST /v1/faults ---

describe("/v1/faults", () => {
  // No test may leave an acceptor faulty for the next.
  afterEach(async () => {
    await healAll();
  });

  const acceptorIds = ["acceptor-0", "acceptor-1", "acceptor-2", "acceptor-3", "acceptor-4"];

  async function modes(): Promise<string[]> {
    const response = await api("/v1/faults");
    expect(response.status).toBe(200);
    const table = await json<{ acceptors: { id: string; mode: string }[] }>(response);
    expect(table.acceptors.map((a) => a.id)).toEqual(acceptorIds);
    return table.acceptors.map((a) => a.mode);
  }

  it("GET answers each acceptor's mode", async () => {
    expect(await modes()).toEqual(["ok", "ok", "ok", "ok", "ok"]);
  });

  it("POST sets one acceptor's mode and answers the new table; * heals all", async () => {
    try {
      const response = await api("/v1/faults", {
        method: "POST",
        body: JSON.stringify({ acceptor: "acceptor-3", mode: "down" }),
      });
      expect(response.status).toBe(200);
      const table = await json<{ acceptors: { id: string; mode: string }[] }>(response);
      expect(table.acceptors.map((a) => [a.id, a.mode])).toEqual([
        ["acceptor-0", "ok"],
        ["acceptor-1", "ok"],
        ["acceptor-2", "ok"],
        ["acceptor-3", "down"],
        ["acceptor-4", "ok"],
      ]);
      expect(await modes()).toEqual(["ok", "ok", "ok", "down", "ok"]);
    } finally {
      const healed = await api("/v1/faults", {
        method: "POST",
        body: JSON.stringify({ acceptor: "*", mode: "ok" }),
      });
      expect(healed.status).toBe(200);
      const table = await json<{ acceptors: { mode: string }[] }>(healed);
      expect(table.acceptors.map((a) => a.mode)).toEqual(["ok", "ok", "ok", "ok", "ok"]);
    }
  });

  it.each([
    ["a body that is not JSON", "not json"],
    ["an empty body", ""],
    ["JSON that is not an object", "null"],
    ["a JSON array", "[]"],
    ["no acceptor", JSON.stringify({ mode: "down" })],
    ["an unknown mode", JSON.stringify({ acceptor: "acceptor-2", mode: "sideways" })],
    ["no mode", JSON.stringify({ acceptor: "acceptor-2" })],
    ["an unknown acceptor", JSON.stringify({ acceptor: "acceptor-9", mode: "down" })],
    ["an acceptor by a wrong name", JSON.stringify({ acceptor: "nobody", mode: "ok" })],
    ["slow without delayMs", JSON.stringify({ acceptor: "acceptor-2", mode: "slow" })],
    ["slow with a negative delayMs", JSON.stringify({ acceptor: "acceptor-2", mode: "slow", delayMs: -1 })],
    ["lossy without dropRate", JSON.stringify({ acceptor: "acceptor-2", mode: "lossy" })],
    ["lossy with dropRate 2", JSON.stringify({ acceptor: "acceptor-2", mode: "lossy", dropRate: 2 })],
    ["lossy with dropRate -0.1", JSON.stringify({ acceptor: "acceptor-2", mode: "lossy", dropRate: -0.1 })],
  ])("POST with %s → 400 BAD_REQUEST, and the table is unchanged", async (_name, body) => {
    await expectError(await api("/v1/faults", { method: "POST", body }), 400, "BAD_REQUEST");
    expect(await modes()).toEqual(["ok", "ok", "ok", "ok", "ok"]);
  });

  it("POST with a body over its limit → 413 TOO_LARGE", async () => {
    const body = JSON.stringify({ acceptor: "acceptor-2", mode: "down", padding: "x".repeat(10_000) });
    await expectError(await api("/v1/faults", { method: "POST", body }), 413, "TOO_LARGE");
    expect(await modes()).toEqual(["ok", "ok", "ok", "ok", "ok"]);
  });
});

// --- Authorization (SPEC §2), through the Worker with secrets set ---

describe("authorization", () => {
  const rw = "rw-secret-for-tests";
  const ro = "ro-secret-for-tests";
  // One env object per configuration: the Worker keeps one runtime (proposer) per env.
  const withBoth: Env = { ...(env as unknown as Env), DOOZER_RWSECRET: rw, DOOZER_ROSECRET: ro };
  const rwOnly: Env = { ...(env as unknown as Env), DOOZER_RWSECRET: rw };

  async function call(
    isolate: Env,
    url: string,
    token: string | undefined,
    init: RequestInit = {},
  ): Promise<Response> {
    const headers = new Headers(init.headers);
    if (token !== undefined) headers.set("Authorization", token);
    const ctx = createExecutionContext();
    const response = await worker.fetch(new Request(`${base}${url}`, { ...init, headers }), isolate, ctx);
    await waitOnExecutionContext(ctx);
    return response;
  }

  it.each([
    ["no token", undefined],
    ["a wrong token", "Bearer wrong"],
    ["the rw secret without Bearer", rw],
    ["the rw secret as Basic", `Basic ${rw}`],
  ])("a read with %s → 401 UNAUTHORIZED", async (_name, token) => {
    await expectError(await call(withBoth, "/v1/rev", token), 401, "UNAUTHORIZED");
  });

  it.each([
    ["no token", undefined],
    ["a wrong token", "Bearer wrong"],
  ])("a write with %s → 401 UNAUTHORIZED, and nothing changes", async (_name, token) => {
    const path = freshPath();
    const before = await storeRev();
    await expectError(
      await call(withBoth, `/v1/files${path}?rev=0`, token, { method: "PUT", body: "x" }),
      401,
      "UNAUTHORIZED",
    );
    expect(await storeRev()).toBe(before);
  });

  it.each([
    ["the rw token", `Bearer ${rw}`],
    ["the ro token", `Bearer ${ro}`],
  ])("reads with %s succeed", async (_name, token) => {
    const path = freshPath();
    await write(path, "secret value");
    const read = await call(withBoth, `/v1/files${path}`, token);
    expect(read.status).toBe(200);
    expect(await text(read)).toBe("secret value");
  });

  it.each([
    ["PUT", (path: string) => `/v1/files${path}?rev=-1`, "x"],
    ["DELETE", (path: string) => `/v1/files${path}?rev=-1`, undefined],
    ["POST", () => "/v1/nop", undefined],
  ])("%s with the ro token → 403 READONLY, and nothing changes", async (method, url, body) => {
    const path = freshPath();
    await write(path, "kept");
    const before = await storeRev();
    await expectError(await call(withBoth, url(path), `Bearer ${ro}`, { method, body }), 403, "READONLY");
    expect(await storeRev()).toBe(before);
    expect(await text(await api(`/v1/files${path}`))).toBe("kept");
  });

  it("a write with the rw token succeeds", async () => {
    const path = freshPath();
    const before = await storeRev();
    const response = await call(withBoth, `/v1/files${path}?rev=0`, `Bearer ${rw}`, {
      method: "PUT",
      body: "ok",
    });
    expect(response.status).toBe(200);
    expect(await json(response)).toEqual({ path, rev: before + 1 });
  });

  it("without DOOZER_ROSECRET, reads need the rw token", async () => {
    await expectError(await call(rwOnly, "/v1/rev", `Bearer ${ro}`), 401, "UNAUTHORIZED");
    await expectError(await call(rwOnly, "/v1/rev", undefined), 401, "UNAUTHORIZED");
    expect((await call(rwOnly, "/v1/rev", `Bearer ${rw}`)).status).toBe(200);
  });
});

// --- TOO_LATE: reads before the history window (DOOZER_HISTORY_REVS = 2000 in wrangler.toml) ---

describe("the history window", () => {
  const historyRevs = 2000;

  it("a read at storeRev - 2000 is served; one rev older → 410 TOO_LATE on every read route and WAIT", async () => {
    const path = freshPath();
    const fileRev = await write(path, "old", 0);
    // Nops, each a decided change that moves the window, sent 100 at a time into one
    // isolate's proposer, where they ride together in a few Paxos slots.
    while ((await storeRev()) <= fileRev + historyRevs + 1) {
      const nops = await Promise.all(
        Array.from({ length: 100 }, () => inIsolate("/v1/nop", { method: "POST" })),
      );
      expect(nops.map((r) => r.status)).toEqual(Array(100).fill(200));
    }
    const now = await storeRev();
    const oldest = now - historyRevs;
    const atOldest = await api(`/v1/files${path}?rev=${oldest}`);
    expect(atOldest.status).toBe(200);
    expect(await text(atOldest)).toBe("old");
    expect(atOldest.headers.get("Doozer-Store-Rev")).toBe(String(oldest));

    const dir = path.slice(0, path.lastIndexOf("/"));
    const tooOld = [
      `/v1/files${path}?rev=${oldest - 1}`,
      `/v1/dirs${dir}?rev=${oldest - 1}`,
      `/v1/stat${path}?rev=${oldest - 1}`,
      `/v1/walk?glob=${dir}/*&rev=${oldest - 1}`,
      `/v1/wait?glob=${path}&rev=${oldest - 1}&timeout=200`,
      `/v1/wait?glob=${path}&rev=${fileRev}&timeout=200`,
    ];
    const answers: [string, number, string | undefined][] = [];
    for (const url of tooOld) {
      const response = await api(url);
      const body =
        response.status === 204 ? {} : await json<{ error?: { code: string; message: string } }>(response);
      answers.push([url, response.status, body.error?.code]);
      if (body.error) expect(body.error.message.length).toBeGreaterThan(0);
    }
    expect(answers).toEqual(tooOld.map((url) => [url, 410, "TOO_LATE"]));
  }, 120_000);
});

// --- Concurrency: one Worker isolate serving several writes at once ---

describe("concurrent writes", () => {
  // Through one env, hence one isolate's proposer: the writes share its ballot and its batches.
  // (test/e2e sends concurrent requests to wrangler dev too: the test runner's workerd turns off
  // the cross-request promise resolution that separate requests into one isolate rely on.)
  it("concurrent PUTs into one isolate each get their answer and their own rev", async () => {
    const paths = Array.from({ length: 5 }, () => freshPath());
    const before = await storeRev();
    const responses = await Promise.all(
      paths.map((path, i) => inIsolate(`/v1/files${path}?rev=0`, { method: "PUT", body: `v${i}` })),
    );
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    const revs = (await Promise.all(responses.map((r) => json<{ rev: number }>(r)))).map((b) => b.rev);
    expect([...revs].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5].map((n) => before + n));
    expect(await storeRev()).toBe(before + 5);
  });
});

// --- NO_QUORUM and reachability (the fault switch, healed after each test) ---

describe("with acceptors down", () => {
  // No test may leave an acceptor faulty for the next.
  afterEach(async () => {
    await healAll();
  });

  it("GET /v1/cluster reports a down acceptor as not reachable", async () => {
    const response = await api("/v1/faults", {
      method: "POST",
      body: JSON.stringify({ acceptor: "acceptor-1", mode: "down" }),
    });
    expect(response.status).toBe(200);
    await response.body?.cancel();
    const { acceptors } = await json<{ acceptors: Record<string, unknown>[] }>(await api("/v1/cluster"));
    expect(acceptors.map((a) => [a.id, a.reachable])).toEqual([
      ["acceptor-0", true],
      ["acceptor-1", false],
      ["acceptor-2", true],
      ["acceptor-3", true],
      ["acceptor-4", true],
    ]);
    // docs/PROTOCOL.md: an acceptor that does not answer shows null for the rest.
    expect(acceptors[1]).toMatchObject({ promised: null, accepted: null, chosen: null });
  });

  it("with 3 of 5 down, a write and a read → 503 NO_QUORUM", async () => {
    const path = freshPath();
    await write(path, "before", 0);
    for (const acceptor of ["acceptor-0", "acceptor-2", "acceptor-4"]) {
      const response = await api("/v1/faults", {
        method: "POST",
        body: JSON.stringify({ acceptor, mode: "down" }),
      });
      expect(response.status).toBe(200);
      await response.body?.cancel();
    }
    await expectError(await put(path, -1, "during"), 503, "NO_QUORUM");
    await expectError(await api(`/v1/files${path}`), 503, "NO_QUORUM");
  });
});
