// Health (SPEC §8) and the §2/§3 rows next to it: GET /v1/health with a
// majority up and down (the fault switch, healed afterwards), a missing file's
// headers and error fields, and the `ping` heartbeat. NOSPACE is in
// txn.test.ts (it needs DOOZER_STORE_BYTES_MAX set small).

import { SELF } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { api, base, freshPath, healAll, json, put, setFault, storeRev } from "./helpers";

afterEach(async () => {
  await healAll();
});

interface Health {
  ok: boolean;
  acceptors: number;
  reachable: number;
  rev: number;
}

describe("GET /v1/health", () => {
  it("answers 200 {ok: true, acceptors, reachable, rev} when all acceptors answer", async () => {
    await put(freshPath(), -1, "x");
    const rev = await storeRev();
    const response = await api("/v1/health");
    expect(response.status).toBe(200);
    const body = await json<Health>(response);
    expect(body).toMatchObject({ ok: true, acceptors: 5, reachable: 5 });
    // The highest store rev among those that answered: at least the rev a write reached on a majority.
    expect(body.rev).toBeGreaterThanOrEqual(rev - 1);
    expect(body.rev).toBeLessThanOrEqual(rev + 1);
  });

  it("ignores a token, even a wrong one", async () => {
    const response = await api("/v1/health", { headers: { Authorization: "Bearer wrong" } });
    expect(response.status).toBe(200);
    expect((await json<Health>(response)).ok).toBe(true);
  });

  it("stays 200 with a minority down, and says how many answered", async () => {
    await setFault("acceptor-0", "down");
    await setFault("acceptor-4", "down");
    const response = await api("/v1/health");
    expect(response.status).toBe(200);
    expect(await json<Health>(response)).toMatchObject({ ok: true, acceptors: 5, reachable: 3 });
  });

  it("answers 503 with the same fields and ok: false when a majority is down; 200 again when healed", async () => {
    for (const a of ["acceptor-0", "acceptor-2", "acceptor-4"]) await setFault(a, "down");
    const response = await api("/v1/health");
    expect(response.status).toBe(503);
    const body = await json<Health>(response);
    expect(body).toMatchObject({ ok: false, acceptors: 5, reachable: 2 });
    expect(typeof body.rev).toBe("number");
    await healAll();
    const healed = await api("/v1/health");
    expect(healed.status).toBe(200);
    expect(await json<Health>(healed)).toMatchObject({ ok: true, reachable: 5 });
  }, 30_000);

  it("other methods are 405 BAD_METHOD", async () => {
    const response = await api("/v1/health", { method: "POST" });
    expect(response.status).toBe(405);
    expect((await json<{ error: { code: string } }>(response)).error.code).toBe("BAD_METHOD");
  });
});

describe("§2: a missing file", () => {
  it("is 404 NOENT with Doozer-Rev: 0, error.rev 0 and the store rev read at in Doozer-Store-Rev", async () => {
    const before = await storeRev();
    const response = await api(`/v1/files${freshPath()}`);
    expect(response.status).toBe(404);
    expect(response.headers.get("Doozer-Rev")).toBe("0");
    const storeRevHeader = Number(response.headers.get("Doozer-Store-Rev"));
    expect(storeRevHeader).toBeGreaterThanOrEqual(before);
    const body = await json<{ error: { code: string; rev: number } }>(response);
    expect(body.error.code).toBe("NOENT");
    expect(body.error.rev).toBe(0);
  });

  it("at an explicit rev says that rev in Doozer-Store-Rev", async () => {
    const rev = await storeRev();
    const response = await api(`/v1/files${freshPath()}?rev=${rev}`);
    expect(response.status).toBe(404);
    expect(response.headers.get("Doozer-Store-Rev")).toBe(String(rev));
    await response.body?.cancel();
  });
});

describe("§3: the ping heartbeat", () => {
  it("the text frame ping is answered pong, and the socket stays open; ' ping' or 'PING' is not a ping", async () => {
    const response = await SELF.fetch(`${base}/v1/ws`, { headers: { Upgrade: "websocket" } });
    const ws = response.webSocket as WebSocket;
    ws.accept();
    const frames: string[] = [];
    ws.addEventListener("message", (e) => {
      frames.push(String(e.data));
    });
    ws.send("ping");
    ws.send("PING");
    ws.send("ping\n");
    const until = async (n: number) => {
      for (let i = 0; i < 500 && frames.length < n; i++) await new Promise((r) => setTimeout(r, 10));
    };
    await until(3);
    expect(frames[0]).toBe("pong");
    expect(
      frames.slice(1).map((f) => (JSON.parse(f) as { id: unknown; error: { code: string } }).error.code),
    ).toEqual(["BAD_REQUEST", "BAD_REQUEST"]);
    ws.send(new TextEncoder().encode("ping"));
    await until(4);
    expect(JSON.parse(frames[3] as string).error.code).toBe("BAD_REQUEST");
    ws.close();
  });
});
