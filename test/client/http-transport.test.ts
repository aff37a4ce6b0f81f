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
    for (const s of seen) expect(s.requestId).toMatch(/^[0-9a-z]{9}-[0-9a-f]{24}$/);
    expect(session.signal.aborted).toBe(true);
    client.close();
  });
});

describe("the keepalive schedule over HTTP", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    vi.setSystemTime(0);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  interface Sent {
    atMs: number;
    signal: AbortSignal;
    settled: boolean;
  }

  /** A fetch that opens session "abc" (ttl 3,000) and answers each keepalive as `keepalive` says. */
  function slowHttp(keepalive: (sent: Sent) => Promise<Response>) {
    const sent: Sent[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const transport = new HttpTransport("http://doozer", {
      fetch: async (request) => {
        const url = new URL(request.url);
        if (url.pathname === "/v1/sessions") return json({ session: "abc", ttl: 3_000, rev: 1 });
        const s: Sent = { atMs: Date.now(), signal: request.signal, settled: false };
        sent.push(s);
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        const aborted = new Promise<never>((_, reject) =>
          request.signal.addEventListener("abort", () => reject(request.signal.reason), { once: true }),
        );
        try {
          return await Promise.race([keepalive(s), aborted]);
        } finally {
          s.settled = true;
          inFlight--;
        }
      },
    });
    const client = new Client({ transport, backoff: { minDelayMs: 1, maxDelayMs: 1 } });
    return { sent, client, maxInFlight: () => maxInFlight };
  }

  const later = (ms: number, response: () => Response) =>
    new Promise<Response>((resolve) => setTimeout(() => resolve(response()), ms));
  const alive = () => json({ session: "abc", ttl: 3_000 });

  it("sends every ttl / 3 from the previous send, so answers slower than that keep the session", async () => {
    // Each answer takes 1,900 ms, just under 2/3 of the ttl: counting from the answers (the
    // old schedule) a keepalive went out every 2,900 ms and the session was lost at 4,000.
    const { sent, client, maxInFlight } = slowHttp(() => later(1_900, alive));
    const session = await client.session({ ttlMs: 3_000 });
    await vi.advanceTimersByTimeAsync(10_050);
    expect(session.signal.aborted).toBe(false);
    expect(sent.map((s) => s.atMs)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((n) => n * 1_000));
    expect(maxInFlight()).toBe(2);
    client.close();
  });

  it("keeps at most two in flight, gives one up after a ttl, and sends the one that was due then", async () => {
    let hang = true;
    const { sent, client } = slowHttp(() =>
      hang ? new Promise<never>(() => undefined) : Promise.resolve(alive()),
    );
    const session = await client.session({ ttlMs: 3_000 });
    await vi.advanceTimersByTimeAsync(2_500);
    expect(sent.map((s) => s.atMs)).toEqual([1_000, 2_000]);
    // An explicit keepalive gets through and carries the lease to 5,500.
    hang = false;
    await session.keepAlive();
    await vi.advanceTimersByTimeAsync(1_499); // 3,999: the send due at 3,000 waits for a free slot.
    expect(sent.map((s) => s.atMs)).toEqual([1_000, 2_000, 2_500]);
    expect(sent.map((s) => s.settled)).toEqual([false, false, true]);
    await vi.advanceTimersByTimeAsync(3); // 4,002: the first is given up, and the overdue one goes.
    expect(sent[0]?.signal.aborted).toBe(true);
    expect(sent).toHaveLength(4);
    expect(sent[3]?.atMs).toBeGreaterThanOrEqual(4_000);
    expect(session.signal.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(session.signal.aborted).toBe(false);
    client.close();
  });

  it("sends a failed keepalive again sooner than the schedule", async () => {
    let n = 0;
    const { sent, client } = slowHttp(async () => {
      if (n++ === 0) throw new TypeError("fetch failed");
      return alive();
    });
    const session = await client.session({ ttlMs: 3_000 });
    await vi.advanceTimersByTimeAsync(1_060);
    expect(sent).toHaveLength(2);
    expect((sent[1]?.atMs ?? 0) - 1_000).toBeLessThanOrEqual(50);
    // Then the schedule counts from that send.
    await vi.advanceTimersByTimeAsync(1_000);
    expect(sent).toHaveLength(3);
    expect((sent[2]?.atMs ?? 0) - (sent[1]?.atMs ?? 0)).toBe(1_000);
    expect(session.signal.aborted).toBe(false);
    client.close();
  });

  it("stops, and aborts the keepalives in flight, once the session is over", async () => {
    const { sent, client } = slowHttp(() => new Promise<never>(() => undefined));
    const session = await client.session({ ttlMs: 3_000 });
    await vi.advanceTimersByTimeAsync(3_010);
    expect(session.signal.reason).toBeInstanceOf(NoSessionError);
    expect(sent.map((s) => s.atMs)).toEqual([1_000, 2_000]);
    await vi.advanceTimersByTimeAsync(1);
    expect(sent.every((s) => s.signal.aborted && s.settled)).toBe(true);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(sent).toHaveLength(2);
    client.close();
  });
});

describe("a response cut off mid-body", () => {
  /** A 200 whose body sends `start` and then fails as undici does when the connection drops. */
  const cutOff = (start: string, headers: Record<string, string> = {}) =>
    new Response(
      new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(start));
          controller.error(new TypeError("terminated"));
        },
      }),
      { status: 200, headers },
    );

  it("is a ConnectionError, for JSON answers, GET values and WAITs alike", async () => {
    const transport = new HttpTransport("http://doozer", {
      fetch: async (request) => {
        const { pathname } = new URL(request.url);
        return pathname.startsWith("/v1/files/")
          ? cutOff("part of a val", { "Doozer-Rev": "3", "Doozer-Store-Rev": "4" })
          : cutOff('{"rev": 1');
      },
    });
    for (const call of [
      { verb: "REV", args: {} },
      { verb: "GET", args: { path: "/a" } },
      { verb: "WAIT", args: { glob: "/a", rev: 1 } },
      { verb: "SET", args: { path: "/a", rev: 0, value: "v" }, requestId: "r1" },
    ] as Call[]) {
      const error = await transport.call(call).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConnectionError);
      expect(isRetryable(error)).toBe(true);
      expect((error as Error).message).toMatch(/cut off: terminated/);
    }
  });

  it("is retried by the client", async () => {
    let n = 0;
    const { seen, client } = fakeHttp(({ url }) => {
      if (url.pathname === "/v1/rev") return n++ === 0 ? cutOff('{"re') : json({ rev: 12 });
      return n++ === 2
        ? cutOff("x", { "Doozer-Rev": "3", "Doozer-Store-Rev": "4" })
        : new Response("value", { headers: { "Doozer-Rev": "3", "Doozer-Store-Rev": "4" } });
    });
    expect(await client.rev()).toBe(12);
    expect((await client.get("/a")).value.text()).toBe("value");
    expect(seen).toHaveLength(4);
  });

  it("is OTHER, not retried, when the body came whole but is not JSON", async () => {
    const { seen, client } = fakeHttp(() => new Response("<html>proxy</html>", { status: 200 }));
    const error = await client.rev().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DoozerError);
    expect((error as DoozerError).code).toBe("OTHER");
    expect(seen).toHaveLength(1);
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
    expect(seen[0]?.requestId).toMatch(/^[0-9a-z]{9}-[0-9a-f]{24}$/);
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
