// Hostile input, generated (fast-check): every HTTP route and every WebSocket
// verb with malformed paths, globs, revs, bodies and frames. The answer is
// always a 4xx with a code (or a clean answer), never a 500, never a hang; and
// input that is bad changes nothing in the store.

import { SELF } from "cloudflare:test";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { base, storeRev } from "./helpers";

/** Anything but a well-formed path: percent signs, spaces, unicode, empty names, dots, trailing slashes. */
const badPath = fc.oneof(
  fc.constantFrom(
    "a",
    "/a/",
    "//a",
    "/a//b",
    "/a/./b",
    "/a/../b",
    "/.",
    "/..",
    "/a b",
    "/%41",
    "/é",
    "/a?b",
    "/a#b",
  ),
  fc
    .string({ unit: "grapheme", minLength: 1, maxLength: 40 })
    .filter((s) => !/^(\/[a-zA-Z0-9.-]+)+$/.test(s) || /(^|\/)\.\.?(\/|$)/.test(s))
    .map((s) => (s.startsWith("/") ? s : `/${s}`))
    .filter((s) => s !== "/"),
);
/**
 * A bad path as it can be written in a URL: the URL parser folds "." and ".."
 * names away and cuts at "?" and "#", so those are core/path's tests, not these.
 */
const badUrlPath = badPath.filter((p) => !/(^|\/)\.\.?(\/|$)|[?#\\]|%2e/i.test(p));
const badGlob = fc.oneof(
  fc.constantFrom("", "a", "/a/", "**", "/a//b", "/[a]", "/a{b}", "/a b", "/%2a"),
  fc
    .string({ unit: "grapheme", minLength: 1, maxLength: 30 })
    .filter((s) => !/^(\/([a-zA-Z0-9.-]|[*?])+)+$/.test(s)),
);
const badRev = fc.oneof(
  fc.constantFrom(
    "",
    "abc",
    "1.5",
    "1e3",
    "0x10",
    "+1",
    "--1",
    " 1",
    "9007199254740993",
    "-9007199254740993",
    "NaN",
  ),
  fc.double({ noInteger: true }).map(String),
  fc.bigInt({ min: 2n ** 53n + 1n, max: 2n ** 80n }).map(String),
);
const anyText = fc.string({ unit: "binary", maxLength: 60 });

async function send(path: string, init?: RequestInit): Promise<Response> {
  // A hang would fail the test by this timeout rather than stall it.
  const response = await Promise.race([
    SELF.fetch(`${base}${path}`, init),
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer to ${path}`)), 15_000)),
  ]);
  return response;
}

/** A 4xx with the error body of SPEC §1. */
async function expectClientError(response: Response): Promise<void> {
  expect(response.status).toBeGreaterThanOrEqual(400);
  expect(response.status).toBeLessThan(500);
  const body = (await response.json()) as { error: { code: string; message: string } };
  expect(typeof body.error.code).toBe("string");
  expect(body.error.message.length).toBeGreaterThan(0);
}

describe("HTTP under hostile input", () => {
  it("bad paths, globs, revs and arguments get a 4xx and change nothing", async () => {
    const before = await storeRev();
    let cases = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          badUrlPath.map((p) => ({ url: `/v1/files${p}`, init: { method: "GET" } })),
          badUrlPath.map((p) => ({ url: `/v1/files${p}?rev=-1`, init: { method: "PUT", body: "x" } })),
          badUrlPath.map((p) => ({ url: `/v1/files${p}?rev=-1`, init: { method: "DELETE" } })),
          badUrlPath.map((p) => ({ url: `/v1/dirs${p}`, init: {} })),
          badUrlPath.map((p) => ({ url: `/v1/stat${p}`, init: {} })),
          badGlob.map((g) => ({ url: `/v1/walk?glob=${encodeURIComponent(g)}`, init: {} })),
          badGlob.map((g) => ({ url: `/v1/wait?glob=${encodeURIComponent(g)}&rev=1&timeout=10`, init: {} })),
          badRev.map((r) => ({
            url: `/v1/files/fuzz/a?rev=${encodeURIComponent(r)}`,
            init: { method: "PUT", body: "x" },
          })),
          badRev.map((r) => ({
            url: `/v1/files/fuzz/a?rev=${encodeURIComponent(r)}`,
            init: { method: "DELETE" },
          })),
          badRev.map((r) => ({ url: `/v1/files/fuzz/a?rev=${encodeURIComponent(r)}`, init: {} })),
          badRev.map((r) => ({
            url: `/v1/wait?glob=/fuzz/*&rev=${encodeURIComponent(r)}&timeout=10`,
            init: {},
          })),
          fc
            .tuple(fc.constantFrom("offset", "limit", "timeout", "stale"), anyText)
            .filter(([, v]) => !/^[0-9]{1,4}$/.test(v) && v !== "")
            .map(([k, v]) => ({ url: `/v1/dirs/?${k}=${encodeURIComponent(v)}`, init: {} })),
          anyText
            .filter((v) => v !== "" && v !== "base64")
            .map((v) => ({ url: `/v1/walk?glob=/**&encoding=${encodeURIComponent(v)}`, init: {} })),
          fc
            .integer({ min: 1001, max: 1_000_000 })
            .map((n) => ({ url: `/v1/walk?glob=/**&limit=${n}`, init: {} })),
          fc
            .integer({ min: 300_001, max: 2 ** 40 })
            .map((n) => ({ url: `/v1/files/x?timeout=${n}`, init: {} })),
          anyText.map((b) => ({ url: "/v1/faults", init: { method: "POST", body: `{${b}` } })),
          fc
            .constantFrom("PATCH", "POST", "OPTIONS")
            .map((m) => ({ url: "/v1/files/fuzz/a", init: { method: m } })),
          anyText.map((p) => ({ url: `/v1/${encodeURIComponent(p)}x/y`, init: {} })),
        ),
        async ({ url, init }) => {
          cases++;
          await expectClientError(await send(url, init));
        },
      ),
      { numRuns: 400, seed: 20261125 },
    );
    expect(cases).toBeGreaterThanOrEqual(400);
    expect(await storeRev()).toBe(before);
  }, 120_000);

  it("a value over 1 MiB is 413 TOO_LARGE and changes nothing, whether it declares its length or not", async () => {
    const before = await storeRev();
    const big = new Uint8Array(1024 * 1024 + 1);
    await expectClientError(await send("/v1/files/fuzz/big?rev=-1", { method: "PUT", body: big }));
    const stream = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 17; i++) controller.enqueue(new Uint8Array(64 * 1024));
        controller.close();
      },
    });
    const response = await send("/v1/files/fuzz/big?rev=-1", {
      method: "PUT",
      body: stream,
      duplex: "half",
    } as RequestInit);
    expect(response.status).toBe(413);
    expect(await storeRev()).toBe(before);
  });

  it("any request at all gets an answer below 500", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("GET", "PUT", "POST", "DELETE", "HEAD"),
        fc.constantFrom(
          "/v1/files",
          "/v1/dirs",
          "/v1/stat",
          "/v1/walk",
          "/v1/wait",
          "/v1/rev",
          "/v1/nop",
          "/v1/cluster",
          "/v1/x",
        ),
        fc.string({ unit: "grapheme-ascii", maxLength: 20 }),
        fc.dictionary(
          fc.constantFrom("rev", "glob", "offset", "limit", "timeout", "stale", "encoding"),
          fc.oneof(anyText, fc.integer().map(String)),
          { maxKeys: 4 },
        ),
        async (method, route, tail, query) => {
          const params = new URLSearchParams(query);
          if (params.has("timeout")) params.set("timeout", "5");
          const url = `${route}${tail ? `/${encodeURIComponent(tail)}` : ""}?${params}`;
          const response = await send(url, { method, body: method === "PUT" ? "v" : undefined });
          expect(response.status).toBeLessThan(500);
          await response.body?.cancel();
        },
      ),
      { numRuns: 300, seed: 1125 },
    );
  }, 120_000);
});

describe("sessions, transactions and health under hostile input (SPEC §6, §7, §8)", () => {
  /** The store rev, asked again if a loaded machine made the read miss its quorum (it reads once per case). */
  async function revNow(): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      const response = await send("/v1/rev");
      if (response.status === 200 || attempt === 3) return ((await response.json()) as { rev: number }).rev;
      await response.body?.cancel();
    }
  }
  /** Anything but a session id of 1–64 of [A-Za-z0-9_-], as it can be written in a URL path segment. */
  const badSessionId = fc.oneof(
    fc.constantFrom("a.b", "x".repeat(65), "%41", "a~b", "a+b", "é", "a!b", "*"),
    fc
      .string({ unit: "grapheme", minLength: 1, maxLength: 70 })
      .filter((s) => !/^[A-Za-z0-9_-]{1,64}$/.test(s))
      .map(encodeURIComponent)
      .filter((s) => !s.includes("%2F") && s !== "." && s !== ".."),
  );
  const badTtl = fc.oneof(
    fc.constantFrom("", "abc", "1.5", "1e4", "999", "3600001", "-1", "0x400", " 2000"),
    fc.integer({ min: -(2 ** 40), max: 999 }).map(String),
    fc.integer({ min: 3_600_001, max: 2 ** 40 }).map(String),
    anyText,
  );
  /** A JSON value of any shape, for txn bodies and frame arguments. */
  const anyJson = fc.jsonValue({ maxDepth: 3 });
  /** A txn body that is malformed somewhere (so it must be refused before it is decided). */
  const badTxnBody = fc.oneof(
    anyJson.filter((v) => typeof v !== "object" || v === null || Array.isArray(v)),
    fc.constant({}),
    fc.constant({ checks: [], ops: [] }),
    fc.record({
      ops: fc.array(
        fc.record({
          op: anyText.filter((o) => o !== "set" && o !== "del"),
          path: fc.constant("/fz/a"),
          rev: fc.constant(-1),
          value: fc.constant("x"),
        }),
        { minLength: 1, maxLength: 3 },
      ),
    }),
    fc.record({
      ops: fc.array(
        fc.record({
          op: fc.constantFrom("set", "del"),
          path: badPath,
          rev: fc.constant(-1),
          value: fc.constant("x"),
        }),
        { minLength: 1, maxLength: 3 },
      ),
    }),
    fc.record({
      checks: fc.array(
        fc.record({
          path: fc.constant("/fz/a"),
          rev: fc.oneof(fc.integer({ max: -1 }), fc.double({ noInteger: true }), anyText, fc.constant(null)),
        }),
        { minLength: 1, maxLength: 3 },
      ),
    }),
    fc.record({
      ops: fc.array(
        fc.record(
          {
            op: fc.constant("set"),
            path: fc.constant("/fz/a"),
            rev: fc.oneof(badRev, fc.constant(undefined)),
            value: fc.constant("x"),
          },
          { requiredKeys: ["op", "path"] },
        ),
        { minLength: 1, maxLength: 3 },
      ),
    }),
    fc.record({
      ops: fc.constant([{ op: "set", path: "/fz/a", rev: -1, value: "x" }]),
      checks: fc.oneof(anyText, fc.integer(), fc.dictionary(anyText, anyJson, { maxKeys: 2 })),
    }),
    fc.record({ ops: fc.constant([{ op: "set", path: "/fz/a", rev: -1, value: "x", session: "a.b" }]) }),
    fc.constant({ checks: Array.from({ length: 101 }, (_, i) => ({ path: `/fz/${i}`, rev: 0 })) }),
  );

  it("bad ids, ttls and txn bodies get a 4xx and change nothing", async () => {
    const before = await storeRev();
    let cases = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          badSessionId.map((id) => ({ url: `/v1/sessions/${id}/keepalive`, init: { method: "POST" } })),
          badSessionId.map((id) => ({ url: `/v1/sessions/${id}`, init: { method: "GET" } })),
          badSessionId.map((id) => ({ url: `/v1/sessions/${id}`, init: { method: "DELETE" } })),
          badSessionId.map((id) => ({
            url: `/v1/files/fz/a?rev=-1&session=${encodeURIComponent(id)}`,
            init: { method: "PUT", body: "x" },
          })),
          badTtl.map((t) => ({ url: `/v1/sessions?ttl=${encodeURIComponent(t)}`, init: { method: "POST" } })),
          badTxnBody.map((b) => ({
            url: "/v1/txn",
            init: { method: "POST", body: JSON.stringify(b) ?? "" },
          })),
          anyText.map((b) => ({ url: "/v1/txn", init: { method: "POST", body: `{${b}` } })),
          fc.constantFrom("PUT", "DELETE", "PATCH").map((m) => ({ url: "/v1/txn", init: { method: m } })),
          fc.constantFrom("PUT", "DELETE", "POST").map((m) => ({ url: "/v1/health", init: { method: m } })),
          fc.constantFrom("PUT", "PATCH").map((m) => ({ url: "/v1/sessions/abc", init: { method: m } })),
          fc.constant({ url: "/v1/sessions/abc/keepalive/x", init: { method: "POST" } }),
        ),
        async ({ url, init }) => {
          cases++;
          const at = await revNow();
          await expectClientError(await send(url, init));
          expect(
            await revNow(),
            `${init.method} ${url} ${String("body" in init ? init.body : "").slice(0, 200)}`,
          ).toBe(at);
        },
      ),
      { numRuns: 300, seed: 20261206 },
    );
    expect(cases).toBeGreaterThanOrEqual(300);
    expect(await storeRev()).toBe(before);
  }, 120_000);

  it("any request to the new routes gets an answer below 500", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("GET", "POST", "DELETE", "PUT"),
        fc.constantFrom(
          "/v1/sessions",
          "/v1/sessions/",
          "/v1/sessions/abc",
          "/v1/sessions/abc/keepalive",
          "/v1/sessions//keepalive",
          "/v1/txn",
          "/v1/health",
        ),
        fc.dictionary(
          fc.constantFrom("ttl", "rev", "session", "offset", "limit", "stale", "timeout"),
          fc.oneof(anyText, fc.integer().map(String)),
          { maxKeys: 3 },
        ),
        fc.option(
          fc.oneof(
            anyText,
            anyJson.map((v) => JSON.stringify(v) ?? ""),
          ),
        ),
        async (method, route, query, body) => {
          const params = new URLSearchParams(query);
          if (params.has("timeout")) params.set("timeout", "5");
          const response = await send(`${route}?${params}`, {
            method,
            body: method === "GET" || body === null ? undefined : body,
          });
          expect(response.status).toBeLessThan(500);
          // Health answers 503 only with a majority down; none is here.
          await response.body?.cancel();
        },
      ),
      { numRuns: 200, seed: 1206 },
    );
  }, 120_000);
});

describe("WebSocket under hostile input", () => {
  async function socket() {
    const response = await SELF.fetch(`${base}/v1/ws`, { headers: { Upgrade: "websocket" } });
    const ws = response.webSocket as WebSocket;
    ws.accept();
    const frames: Record<string, unknown>[] = [];
    let closed = false;
    ws.addEventListener("message", (e) => frames.push(JSON.parse(String(e.data))));
    ws.addEventListener("close", () => {
      closed = true;
    });
    return { ws, frames, isClosed: () => closed };
  }

  async function until(check: () => boolean, what: string): Promise<void> {
    for (let i = 0; i < 1000 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
    if (!check()) throw new Error(`timed out waiting for ${what}`);
  }

  it("every frame, however malformed, gets an answer with an error code, and the socket stays open", async () => {
    const s = await socket();
    const before = await storeRev();
    const badValue = fc.oneof(
      anyText,
      fc.integer(),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.array(fc.integer(), { maxLength: 2 }),
    );
    const frame = fc.oneof(
      // Frames with an id: a verb (or not) with arguments of the wrong kinds.
      fc.record({
        verb: fc.oneof(
          // (ACCESS is left out: in an open store any token is fine; test/auth covers it.)
          fc.constantFrom("GET", "SET", "DEL", "GETDIR", "STAT", "WALK", "WAIT", "WATCH", "CANCEL"),
          anyText,
        ),
        path: fc.oneof(badPath, badValue),
        glob: fc.oneof(badGlob, badValue),
        rev: fc.oneof(badRev, badValue),
        value: badValue,
        offset: badValue,
        limit: badValue,
        timeout: fc.constant(5),
      }),
    );
    let expected = 0;
    await fc.assert(
      fc.asyncProperty(frame, async (f) => {
        const id = `f${expected++}`;
        s.ws.send(JSON.stringify({ id, ...f }));
        await until(() => s.frames.some((x) => x.id === id), `an answer to ${JSON.stringify(f)}`);
        const answer = s.frames.find((x) => x.id === id) as { error?: { code: string } };
        expect(answer.error?.code).toMatch(/^[A-Z_]+$/);
        expect(answer.error?.code).not.toBe("OTHER");
      }),
      { numRuns: 300, seed: 42 },
    );
    for (const raw of ["", "{", "null", "[]", "42", '"x"', '{"verb":"REV"}', '{"id":{},"verb":"REV"}'])
      s.ws.send(raw);
    s.ws.send(new Uint8Array([0, 1, 2]));
    await until(() => s.frames.filter((x) => x.id === null).length === 9, "nine BAD_REQUEST answers");
    expect(
      s.frames
        .filter((x) => x.id === null)
        .every((x) => (x.error as { code: string }).code === "BAD_REQUEST"),
    ).toBe(true);
    expect(s.isClosed()).toBe(false);
    expect(await storeRev()).toBe(before);
    s.ws.close();
  }, 120_000);

  it("SESSION, KEEPALIVE, ENDSESSION and TXN with random arguments always answer, never OTHER; bad ones change nothing", async () => {
    const s = await socket();
    const anyJson = fc.jsonValue({ maxDepth: 3 });
    const frame = fc.record(
      {
        verb: fc.constantFrom("SESSION", "KEEPALIVE", "ENDSESSION", "TXN"),
        session: fc.oneof(anyJson, fc.constantFrom("", "a.b", "x".repeat(65), "never-opened")),
        ttl: fc.oneof(anyJson, fc.integer({ min: -(2 ** 40), max: 999 }), fc.integer({ min: 3_600_001 })),
        checks: anyJson,
        ops: fc.oneof(
          anyJson,
          fc.array(
            fc.record(
              {
                op: fc.oneof(anyJson, fc.constantFrom("set", "del")),
                path: fc.oneof(badPath, anyJson),
                rev: fc.oneof(badRev, anyJson),
                value: anyJson,
              },
              { requiredKeys: [] },
            ),
            { maxLength: 3 },
          ),
        ),
      },
      { requiredKeys: ["verb"] },
    );
    let n = 0;
    await fc.assert(
      fc.asyncProperty(frame, async (f) => {
        const id = `s${n++}`;
        s.ws.send(JSON.stringify({ id, ...f }));
        await until(() => s.frames.some((x) => x.id === id), `an answer to ${JSON.stringify(f)}`);
        const answer = s.frames.find((x) => x.id === id) as { error?: { code: string } };
        if (answer.error) expect(answer.error.code).toMatch(/^[A-Z_]+$/);
        expect(answer.error?.code).not.toBe("OTHER");
      }),
      { numRuns: 300, seed: 1206 },
    );
    // Malformed ones, which must be refused before they are decided.
    const before = await storeRev();
    for (const f of [
      { verb: "SESSION", ttl: 999 },
      { verb: "SESSION", ttl: "abc" },
      { verb: "SESSION", session: "" },
      { verb: "KEEPALIVE" },
      { verb: "KEEPALIVE", session: "a.b" },
      { verb: "ENDSESSION", session: 7 },
      { verb: "ENDSESSION", session: "never-opened" },
      { verb: "TXN" },
      { verb: "TXN", ops: [] },
      { verb: "TXN", ops: [{ op: "x", path: "/a", rev: -1 }] },
      { verb: "TXN", checks: [{ path: "/a", rev: -1 }] },
      { verb: "TXN", ops: [{ op: "set", path: "a", rev: -1, value: "" }] },
    ]) {
      const id = `m${n++}`;
      s.ws.send(JSON.stringify({ id, ...f }));
      await until(() => s.frames.some((x) => x.id === id), `an answer to ${JSON.stringify(f)}`);
      expect((s.frames.find((x) => x.id === id) as { error?: unknown }).error).toBeDefined();
    }
    expect(await storeRev()).toBe(before);
    expect(s.isClosed()).toBe(false);
    s.ws.close();
  }, 120_000);

  it("a flood of watches stops at the per-socket limit with TOO_LARGE", async () => {
    const s = await socket();
    for (let i = 0; i < 1001; i++)
      s.ws.send(JSON.stringify({ id: i, verb: "WATCH", glob: `/flood/${i}`, rev: 1 }));
    await until(() => s.frames.filter((f) => typeof f.id === "number").length === 1001, "1001 answers");
    const refused = s.frames.filter((f) => (f.error as { code?: string } | undefined)?.code === "TOO_LARGE");
    expect(refused).toHaveLength(1);
    expect(s.frames.filter((f) => f.watching === true)).toHaveLength(1000);
    s.ws.close();
  }, 60_000);
});
