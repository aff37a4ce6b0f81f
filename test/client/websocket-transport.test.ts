// The WebSocket transport against a fake endpoint, on fake timers: the ping
// heartbeat, a dead socket noticed and replaced, and sessions held, attached
// again after a reconnect, and lost.

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Client } from "../../client/client";
import { NoSessionError, RevMismatchError } from "../../client/errors";
import type { Session } from "../../client/session";
import { WebSocketTransport } from "../../client/websocket-transport";
import { FakeServer, type Handler } from "./fake-socket";

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
});
afterEach(() => {
  vi.useRealTimers();
});

function setup(options: { handler?: Handler; token?: string; heartbeatIntervalMs?: number } = {}) {
  const server = new FakeServer(options.handler);
  const transport = new WebSocketTransport("ws://fake/v1/ws", {
    createSocket: server.createSocket,
    token: options.token,
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? 1_000,
    backoff: { minDelayMs: 10, maxDelayMs: 10 },
  });
  const client = new Client({ transport });
  return { server, transport, client };
}

const tick = (ms: number) => vi.advanceTimersByTimeAsync(ms);

/** How many pings went out on a socket. */
function pings(sent: string[]) {
  return sent.filter((s) => s === "ping").length;
}

describe("the heartbeat", () => {
  it("sends the text frame ping every interval and keeps a socket that answers pong", async () => {
    const { server, client } = setup();
    const watch = client.watch("/a/**", { from: 1 });
    await tick(1);
    await tick(3_500);
    expect(server.sockets).toHaveLength(1);
    expect(pings(server.last.sent)).toBe(3);
    // Exactly the four bytes, never JSON.
    expect(server.last.sent.filter((s) => s.includes("ping"))).toEqual(["ping", "ping", "ping"]);
    watch.cancel();
    client.close();
  });

  it("declares a socket silent for two intervals dead, reconnects, and resumes the watch", async () => {
    const { server, client } = setup();
    const watch = client.watch("/a/**", { from: 1 });
    const seen: number[] = [];
    const consumed = (async () => {
      for await (const event of watch) seen.push(event.rev);
    })();
    await tick(1);
    const first = server.last;
    const watchId = first.frames().find((f) => f.verb === "WATCH")?.id;
    first.push({ id: watchId, event: { path: "/a/x", rev: 5, op: "set", value: "" } });
    first.silent = true;
    // Heard last at about 1 ms: not dead before two intervals of silence...
    await tick(1_990);
    expect(server.sockets).toHaveLength(1);
    // ...and replaced right after.
    await tick(50);
    expect(first.closed).toBe(true);
    expect(server.sockets).toHaveLength(2);
    const resumed = server.last.frames().find((f) => f.verb === "WATCH");
    expect(resumed).toMatchObject({ glob: "/a/**", rev: 6 });
    server.last.push({ id: resumed?.id, event: { path: "/a/y", rev: 6, op: "set", value: "" } });
    await tick(1);
    expect(seen).toEqual([5, 6]);
    watch.cancel();
    await consumed;
    client.close();
  });

  it("sends again an unanswered call on the new socket", async () => {
    const { server, client } = setup({
      handler: (f, socket) => (socket === server.sockets[1] && f.verb === "NOP" ? { rev: 9 } : undefined),
    });
    const nop = client.nop();
    await tick(1);
    const first = server.last;
    first.silent = true;
    await tick(2_100);
    expect(await nop).toBe(9);
    const [a, b] = server.sockets.map((s) => s.frames().find((f) => f.verb === "NOP"));
    expect(b?.requestId).toBe(a?.requestId);
    client.close();
  });
});

describe("sessions over a WebSocket", () => {
  async function open(client: Client, ttlMs: number): Promise<Session> {
    const opening = client.session({ ttlMs });
    await tick(5);
    return opening;
  }

  it("opens with SESSION and its ttl, and pings at least every ttl / 3", async () => {
    const { server, client } = setup({ heartbeatIntervalMs: 5_000 });
    const session = await open(client, 3_000);
    expect(server.last.frames()[0]).toMatchObject({ verb: "SESSION", ttl: 3_000 });
    expect([session.id, session.ttlMs, session.rev]).toEqual(["S1", 3_000, 10]);
    await tick(3_050);
    expect(pings(server.last.sent)).toBe(3);
    await tick(10_000);
    expect(session.signal.aborted).toBe(false);
    client.close();
  });

  it("attaches its sessions on a new socket after ACCESS and before the pending calls", async () => {
    const { server, client, transport } = setup({ token: "t" });
    const session = await open(client, 3_000);
    transport.dropConnection();
    const rev = client.rev();
    await tick(50);
    expect(server.sockets).toHaveLength(2);
    expect(server.last.frames().map((f) => f.verb)).toEqual(["ACCESS", "SESSION", "REV"]);
    expect(server.last.frames()[1]).toEqual(expect.objectContaining({ session: session.id }));
    expect(await rev).toBe(7);
    expect(session.signal.aborted).toBe(false);
    client.close();
  });

  it("is lost when the reattach answers NOSESSION", async () => {
    const { server, client, transport } = setup();
    const session = await open(client, 3_000);
    const lost: Error[] = [];
    session.onLost((error) => lost.push(error));
    server.sessions.clear();
    transport.dropConnection();
    await tick(50);
    expect(session.signal.aborted).toBe(true);
    expect(session.signal.reason).toBeInstanceOf(NoSessionError);
    expect(lost).toEqual([session.signal.reason]);
    client.close();
  });

  it("is lost when it is not attached again within its ttl", async () => {
    const { server, client } = setup();
    const session = await open(client, 3_000);
    // The last ping answered was sent at about 1,000 ms: the session lives until about 4,000 ms.
    await tick(1_010);
    server.refusing = true;
    server.last.silent = true;
    await tick(2_900);
    expect(session.signal.aborted).toBe(false);
    await tick(200);
    expect(session.signal.aborted).toBe(true);
    expect(String(session.signal.reason)).toMatch(/not kept alive within its ttl/);
    client.close();
  });

  it("keeps alive with KEEPALIVE, and ends with ENDSESSION without counting as lost", async () => {
    const { server, client } = setup();
    const session = await open(client, 3_000);
    const lost: Error[] = [];
    session.onLost((error) => lost.push(error));
    const kept = session.keepAlive();
    await tick(1);
    await kept;
    const ended = session.end();
    await tick(1);
    await ended;
    expect(server.last.frames().map((f) => [f.verb, f.session])).toEqual([
      ["SESSION", undefined],
      ["KEEPALIVE", "S1"],
      ["ENDSESSION", "S1"],
    ]);
    expect(session.signal.aborted).toBe(true);
    expect(lost).toEqual([]);
    // No longer held: a reconnect does not attach it, and its deadline does not fire.
    await tick(10_000);
    expect(lost).toEqual([]);
    client.close();
  });

  it("names the session on SET", async () => {
    const { server, client } = setup({
      handler: (f) => (f.verb === "SET" ? { path: f.path, rev: 12 } : undefined),
    });
    const session = await open(client, 3_000);
    const set = client.set("/e", 0, "x", { session });
    await tick(1);
    expect(await set).toBe(12);
    expect(server.last.frames().at(-1)).toMatchObject({ verb: "SET", path: "/e", rev: 0, session: "S1" });
    client.close();
  });
});

describe("transactions over a WebSocket", () => {
  it("sends TXN with base64 for binary values and answers rev and results", async () => {
    const { server, client } = setup({
      handler: (f) =>
        f.verb === "TXN"
          ? {
              rev: 21,
              results: [
                { path: "/a", rev: 20 },
                { path: "/b", rev: 21 },
              ],
            }
          : undefined,
    });
    const answer = client.txn({
      checks: [{ path: "/owner", rev: 12 }],
      ops: [
        { op: "set", path: "/a", rev: -1, value: new Uint8Array([0xff, 0x00]), session: "S9" },
        { op: "del", path: "/b", rev: -1 },
      ],
    });
    await tick(1);
    expect(await answer).toEqual({
      rev: 21,
      results: [
        { path: "/a", rev: 20 },
        { path: "/b", rev: 21 },
      ],
    });
    const frame = server.last.frames().find((f) => f.verb === "TXN");
    expect(frame).toMatchObject({
      checks: [{ path: "/owner", rev: 12 }],
      ops: [
        { op: "set", path: "/a", rev: -1, value: "/wA=", encoding: "base64", session: "S9" },
        { op: "del", path: "/b", rev: -1 },
      ],
    });
    expect(typeof frame?.requestId).toBe("string");
    client.close();
  });

  it("throws the failing item's error with its index, path, rev and storeRev", async () => {
    const { client } = setup({
      handler: (f) =>
        f.verb === "TXN"
          ? {
              error: { code: "REV_MISMATCH", message: "no", storeRev: 30, path: "/owner", rev: 13, check: 0 },
            }
          : undefined,
    });
    const failed = client.txn({ checks: [{ path: "/owner", rev: 12 }], ops: [] }).catch((e) => e);
    await tick(1);
    const error = await failed;
    expect(error).toBeInstanceOf(RevMismatchError);
    expect([error.storeRev, error.path, error.rev, error.check, error.op]).toEqual([
      30,
      "/owner",
      13,
      0,
      undefined,
    ]);
    client.close();
  });
});
