// Tokens everywhere (SPEC §2, §3), with DOOZER_RWSECRET and DOOZER_ROSECRET set
// for the whole cluster (the Worker and the acceptors): HTTP, WebSocket
// (ACCESS or a token at the upgrade), the fault switch, and the trusted
// service-binding entrypoint.

import { createExecutionContext, env, SELF, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Env } from "../../worker/env";
import { DoozerService } from "../../worker/index";

const rw = "rw-secret-for-tests";
const ro = "ro-secret-for-tests";
const base = "http://doozer.test";

function bearer(token: string): HeadersInit {
  return { Authorization: `Bearer ${token}` };
}

async function code(response: Response): Promise<string> {
  return ((await response.json()) as { error: { code: string } }).error.code;
}

type Frame = Record<string, unknown>;

async function socket(init: { query?: string; headers?: HeadersInit } = {}) {
  const response = await SELF.fetch(`${base}/v1/ws${init.query ?? ""}`, {
    headers: { Upgrade: "websocket", ...init.headers },
  });
  if (response.status !== 101) return { status: response.status, response };
  const ws = response.webSocket as WebSocket;
  ws.accept();
  const frames: Frame[] = [];
  ws.addEventListener("message", (e) => frames.push(JSON.parse(String(e.data)) as Frame));
  let next = 1;
  const ask = async (frame: Frame): Promise<Frame> => {
    const id = next++;
    ws.send(JSON.stringify({ id, ...frame }));
    for (let i = 0; i < 300; i++) {
      const answer = frames.find((f) => f.id === id && !("event" in f));
      if (answer) return answer;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`no answer to ${JSON.stringify(frame)}`);
  };
  return { status: 101, ws, ask, frames };
}

describe("HTTP", () => {
  it("reads need a token, writes need the read-write one", async () => {
    expect(await code(await SELF.fetch(`${base}/v1/rev`))).toBe("UNAUTHORIZED");
    expect((await SELF.fetch(`${base}/v1/rev`, { headers: bearer(ro) })).status).toBe(200);
    const put = (token: string) =>
      SELF.fetch(`${base}/v1/files/auth/h?rev=-1`, { method: "PUT", body: "x", headers: bearer(token) });
    expect(await code(await put(ro))).toBe("READONLY");
    expect((await put(rw)).status).toBe(200);
    expect(await code(await put("nope"))).toBe("UNAUTHORIZED");
  });

  it("the fault switch needs the read-write token", async () => {
    const post = (headers: HeadersInit) =>
      SELF.fetch(`${base}/v1/faults`, { method: "POST", headers, body: '{"acceptor":"*","mode":"ok"}' });
    expect(await code(await post({}))).toBe("UNAUTHORIZED");
    expect(await code(await post(bearer(ro)))).toBe("READONLY");
    expect((await post(bearer(rw))).status).toBe(200);
  });
});

describe("WebSocket", () => {
  it("a wrong token at the upgrade is refused with 401", async () => {
    expect((await socket({ query: "?token=wrong" })).status).toBe(401);
    expect((await socket({ headers: bearer("wrong") })).status).toBe(401);
  });

  it("without a token, every verb but ACCESS answers UNAUTHORIZED until ACCESS succeeds", async () => {
    const s = await socket();
    if (!s.ask) throw new Error(`upgrade failed: ${s.status}`);
    expect(await s.ask({ verb: "REV" })).toMatchObject({ error: { code: "UNAUTHORIZED" } });
    expect(await s.ask({ verb: "WATCH", glob: "/**" })).toMatchObject({ error: { code: "UNAUTHORIZED" } });
    expect(await s.ask({ verb: "ACCESS", token: "wrong" })).toMatchObject({
      error: { code: "UNAUTHORIZED" },
    });
    expect(await s.ask({ verb: "REV" })).toMatchObject({ error: { code: "UNAUTHORIZED" } });
    expect(await s.ask({ verb: "ACCESS", token: rw })).not.toHaveProperty("error");
    expect(await s.ask({ verb: "SET", path: "/auth/w", rev: -1, value: "x" })).not.toHaveProperty("error");
    s.ws.close();
  });

  it("a read-only token may read, wait and watch, never write", async () => {
    for (const s of [await socket({ query: `?token=${ro}` }), await socket({ headers: bearer(ro) })]) {
      if (!s.ask) throw new Error(`upgrade failed: ${s.status}`);
      expect(await s.ask({ verb: "REV" })).toHaveProperty("rev");
      expect(await s.ask({ verb: "WATCH", glob: "/auth/**" })).toMatchObject({ watching: true });
      expect(await s.ask({ verb: "WAIT", glob: "/auth/**", rev: 0, timeout: 10 })).not.toHaveProperty(
        "error",
      );
      for (const frame of [
        { verb: "SET", path: "/auth/ro", rev: -1, value: "x" },
        { verb: "DEL", path: "/auth/ro", rev: -1 },
        { verb: "NOP" },
      ]) {
        expect(await s.ask(frame)).toMatchObject({ error: { code: "READONLY" } });
      }
      s.ws.close();
    }
  });
});

describe("the service-binding entrypoint", () => {
  it("is trusted: a bound Worker reads and writes without a token", async () => {
    const ctx = createExecutionContext();
    const service = new DoozerService(ctx, env as unknown as Env);
    const put = await service.fetch(
      new Request(`${base}/v1/files/auth/bound?rev=-1`, { method: "PUT", body: "b" }),
    );
    expect(put.status).toBe(200);
    const get = await service.fetch(new Request(`${base}/v1/files/auth/bound`));
    expect(new TextDecoder().decode(await get.arrayBuffer())).toBe("b");
    await waitOnExecutionContext(ctx);
  });
});
