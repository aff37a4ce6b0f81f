// The WebSocket protocol (SPEC §3) frame by frame, against the local cluster.

import { describe, expect, it } from "vitest";
import { useLocalCluster } from "./use-local-cluster";

const localCluster = useLocalCluster();

type Frame = Record<string, unknown>;

/** A raw socket that collects every frame it receives. */
async function open(): Promise<{
  ws: WebSocket;
  frames: Frame[];
  next(match: (f: Frame) => boolean): Promise<Frame>;
}> {
  const ws = new WebSocket(`${localCluster().url.replace("http", "ws")}/v1/ws`);
  const frames: Frame[] = [];
  const waiters: [(f: Frame) => boolean, (f: Frame) => void][] = [];
  ws.addEventListener("message", (event) => {
    const frame = JSON.parse(String(event.data)) as Frame;
    frames.push(frame);
    for (const [i, [match, resolve]] of waiters.entries()) {
      if (match(frame)) {
        waiters.splice(i, 1);
        resolve(frame);
        break;
      }
    }
  });
  await new Promise((resolve, reject) => {
    ws.addEventListener("open", resolve);
    ws.addEventListener("error", reject);
  });
  return {
    ws,
    frames,
    next: (match) => {
      const seen = frames.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve) => waiters.push([match, resolve]));
    },
  };
}

const byId = (id: unknown) => (f: Frame) => f.id === id && !("event" in f);
let n = 0;
const fresh = () => `/ws${++n}x${Date.now().toString(36)}`;

describe("the WebSocket protocol", () => {
  it("answers each verb by id with the HTTP answer's body", async () => {
    const s = await open();
    const dir = fresh();
    s.ws.send(JSON.stringify({ id: 1, verb: "SET", path: `${dir}/a`, rev: 0, value: "hello" }));
    const set = await s.next(byId(1));
    expect(set).toMatchObject({ id: 1, path: `${dir}/a` });
    const rev = set.rev as number;
    const requests: [string | number, Frame, Frame][] = [
      ["get", { verb: "GET", path: `${dir}/a` }, { path: `${dir}/a`, rev, value: "hello" }],
      ["stat", { verb: "STAT", path: `${dir}/a` }, { path: `${dir}/a`, rev, len: 5 }],
      [3, { verb: "GETDIR", path: dir }, { path: dir, entries: ["a"] }],
      [4, { verb: "WALK", glob: `${dir}/*` }, { files: [{ path: `${dir}/a`, rev, value: "hello" }] }],
      [5, { verb: "WAIT", glob: `${dir}/*`, rev }, { path: `${dir}/a`, rev, value: "hello", op: "set" }],
      [6, { verb: "WAIT", glob: `${dir}/*`, rev: rev + 100000, timeout: 50 }, { timeout: true }],
      [
        7,
        { verb: "SET", path: `${dir}/b`, rev: -1, value: "//4=", encoding: "base64" },
        { path: `${dir}/b` },
      ],
      [8, { verb: "GET", path: `${dir}/b` }, { value: "//4=", encoding: "base64" }],
      [9, { verb: "DEL", path: `${dir}/b`, rev: -1 }, { path: `${dir}/b` }],
      [10, { verb: "SET", path: `${dir}/a`, rev: 0, value: "x" }, { error: { code: "REV_MISMATCH", rev } }],
      [11, { verb: "GET", path: "/no such" }, { error: { code: "BAD_PATH" } }],
      [12, { verb: "GETDIR", path: dir, limit: 0 }, { error: { code: "RANGE" } }],
      [13, { verb: "SET", path: `${dir}/c` }, { error: { code: "MISSING_ARG" } }],
      [14, { verb: "FROB" }, { error: { code: "UNKNOWN_VERB" } }],
    ];
    for (const [id, request] of requests) s.ws.send(JSON.stringify({ id, ...request }));
    for (const [id, , expected] of requests) {
      expect(await s.next(byId(id))).toMatchObject({ id, ...expected });
    }
    s.ws.send(JSON.stringify({ id: 15, verb: "REV" }));
    expect(typeof (await s.next(byId(15))).rev).toBe("number");
    s.ws.close();
  });

  it("answers frames it cannot read with id null and BAD_REQUEST, and stays open", async () => {
    const s = await open();
    s.ws.send("not json");
    s.ws.send(new Uint8Array([1, 2, 3]));
    s.ws.send(JSON.stringify({ verb: "REV" }));
    s.ws.send("[1,2]");
    for (let i = 0; i < 4; i++) {
      await s.next(() => s.frames.filter((f) => f.id === null).length > i);
    }
    expect(s.frames.filter((f) => f.id === null).map((f) => (f.error as Frame).code)).toEqual(
      Array(4).fill("BAD_REQUEST"),
    );
    s.ws.send(JSON.stringify({ id: "still", verb: "REV" }));
    expect(await s.next(byId("still"))).toHaveProperty("rev");
    s.ws.close();
  });

  it("streams a watch's events in rev order until CANCEL, after which none arrive", async () => {
    const s = await open();
    const writer = await open();
    const dir = fresh();
    s.ws.send(JSON.stringify({ id: 9, verb: "WATCH", glob: `${dir}/**` }));
    expect(await s.next((f) => f.id === 9 && f.watching === true)).toBeTruthy();
    const revs: number[] = [];
    for (let i = 0; i < 5; i++) {
      writer.ws.send(
        JSON.stringify({ id: i, verb: "SET", path: `${dir}/k${i % 2}`, rev: -1, value: `v${i}` }),
      );
      revs.push((await writer.next(byId(i))).rev as number);
    }
    writer.ws.send(JSON.stringify({ id: 99, verb: "SET", path: "/elsewhere", rev: -1, value: "no" }));
    await writer.next(byId(99));
    await s.next(() => s.frames.filter((f) => f.id === 9 && "event" in f).length === 5);
    const events = s.frames.filter((f) => f.id === 9 && "event" in f).map((f) => (f.event as Frame).rev);
    expect(events).toEqual(revs);
    s.ws.send(JSON.stringify({ id: 10, verb: "CANCEL", watch: 9 }));
    expect(await s.next(byId(10))).toEqual({ id: 10 });
    writer.ws.send(JSON.stringify({ id: 100, verb: "SET", path: `${dir}/k0`, rev: -1, value: "after" }));
    await writer.next(byId(100));
    s.ws.send(JSON.stringify({ id: 11, verb: "REV" }));
    await s.next(byId(11));
    expect(s.frames.filter((f) => f.id === 9 && "event" in f)).toHaveLength(5);
    s.ws.close();
    writer.ws.close();
  });

  it("answers a WATCH from before the history window with TOO_LATE, and starts one inside it", async () => {
    const s = await open();
    s.ws.send(JSON.stringify({ id: "first", verb: "SET", path: fresh(), rev: -1, value: "x" }));
    const first = (await s.next(byId("first"))).rev as number;
    // Move the 2,000-rev window past `first`: nops on one socket ride in large batches.
    for (let i = 0; i < 2100; i++) s.ws.send(JSON.stringify({ id: `nop${i}`, verb: "NOP" }));
    await s.next(byId("nop2099"));
    s.ws.send(JSON.stringify({ id: "old", verb: "WATCH", glob: "/**", rev: first }));
    expect(await s.next((f) => f.id === "old")).toMatchObject({ id: "old", error: { code: "TOO_LATE" } });
    s.ws.send(JSON.stringify({ id: "recent", verb: "WATCH", glob: "/**", rev: first + 2100 }));
    expect(await s.next((f) => f.id === "recent")).toEqual({ id: "recent", watching: true });
    s.ws.close();
  }, 60_000);

  it("refuses a plain GET on /v1/ws", async () => {
    const response = await fetch(`${localCluster().url}/v1/ws`);
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: Frame }).error.code).toBe("BAD_REQUEST");
  });
});
