// The owner of an ephemeral file (SPEC §6: `session`) reaches the caller on
// every read that carries it: get, stat, walk entries, wait, and watch events,
// over HTTP, a WebSocket and a service binding's RPC methods; a persistent
// file has no `session` key at all.

import { afterEach, describe, expect, it, vi } from "vitest";
import { Client } from "../../client/client";
import { HttpTransport } from "../../client/http-transport";
import { BindingTransport } from "../../client/rpc-transport";
import type { WatchEvent } from "../../client/watch";
import { WebSocketTransport } from "../../client/websocket-transport";
import { FakeServer } from "./fake-socket";

const json = (body: unknown) =>
  new Response(JSON.stringify(body), { headers: { "Content-Type": "application/json" } });

/** Reads every transport's answers back through the client, the same way. */
async function readAll(client: Client) {
  const owned = await client.get("/e");
  const plain = await client.get("/p");
  const stat = await client.stat("/e");
  const walked = [];
  for await (const f of client.walk("/*", { pageSize: 10 })) walked.push(f);
  const waited = await client.wait("/*", 5, { timeoutMs: 1_000 });
  const watch = client.watch("/*", { from: 5 });
  const events: WatchEvent[] = [];
  for await (const e of watch) {
    events.push(e);
    if (events.length === 2) break;
  }
  return { owned, plain, stat, walked, waited, events };
}

function expectSessions(read: Awaited<ReturnType<typeof readAll>>) {
  expect(read.owned.session).toBe("S1");
  expect(read.owned.value.text()).toBe("e");
  expect("session" in read.plain).toBe(false);
  expect(read.stat).toEqual({ len: 1, rev: 5, storeRev: 9, session: "S1" });
  expect(read.walked.map((f) => [f.path, f.session])).toEqual([
    ["/e", "S1"],
    ["/p", undefined],
  ]);
  expect("session" in (read.walked[1] ?? {})).toBe(false);
  expect(read.waited?.session).toBe("S1");
  expect(read.events.map((e) => [e.rev, e.op, e.session])).toEqual([
    [5, "set", "S1"],
    [6, "del", undefined],
  ]);
  expect("session" in (read.events[1] ?? {})).toBe(false);
}

describe("the session field", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("comes through over HTTP (GET's Doozer-Session header, the JSON answers, the watch's WAITs)", async () => {
    const transport = new HttpTransport("http://doozer", {
      fetch: async (request) => {
        const url = new URL(request.url);
        if (url.pathname === "/v1/files/e") {
          return new Response("e", {
            headers: { "Doozer-Rev": "5", "Doozer-Store-Rev": "9", "Doozer-Session": "S1" },
          });
        }
        if (url.pathname === "/v1/files/p") {
          return new Response("p", { headers: { "Doozer-Rev": "4", "Doozer-Store-Rev": "9" } });
        }
        if (url.pathname === "/v1/stat/e")
          return json({ path: "/e", len: 1, rev: 5, storeRev: 9, session: "S1" });
        if (url.pathname === "/v1/walk") {
          return json({
            rev: 9,
            files: [
              { path: "/e", rev: 5, value: "ZQ==", encoding: "base64", session: "S1" },
              { path: "/p", rev: 4, value: "cA==", encoding: "base64" },
            ],
          });
        }
        if (url.pathname === "/v1/wait") {
          return Number(url.searchParams.get("rev")) <= 5
            ? json({ path: "/e", rev: 5, op: "set", value: "ZQ==", encoding: "base64", session: "S1" })
            : json({ path: "/e", rev: 6, op: "del", value: "" });
        }
        return new Response(null, { status: 404 });
      },
    });
    const client = new Client({ transport });
    expectSessions(await readAll(client));
    client.close();
  });

  it("comes through over a WebSocket (answers and event frames)", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    const server = new FakeServer((frame, socket) => {
      switch (frame.verb) {
        case "GET":
          return frame.path === "/e"
            ? { path: "/e", rev: 5, storeRev: 9, value: "ZQ==", encoding: "base64", session: "S1" }
            : { path: "/p", rev: 4, storeRev: 9, value: "cA==", encoding: "base64" };
        case "STAT":
          return { path: "/e", len: 1, rev: 5, storeRev: 9, session: "S1" };
        case "WALK":
          return {
            rev: 9,
            files: [
              { path: "/e", rev: 5, value: "ZQ==", encoding: "base64", session: "S1" },
              { path: "/p", rev: 4, value: "cA==", encoding: "base64" },
            ],
          };
        case "WAIT":
          return { path: "/e", rev: 5, op: "set", value: "ZQ==", encoding: "base64", session: "S1" };
        case "WATCH": {
          const id = socket.frames().find((f) => f.verb === "WATCH")?.id;
          setTimeout(() => {
            socket.push({ id, event: { path: "/e", rev: 5, op: "set", value: "ZQ==", session: "S1" } });
            socket.push({ id, event: { path: "/e", rev: 6, op: "del", value: "" } });
          }, 1);
          return undefined;
        }
        default:
          return undefined;
      }
    });
    const transport = new WebSocketTransport("ws://fake/v1/ws", { createSocket: server.createSocket });
    const client = new Client({ transport });
    const reading = readAll(client);
    for (let i = 0; i < 20; i++) await vi.advanceTimersByTimeAsync(5);
    expectSessions(await reading);
    client.close();
  });

  it("comes through over a service binding's RPC methods (answers and the watch stream)", async () => {
    const bytes = (s: string) => new TextEncoder().encode(s);
    const binding = {
      fetch: async () => new Response(null, { status: 500 }),
      rpcVersion: async () => 1,
      get: async (path: string) =>
        path === "/e"
          ? { path, rev: 5, storeRev: 9, value: bytes("e"), session: "S1" }
          : { path, rev: 4, storeRev: 9, value: bytes("p") },
      stat: async (path: string) => ({ path, len: 1, rev: 5, storeRev: 9, session: "S1" }),
      walk: async () => ({
        rev: 9,
        files: [
          { path: "/e", rev: 5, value: bytes("e"), session: "S1" },
          { path: "/p", rev: 4, value: bytes("p") },
        ],
      }),
      wait: async () => ({ path: "/e", rev: 5, op: "set", value: bytes("e"), session: "S1" }),
      watch: async () =>
        new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(
              bytes(
                `${JSON.stringify({ path: "/e", rev: 5, op: "set", value: "ZQ==", session: "S1" })}\n` +
                  `${JSON.stringify({ path: "/e", rev: 6, op: "del", value: "" })}\n`,
              ),
            );
          },
        }),
    };
    const transport = new BindingTransport(binding, { fetch: binding.fetch });
    const client = new Client({ transport });
    expectSessions(await readAll(client));
    client.close();
  });
});
