// Sessions, transactions and health with auth on (SPEC §6, §7, §8): sessions
// and transactions are writes (READONLY with the read-only token), GET of a
// session is a read, health needs no token, and `ping` is answered before ACCESS.

import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";

const rw = "rw-secret-for-tests";
const ro = "ro-secret-for-tests";
const base = "http://doozer.test";

type Frame = Record<string, unknown>;

function call(path: string, token: string | undefined, init: RequestInit = {}): Promise<Response> {
  const headers: Record<string, string> = token === undefined ? {} : { Authorization: `Bearer ${token}` };
  return SELF.fetch(`${base}${path}`, { ...init, headers });
}

async function code(response: Response): Promise<string> {
  return ((await response.json()) as { error: { code: string } }).error.code;
}

async function rev(): Promise<number> {
  return ((await (await call("/v1/rev", rw)).json()) as { rev: number }).rev;
}

async function socket(query = "") {
  const response = await SELF.fetch(`${base}/v1/ws${query}`, { headers: { Upgrade: "websocket" } });
  expect(response.status).toBe(101);
  const ws = response.webSocket as WebSocket;
  ws.accept();
  const frames: Frame[] = [];
  let pongs = 0;
  ws.addEventListener("message", (e) => {
    const data = String(e.data);
    if (data === "pong") pongs++;
    else frames.push(JSON.parse(data) as Frame);
  });
  let next = 1;
  const ask = async (frame: Frame): Promise<Frame> => {
    const id = next++;
    ws.send(JSON.stringify({ id, ...frame }));
    for (let i = 0; i < 500; i++) {
      const answer = frames.find((f) => f.id === id);
      if (answer) return answer;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`no answer to ${JSON.stringify(frame)}`);
  };
  return { ws, ask, pongs: () => pongs };
}

describe("sessions with auth on", () => {
  it("open, keepalive, end and txn need the read-write token over HTTP; GET of a session works read-only", async () => {
    const opened = await call("/v1/sessions", rw, { method: "POST" });
    expect(opened.status).toBe(200);
    const { session } = (await opened.json()) as { session: string };
    const before = await rev();
    expect(await code(await call("/v1/sessions", ro, { method: "POST" }))).toBe("READONLY");
    expect(await code(await call(`/v1/sessions/${session}/keepalive`, ro, { method: "POST" }))).toBe(
      "READONLY",
    );
    expect(await code(await call(`/v1/sessions/${session}`, ro, { method: "DELETE" }))).toBe("READONLY");
    const body = JSON.stringify({ ops: [{ op: "set", path: "/auth/txn", rev: -1, value: "x" }] });
    expect(await code(await call("/v1/txn", ro, { method: "POST", body }))).toBe("READONLY");
    expect(await code(await call("/v1/sessions", undefined, { method: "POST" }))).toBe("UNAUTHORIZED");
    expect(await code(await call(`/v1/sessions/${session}`, undefined))).toBe("UNAUTHORIZED");
    expect(await code(await call("/v1/txn", "wrong", { method: "POST", body }))).toBe("UNAUTHORIZED");
    expect(await rev()).toBe(before);

    const read = await call(`/v1/sessions/${session}`, ro);
    expect(read.status).toBe(200);
    expect(await read.json()).toEqual({ session, ttl: 15_000, files: [] });

    expect((await call(`/v1/sessions/${session}/keepalive`, rw, { method: "POST" })).status).toBe(200);
    expect((await call("/v1/txn", rw, { method: "POST", body })).status).toBe(200);
    expect((await call(`/v1/sessions/${session}`, rw, { method: "DELETE" })).status).toBe(200);
  });

  it("SESSION (open and attach), KEEPALIVE, ENDSESSION and TXN answer READONLY on a read-only socket", async () => {
    const opened = await call("/v1/sessions", rw, { method: "POST" });
    const { session } = (await opened.json()) as { session: string };
    const s = await socket(`?token=${ro}`);
    const before = await rev();
    for (const frame of [
      { verb: "SESSION", ttl: 5000 },
      { verb: "SESSION", session },
      { verb: "KEEPALIVE", session },
      { verb: "ENDSESSION", session },
      { verb: "TXN", checks: [{ path: "/auth/x", rev: 0 }] },
    ]) {
      expect((await s.ask(frame)).error).toMatchObject({ code: "READONLY" });
    }
    expect(await rev()).toBe(before);
    expect((await call(`/v1/sessions/${session}`, ro)).status).toBe(200);
    s.ws.close();
    expect((await call(`/v1/sessions/${session}`, rw, { method: "DELETE" })).status).toBe(200);
  });

  it("a read-write socket opens, keeps and ends sessions", async () => {
    const s = await socket(`?token=${rw}`);
    const opened = await s.ask({ verb: "SESSION", ttl: 5000 });
    expect(typeof opened.session).toBe("string");
    expect((await s.ask({ verb: "KEEPALIVE", session: opened.session })).ttl).toBe(5000);
    expect(typeof (await s.ask({ verb: "ENDSESSION", session: opened.session })).rev).toBe("number");
    s.ws.close();
  });

  it("ping is answered pong before ACCESS", async () => {
    const s = await socket();
    s.ws.send("ping");
    for (let i = 0; i < 300 && s.pongs() === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(s.pongs()).toBe(1);
    expect((await s.ask({ verb: "REV" })).error).toMatchObject({ code: "UNAUTHORIZED" });
    s.ws.close();
  });
});

describe("health with auth on", () => {
  it("needs no token and ignores one", async () => {
    for (const token of [undefined, "wrong", ro, rw]) {
      const response = await call("/v1/health", token);
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ ok: true, acceptors: 5 });
    }
  });
});
