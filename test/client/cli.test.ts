// The `doozer lock`, `session` and `txn` commands as processes, against a
// loopback HTTP server that speaks enough of SPEC §2, §6 and §7 over the
// in-memory store.

import { type ChildProcess, spawn } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DoozerError } from "../../client/errors";
import type { HeldSession } from "../../client/transport";
import { FakeStore } from "./fake-store";

let store: FakeStore;
let held: Map<string, HeldSession>;
let server: Server;
let url: string;

const statusOf: Record<string, number> = { NOSESSION: 404, REV_MISMATCH: 409, NOTDIR: 409 };

async function answer(method: string, u: URL, body: string): Promise<[number, unknown]> {
  const q = (name: string) => u.searchParams.get(name) ?? undefined;
  const route = u.pathname;
  if (method === "POST" && route === "/v1/sessions") {
    const ttl = q("ttl") ? Number(q("ttl")) : undefined;
    const session = await store.openSession(ttl, { lost: () => undefined }, "unused");
    held.set(session.id, session);
    return [200, { session: session.id, ttl: session.ttlMs, rev: session.rev }];
  }
  const sessionRoute = /^\/v1\/sessions\/([^/]+)(\/keepalive)?$/.exec(route);
  if (sessionRoute) {
    const session = held.get(sessionRoute[1] ?? "");
    if (!session || !store.sessions.has(session.id)) throw new DoozerError("NOSESSION", "no such session");
    if (sessionRoute[2]) return [200, { session: session.id, ttl: session.ttlMs }];
    return [200, { session: session.id, rev: await session.end() }];
  }
  if (route.startsWith("/v1/files/")) {
    const path = route.slice("/v1/files".length);
    const verb = method === "PUT" ? "SET" : "DEL";
    return [
      200,
      await store.call({ verb, args: { path, rev: Number(q("rev")), value: body, session: q("session") } }),
    ];
  }
  if (route === "/v1/rev") return [200, { rev: store.rev }];
  if (route.startsWith("/v1/stat/")) {
    return [200, await store.call({ verb: "STAT", args: { path: route.slice("/v1/stat".length) } })];
  }
  if (route === "/v1/wait") {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve([204, undefined]), Math.min(Number(q("timeout") ?? 1000), 1000));
      const sub = store.watch(String(q("glob")), Number(q("rev")), {
        event: (e) => {
          clearTimeout(timer);
          sub.cancel();
          resolve([200, { path: e.path, rev: e.rev, op: e.op, value: new TextDecoder().decode(e.value) }]);
        },
        end: () => undefined,
      });
    });
  }
  if (method === "POST" && route === "/v1/txn") {
    const txn = JSON.parse(body) as { checks: { path: string; rev: number }[]; ops: { path: string }[] };
    const failing = txn.checks.findIndex((c) => c.rev === 999);
    if (failing >= 0) {
      const rev = ++store.rev;
      throw new DoozerError("REV_MISMATCH", "check failed", {
        storeRev: rev,
        rev: 1,
        path: txn.checks[failing]?.path,
        check: failing,
      });
    }
    const results = txn.ops.map((op) => ({ path: op.path, rev: ++store.rev }));
    return [200, { rev: store.rev, results }];
  }
  return [404, { error: { code: "NOT_FOUND", message: route } }];
}

beforeAll(async () => {
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (c: Buffer) => chunks.push(c));
    request.on("end", () => {
      const u = new URL(request.url ?? "/", "http://x");
      answer(request.method ?? "GET", u, Buffer.concat(chunks).toString()).then(
        ([status, body]) => {
          response.writeHead(status, { "Content-Type": "application/json" });
          response.end(body === undefined ? undefined : JSON.stringify(body));
        },
        (error: DoozerError) => {
          const { code, message, rev, storeRev, path, check, op } = error;
          response.writeHead(statusOf[code] ?? 500, { "Content-Type": "application/json" });
          response.end(JSON.stringify({ error: { code, message, rev, storeRev, path, check, op } }));
        },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

beforeEach(() => {
  store = new FakeStore();
  held = new Map();
});

interface Run {
  child: ChildProcess;
  /** What it has printed so far. */
  stdout(): string;
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

function doozer(args: string[], stdin = ""): Run {
  const child = spawn(process.execPath, ["--import", "tsx", "client/cli.ts", ...args], {
    env: { ...process.env, DOOZER_URL: url },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => {
    stdout += d;
  });
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  child.stdin.end(stdin);
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on("close", (code) => resolve({ code, stdout, stderr })),
  );
  return { child, stdout: () => stdout, done };
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 300 && !condition(); i++) await new Promise((r) => setTimeout(r, 50));
  expect(condition()).toBe(true);
}

const node = (script: string) => [process.execPath, "-e", script];

describe("doozer lock", () => {
  it("runs the command with the fencing token, exits with its code, and releases", async () => {
    const { done } = doozer([
      "lock",
      "/locks/job",
      "--ttl",
      "5000",
      "--",
      ...node("process.stdout.write(process.env.DOOZER_LOCK_TOKEN); process.exit(3)"),
    ]);
    const { code, stdout, stderr } = await done;
    expect(stderr).toBe("");
    expect(code).toBe(3);
    const set = store.events.find((e) => e.path === "/locks/job" && e.op === "set");
    expect(stdout).toBe(String(set?.rev));
    expect(store.files.has("/locks/job")).toBe(false);
    expect(store.sessions.size).toBe(0);
  });

  it("stops the command and exits 5 (NOSESSION) when the lock is lost", async () => {
    const { done } = doozer(["lock", "/locks/job", "--", ...node("setInterval(() => {}, 1000)")]);
    await until(() => store.files.has("/locks/job"));
    const owner = store.files.get("/locks/job")?.session ?? "";
    store.expire(owner);
    const { code, stderr } = await done;
    expect(code).toBe(5);
    expect(stderr).toMatch(/the lock was lost while .* ran/);
  });
});

describe("doozer lock while waiting", () => {
  it("opens a new session and waits on when its session lapses before it holds the lock", async () => {
    store.write("/locks/job", "someone else");
    const { done } = doozer([
      "lock",
      "/locks/job",
      "--ttl",
      "1500",
      "--",
      ...node("process.stdout.write(process.env.DOOZER_LOCK_TOKEN)"),
    ]);
    // Waiting: its create under its session was refused.
    await until(() => store.calls.some((c) => c.verb === "SET" && c.args.session !== undefined));
    const first = [...store.sessions.keys()][0] ?? "";
    store.expire(first);
    // Its next keepalive (every 500 ms) answers NOSESSION: it opens another and waits on.
    await until(() => store.sessions.size === 1 && !store.sessions.has(first));
    await store.call({ verb: "DEL", args: { path: "/locks/job", rev: -1 } });
    const { code, stdout, stderr } = await done;
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const taken = store.events.findLast((e) => e.path === "/locks/job" && e.op === "set");
    expect(stdout).toBe(String(taken?.rev));
    expect(store.files.has("/locks/job")).toBe(false);
    expect(store.sessions.size).toBe(0);
  });

  it("exits 130 on Ctrl-C while waiting, and ends its session", async () => {
    store.write("/locks/job", "someone else");
    const { child, done } = doozer(["lock", "/locks/job", "--", ...node("process.exit(0)")]);
    await until(() => store.calls.some((c) => c.verb === "SET" && c.args.session !== undefined));
    child.kill("SIGINT");
    const { code } = await done;
    expect(code).toBe(130);
    expect(store.sessions.size).toBe(0);
    expect(store.files.get("/locks/job")?.session).toBeUndefined();
  });
});

describe("doozer session", () => {
  it("prints the session id, keeps it alive, and ends it on Ctrl-C", async () => {
    const { child, stdout: printed, done } = doozer(["--json", "session", "--ttl", "3000"]);
    await until(() => printed().endsWith("\n"));
    const id = [...store.sessions.keys()][0];
    expect(store.sessions.size).toBe(1);
    child.kill("SIGINT");
    const { code, stdout } = await done;
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ session: id, ttl: 3000 });
    expect(store.sessions.size).toBe(0);
  });
});

describe("doozer txn", () => {
  it("applies the transaction on stdin and prints the answer", async () => {
    const body = { checks: [{ path: "/c", rev: 0 }], ops: [{ op: "set", path: "/a", rev: -1, value: "v" }] };
    const { code, stdout } = await doozer(["txn"], JSON.stringify(body)).done;
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({ rev: 1, results: [{ path: "/a", rev: 1 }] });
  });

  it("names the failing check, and exits 64 on input that is not a transaction", async () => {
    const failed = await doozer(["txn"], JSON.stringify({ checks: [{ path: "/c", rev: 999 }] })).done;
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/^doozer: REV_MISMATCH: check failed \(check 0: \/c\)/);
    const bad = await doozer(["txn"], "[1, 2").done;
    expect(bad.code).toBe(64);
    expect(bad.stderr).toMatch(/^doozer: stdin is not JSON/);
  });
});
