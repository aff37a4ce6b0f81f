// A watch outlives its acceptor hibernating: the socket stays open, the object
// reloads its replica and its watch rows, and the next event still arrives.

import { env, evictDurableObject, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Env } from "../../worker/env";
import { base, put } from "./helpers";

describe("a watch across hibernation", () => {
  it("delivers the next events after every acceptor hibernated, none missed or repeated", async () => {
    const response = await SELF.fetch(`${base}/v1/ws`, { headers: { Upgrade: "websocket" } });
    expect(response.status).toBe(101);
    const ws = response.webSocket as WebSocket;
    ws.accept();
    const frames: Record<string, unknown>[] = [];
    ws.addEventListener("message", (e) => frames.push(JSON.parse(String(e.data))));
    const until = async (check: () => boolean) => {
      for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
      expect(check()).toBe(true);
    };
    ws.send(JSON.stringify({ id: 1, verb: "WATCH", glob: "/hib/**" }));
    await until(() => frames.some((f) => f.id === 1 && f.watching === true));
    const first = ((await (await put("/hib/a", -1, "one")).json()) as { rev: number }).rev;
    await until(() => frames.some((f) => f.id === 1 && "event" in f));

    const e = env as unknown as Env;
    for (let i = 0; i < 5; i++) {
      await evictDurableObject(e.ACCEPTOR.getByName(`acceptor-${i}`), { webSockets: "hibernate" });
    }
    const second = ((await (await put("/hib/b", -1, "two")).json()) as { rev: number }).rev;
    await until(() => frames.filter((f) => f.id === 1 && "event" in f).length >= 2);
    await new Promise((r) => setTimeout(r, 50));
    const events = frames
      .filter((f) => f.id === 1 && "event" in f)
      .map((f) => (f.event as { rev: number }).rev);
    expect(events).toEqual([first, second]);
    ws.close();
  });
});
