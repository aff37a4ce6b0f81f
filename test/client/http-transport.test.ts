// The HTTP transport's sessions, transactions and retries, against a fake
// fetch: a session kept alive by POST /v1/sessions/<id>/keepalive every
// ttl / 3, and one retry rule for every loop.

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Client } from "../../client/client";
import {
  ConnectionError,
  DoozerError,
  isRetryable,
  NoQuorumError,
  NoSessionError,
  RevMismatchError,
  TimeoutError,
  TooLateError,
} from "../../client/errors";
import { HttpTransport } from "../../client/http-transport";
import type { Answer, Call, Transport } from "../../client/transport";

interface Seen {
  method: string;
  url: URL;
  body: string;
  requestId: string | null;
}

function fakeHttp(answer: (seen: Seen) => Response) {
  const seen: Seen[] = [];
  const transport = new HttpTransport("http://doozer", {
    fetch: async (request) => {
      const s: Seen = {
        method: request.method,
        url: new URL(request.url),
        body: await request.text(),
        requestId: request.headers.get("Doozer-Request-Id"),
      };
      seen.push(s);
      return answer(s);
    },
  });
  return { seen, client: new Client({ transport, backoff: { minDelayMs: 1, maxDelayMs: 1 } }) };
}

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

describe("sessions over HTTP", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("opens with POST /v1/sessions?ttl, keeps alive every ttl / 3, and is lost on NOSESSION", async () => {
    let alive = true;
    const { seen, client } = fakeHttp(({ method, url }) => {
      if (method === "POST" && url.pathname === "/v1/sessions") {
        return json({ session: "abc", ttl: Number(url.searchParams.get("ttl")), rev: 4 });
      }
      if (url.pathname === "/v1/sessions/abc/keepalive") {
        return alive
          ? json({ session: "abc", ttl: 3_000 })
          : json({ error: { code: "NOSESSION", message: "gone" } }, 404);
      }
      return json({ error: { code: "NOT_FOUND", message: "?" } }, 404);
    });
    const session = await client.session({ ttlMs: 3_000 });
    expect([session.id, session.ttlMs, session.rev]).toEqual(["abc", 3_000, 4]);
    expect(seen[0]?.url.search).toBe("?ttl=3000");
    await vi.advanceTimersByTimeAsync(3_050);
    const keepalives = () => seen.filter((s) => s.url.pathname.endsWith("/keepalive")).length;
    expect(keepalives()).toBe(3);
    // Well past the ttl from the open: the keepalives carried it.
    expect(session.signal.aborted).toBe(false);
    alive = false;
    await vi.advanceTimersByTimeAsync(1_000);
    expect(session.signal.reason).toBeInstanceOf(NoSessionError);
    const after = keepalives();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(keepalives()).toBe(after);
    client.close();
  });

  it("is lost when no keepalive is answered within the ttl", async () => {
    const { client } = fakeHttp(({ url }) => {
      if (url.pathname === "/v1/sessions") return json({ session: "abc", ttl: 3_000, rev: 1 });
      throw new TypeError("fetch failed");
    });
    const session = await client.session({ ttlMs: 3_000 });
    await vi.advanceTimersByTimeAsync(2_990);
    expect(session.signal.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(20);
    expect(session.signal.reason).toBeInstanceOf(NoSessionError);
    client.close();
  });

  it("ends with DELETE /v1/sessions/<id> and names the session on PUT", async () => {
    const { seen, client } = fakeHttp(({ method, url }) => {
      if (url.pathname === "/v1/sessions") return json({ session: "abc", ttl: 15_000, rev: 1 });
      if (method === "PUT") return json({ path: url.pathname.slice("/v1/files".length), rev: 2 });
      return json({ session: "abc", rev: 3 });
    });
    const session = await client.session();
    expect(seen[0]?.url.search).toBe("");
    await client.set("/e", 0, "x", { session });
    await session.end();
    expect(seen.map((s) => `${s.method} ${s.url.pathname}${s.url.search}`)).toEqual([
      "POST /v1/sessions",
      "PUT /v1/files/e?rev=0&session=abc",
      "DELETE /v1/sessions/abc",
    ]);
    // Opening and ending are writes: each carries a request id for its retries.
    for (const s of seen) expect(s.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(session.signal.aborted).toBe(true);
    client.close();
  });
});

describe("transactions over HTTP", () => {
  it("posts the JSON body with a request id and reads the answer", async () => {
    const { seen, client } = fakeHttp(() => json({ rev: 8, results: [{ path: "/a", rev: 8 }] }));
    const answer = await client.txn({
      checks: [{ path: "/c", rev: 0 }],
      ops: [{ op: "set", path: "/a", rev: 0, value: "v" }],
    });
    expect(answer).toEqual({ rev: 8, results: [{ path: "/a", rev: 8 }] });
    expect(seen[0]?.method).toBe("POST");
    expect(seen[0]?.url.pathname).toBe("/v1/txn");
    expect(JSON.parse(seen[0]?.body ?? "")).toEqual({
      checks: [{ path: "/c", rev: 0 }],
      ops: [{ op: "set", path: "/a", rev: 0, value: "v" }],
    });
    expect(seen[0]?.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("throws the failing op's error, and retries a NO_QUORUM with the same request id", async () => {
    let n = 0;
    const { seen, client } = fakeHttp(() =>
      n++ === 0
        ? json({ error: { code: "NO_QUORUM", message: "later" } }, 503)
        : json({ error: { code: "NOTDIR", message: "x", storeRev: 5, path: "/f/g", rev: 0, op: 1 } }, 409),
    );
    const error = await client
      .txn({
        ops: [
          { op: "del", path: "/x", rev: -1 },
          { op: "set", path: "/f/g", rev: 0, value: "v" },
        ],
      })
      .catch((e) => e);
    expect(error).toBeInstanceOf(DoozerError);
    expect([error.code, error.storeRev, error.path, error.rev, error.op, error.check]).toEqual([
      "NOTDIR",
      5,
      "/f/g",
      0,
      1,
      undefined,
    ]);
    expect(seen).toHaveLength(2);
    expect(seen[1]?.requestId).toBe(seen[0]?.requestId);
  });
});

describe("one retry rule", () => {
  it("retries NO_QUORUM and a lost connection, and nothing else", () => {
    expect(isRetryable(new NoQuorumError("x"))).toBe(true);
    expect(isRetryable(new ConnectionError("x"))).toBe(true);
    for (const error of [
      new TimeoutError("x"),
      new RevMismatchError("x"),
      new TooLateError("x"),
      new NoSessionError("x"),
      new Error("x"),
      "x",
    ]) {
      expect(isRetryable(error)).toBe(false);
    }
    expect(new TimeoutError("x").retryable).toBe(false);
    expect(new NoQuorumError("x").retryable).toBe(true);
  });

  it("is the client's: a TIMEOUT is not sent again, a NO_QUORUM is", async () => {
    const errors = [new NoQuorumError("a"), new TimeoutError("b")];
    const calls: Call[] = [];
    const transport: Transport = {
      call: async (call: Call): Promise<Answer> => {
        calls.push(call);
        const error = errors.shift();
        if (error) throw error;
        return { rev: 1 };
      },
      watch: () => ({ cancel: () => undefined }),
      openSession: () => Promise.reject(new Error("unused")),
      close: () => undefined,
    };
    const client = new Client({ transport, backoff: { minDelayMs: 1, maxDelayMs: 1 } });
    await expect(client.rev()).rejects.toBeInstanceOf(TimeoutError);
    expect(calls).toHaveLength(2);
  });

  it("is the HTTP watch's: it waits again after NO_QUORUM and ends on TIMEOUT", async () => {
    let n = 0;
    const { client } = fakeHttp(() =>
      n++ === 0
        ? json({ error: { code: "NO_QUORUM", message: "later" } }, 503)
        : json({ error: { code: "TIMEOUT", message: "no" } }, 504),
    );
    const watch = client.watch("/a", { from: 1 });
    await expect(watch.next()).rejects.toBeInstanceOf(TimeoutError);
    expect(n).toBe(2);
  });
});
