// Structured logs (worker/log.ts): one JSON line per HTTP request, with the
// request id echoed back, and one per notable event. The Worker runs in this
// isolate, so its console.log is spied on here.

import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from "vitest";
import type { Env } from "../../worker/env";
import worker from "../../worker/index";
import { base, freshPath, healAll, setFault } from "./helpers";

let logged: MockInstance<typeof console.log>;

beforeEach(() => {
  logged = vi.spyOn(console, "log");
});

afterEach(() => {
  logged.mockRestore();
});

/** Every JSON line logged so far, parsed; other lines left out. */
function lines(): Record<string, unknown>[] {
  return logged.mock.calls.flatMap((call) => {
    try {
      const value = JSON.parse(String(call[0])) as unknown;
      return typeof value === "object" && value !== null ? [value as Record<string, unknown>] : [];
    } catch {
      return [];
    }
  });
}

async function call(path: string, init?: RequestInit, vars: Partial<Env> = {}): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await worker.fetch(
    new Request(`${base}${path}`, init),
    { ...(env as unknown as Env), ...vars },
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return response;
}

describe("the request log", () => {
  it("logs a write with the client's request id, echoed back, its route, status, latency and rev", async () => {
    const path = freshPath("logged");
    const response = await call(`/v1/files${path}?rev=0`, {
      method: "PUT",
      body: "x",
      headers: { "Doozer-Request-Id": "log-test.1" },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("Doozer-Request-Id")).toBe("log-test.1");
    const { rev } = (await response.json()) as { rev: number };
    const line = lines().find((l) => l.event === "request" && l.requestId === "log-test.1");
    expect(line).toMatchObject({ level: "info", method: "PUT", route: "/v1/files/*", status: 200, rev });
    expect(typeof line?.ms).toBe("number");
    expect(line).not.toHaveProperty("code");
    // The route is the pattern, never the file's path.
    expect(JSON.stringify(lines())).not.toContain(path);
  });

  it("gives a request without an id a fresh one, and logs an error's code", async () => {
    const response = await call(`/v1/files${freshPath("missing")}`);
    expect(response.status).toBe(404);
    const id = response.headers.get("Doozer-Request-Id");
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(lines().find((l) => l.requestId === id)).toMatchObject({
      event: "request",
      method: "GET",
      status: 404,
      code: "NOENT",
    });
  });

  it("logs a refused setting, and answers its message instead of an internal error", async () => {
    const response = await call(
      "/v1/rev",
      {},
      { DOOZER_ACCEPTORS: "4", DOOZER_LOCATIONS: "wnam,enam,weur,apac" },
    );
    expect(response.status).toBe(500);
    const { error } = (await response.json()) as {
      error: { code: string; message: string; setting: string };
    };
    expect(error.code).toBe("OTHER");
    expect(error.setting).toBe("DOOZER_ACCEPTORS");
    expect(error.message).toContain("DOOZER_ACCEPTORS: 4 is even");
    expect(error.message).not.toContain("internal error");
    expect(lines()).toContainEqual(
      expect.objectContaining({ event: "config-refused", setting: "DOOZER_ACCEPTORS" }),
    );
  });
});

describe("notable events", () => {
  /** Waits up to `ms` for a logged line that `match` accepts. */
  async function logLine(match: (line: Record<string, unknown>) => boolean, ms: number) {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      const line = lines().find(match);
      if (line) return line;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return undefined;
  }

  it("does not call an acceptor unreachable because a WAIT blocked longer than the RPC timeout", async () => {
    const { rev } = (await (await call("/v1/rev")).json()) as { rev: number };
    // 1,200 ms: past DOOZER_RPC_TIMEOUT_MS (500 ms in this project), within the wait's own deadline.
    const response = await call(
      `/v1/wait?glob=${encodeURIComponent(freshPath("quiet"))}&rev=${rev + 1}&timeout=1200`,
    );
    expect(response.status).toBe(204);
    expect(lines().filter((l) => l.event === "acceptor-unreachable")).toEqual([]);
  });

  it("logs a call that got no answer by its deadline, naming the call", async () => {
    try {
      await setFault("acceptor-4", "slow", { delayMs: 2_000 });
      // A linearizable read asks every acceptor for its status; a majority answers it in time.
      const path = freshPath("slow-status");
      expect((await call(`/v1/files${path}?rev=0`, { method: "PUT", body: "x" })).status).toBe(200);
      expect((await call(`/v1/files${path}`)).status).toBe(200);
      const line = await logLine(
        (l) => l.event === "acceptor-unreachable" && l.acceptor === "acceptor-4",
        3_000,
      );
      expect(line).toMatchObject({ level: "warn", reason: "no answer in 500 ms" });
      expect(typeof line?.call).toBe("string");
      expect(line?.call).not.toBe("?");
    } finally {
      await healAll();
    }
  });

  it("logs the acceptors that do not answer and the NO_QUORUM they cause", async () => {
    try {
      for (const a of ["acceptor-1", "acceptor-2", "acceptor-3"]) await setFault(a, "down");
      const response = await call(`/v1/files${freshPath("nq")}?rev=-1`, { method: "PUT", body: "x" });
      expect(response.status).toBe(503);
      const events = lines();
      expect(events).toContainEqual(expect.objectContaining({ event: "no-quorum", route: "/v1/files/*" }));
      expect(events).toContainEqual(
        expect.objectContaining({ level: "warn", event: "acceptor-unreachable", acceptor: "acceptor-2" }),
      );
      expect(events.find((l) => l.event === "request" && l.status === 503)).toMatchObject({
        level: "error",
        code: "NO_QUORUM",
      });
    } finally {
      await healAll();
    }
  });
});
