// The `doozer` command line tool against the local cluster (wrangler dev):
// every command runs as its own process (bin/doozer.mjs on the Node running
// the tests), and the tests check its stdout, stderr and exit code.

import { type ChildProcess, execFile, spawn } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Client, connect } from "../../client/index";
import { type LocalCluster, startLocalCluster } from "./local-cluster";

const launcher = join("bin", "doozer.mjs");
const deadAddr = "http://127.0.0.1:1";

let cluster: LocalCluster;
let client: Client;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  // Build the bundle from the sources as they are now, while the cluster starts.
  const [started] = await Promise.all([
    startLocalCluster(),
    promisify(execFile)(process.execPath, [join("scripts", "build-cli.mjs")]),
  ]);
  cluster = started;
  client = connect(cluster.url);
}, 120_000);

afterAll(async () => {
  for (const child of children) child.kill("SIGKILL");
  client?.close();
  await cluster?.stop();
});

interface Result {
  code: number | null;
  stdout: Buffer;
  out: string;
  err: string;
}

/** Starts `doozer ...args` against the cluster; it is killed if still running at the end. */
function start(args: string[], env: Record<string, string> = {}): ChildProcess {
  // No token from the environment running the tests: only the one a test gives.
  const { DOOZER_TOKEN: _inherited, ...inherited } = process.env;
  const environment: NodeJS.ProcessEnv = { ...inherited, DOOZER_URL: cluster.url, ...env };
  const child = spawn(process.execPath, [launcher, ...args], {
    env: environment,
    stdio: ["pipe", "pipe", "pipe"],
  });
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

/** Runs `doozer ...args` to its end, with `input` on stdin (none: stdin is closed at once). */
async function doozer(
  args: string[],
  options: { input?: string | Uint8Array; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<Result> {
  const child = start(args, options.env);
  const stdout: Buffer[] = [];
  let err = "";
  child.stdout?.on("data", (chunk: Buffer) => stdout.push(chunk));
  child.stderr?.on("data", (chunk: Buffer) => {
    err += chunk.toString();
  });
  child.stdin?.end(options.input ?? "");
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 20_000);
  const code = await new Promise<number | null>((resolve) =>
    child.once("close", (c: number | null) => resolve(c)),
  );
  clearTimeout(timer);
  const all = Buffer.concat(stdout);
  return { code, stdout: all, out: all.toString(), err };
}

/** Runs a command that must succeed, and returns its stdout as text. */
async function ok(args: string[], input?: string | Uint8Array): Promise<string> {
  const r = await doozer(args, { input });
  expect(r.err).toBe("");
  expect(r.code).toBe(0);
  return r.out;
}

/** Sets a file through the CLI and returns the rev it printed. */
async function set(path: string, rev: number, value: string | Uint8Array): Promise<number> {
  const out = await ok(["set", path, String(rev)], value);
  expect(out).toMatch(/^[0-9]+\n$/);
  return Number(out);
}

interface OutputRecord {
  path: string;
  rev: number;
  op: string;
  value: Buffer;
}

/** Reads human output's records: `path rev op length`, a newline, `length` bytes, a newline. */
function records(out: Buffer): OutputRecord[] {
  const found: OutputRecord[] = [];
  let at = 0;
  while (at < out.length) {
    const end = out.indexOf(10, at);
    expect(end).toBeGreaterThan(at);
    const [path = "", rev, op = "", length] = out.subarray(at, end).toString().split(" ");
    const start = end + 1;
    const value = out.subarray(start, start + Number(length));
    expect(value.length).toBe(Number(length));
    expect(out[start + value.length]).toBe(10);
    found.push({ path, rev: Number(rev), op, value: Buffer.from(value) });
    at = start + value.length + 1;
  }
  return found;
}

/** The text of one record, as a process prints it. */
function recordText(path: string, rev: number, op: string, value: string): string {
  return `${path} ${rev} ${op} ${Buffer.byteLength(value)}\n${value}\n`;
}

/** Resolves with the first `n` lines the child prints. */
function lines(child: ChildProcess, n: number, timeoutMs = 15_000): Promise<string[]> {
  return new Promise((resolve, reject) => {
    let text = "";
    const timer = setTimeout(
      () => reject(new Error(`fewer than ${n} lines within ${timeoutMs} ms: ${text}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      text += chunk.toString();
      const got = text.split("\n");
      if (got.length > n) {
        clearTimeout(timer);
        child.stdout?.off("data", onData);
        resolve(got.slice(0, n));
      }
    };
    child.stdout?.on("data", onData);
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

describe("doozer set, get, del", () => {
  it("round-trips a value byte for byte, trailing newline included", async () => {
    const rev = await set("/cli/rt/text", 0, "hello, doozer\n");
    const r = await doozer(["get", "/cli/rt/text"]);
    expect(r).toMatchObject({ code: 0, err: "", out: "hello, doozer\n" });
    expect(await ok(["stat", "/cli/rt/text"])).toBe(`len=14 rev=${rev}\n`);
  });

  it("round-trips binary bytes, and --json gives them base64", async () => {
    const bytes = new Uint8Array([0, 255, 10, 0xc3, 0x28, 13, 1]);
    const rev = await set("/cli/rt/binary", 0, bytes);
    const r = await doozer(["get", "/cli/rt/binary"]);
    expect(r.code).toBe(0);
    expect(new Uint8Array(r.stdout)).toEqual(bytes);
    const json = JSON.parse(await ok(["--json", "get", "/cli/rt/binary"]));
    expect(json).toMatchObject({ path: "/cli/rt/binary", rev, encoding: "base64" });
    expect(new Uint8Array(Buffer.from(json.value, "base64"))).toEqual(bytes);
  });

  it("stores an empty stdin as an empty value", async () => {
    await set("/cli/rt/empty", 0, "");
    const r = await doozer(["get", "/cli/rt/empty"]);
    expect(r).toMatchObject({ code: 0, out: "", err: "" });
  });

  it("--json get gives text values as UTF-8 strings, with the file and store revs", async () => {
    const rev = await set("/cli/rt/json", 0, "héllo\n");
    const json = JSON.parse(await ok(["get", "/cli/rt/json", "--json"]));
    expect(json).toEqual({ path: "/cli/rt/json", rev, storeRev: expect.any(Number), value: "héllo\n" });
    expect(json.storeRev).toBeGreaterThanOrEqual(rev);
    // A leading byte-order mark is part of the value: it stays.
    await set("/cli/rt/bom", 0, "\uFEFFbom");
    expect(JSON.parse(await ok(["get", "/cli/rt/bom", "--json"])).value).toBe("\uFEFFbom");
    expect(await ok(["find", "/cli/rt/bom"])).toMatch(/^\/cli\/rt\/bom [0-9]+ set 6\n\uFEFFbom\n$/);
  });

  it("compare-and-set: a stale rev fails with exit 1 and REV_MISMATCH with the current rev; -1 clobbers", async () => {
    const first = await set("/cli/cas", 0, "one");
    const stale = await doozer(["set", "/cli/cas", "0"], { input: "two" });
    expect(stale.code).toBe(1);
    expect(stale.out).toBe("");
    expect(stale.err).toMatch(/^doozer: REV_MISMATCH: .*\(current rev: [0-9]+\)\n$/);
    expect(stale.err).toContain(`current rev: ${first}`);
    const second = await set("/cli/cas", first, "two");
    expect(second).toBeGreaterThan(first);
    const third = await set("/cli/cas", -1, "three");
    expect(third).toBeGreaterThan(second);
    expect(await ok(["get", "/cli/cas"])).toBe("three");
  });

  it("a missing file gives exit 3 and NOENT", async () => {
    const r = await doozer(["get", "/cli/missing"]);
    expect(r.code).toBe(3);
    expect(r.out).toBe("");
    expect(r.err).toMatch(/^doozer: NOENT: .*\n$/);
  });

  it("del checks the rev, prints the rev it consumed, and the file is gone", async () => {
    const rev = await set("/cli/del/f", 0, "x");
    const wrong = await doozer(["del", "/cli/del/f", String(rev - 1)]);
    expect(wrong.code).toBe(1);
    expect(wrong.err).toMatch(/^doozer: REV_MISMATCH: /);
    const out = await ok(["del", "/cli/del/f", String(rev)]);
    expect(Number(out)).toBeGreaterThan(rev);
    expect((await doozer(["get", "/cli/del/f"])).err).toMatch(/^doozer: NOENT: /);
    // Deleting what is not there succeeds, as in Doozer.
    expect(await ok(["del", "/cli/del/f", "-1"])).toMatch(/^[0-9]+\n$/);
  });

  it("get -r reads a past rev", async () => {
    const old = await set("/cli/past", 0, "before");
    await set("/cli/past", old, "after");
    expect(await ok(["get", "-r", String(old), "/cli/past"])).toBe("before");
    expect(await ok(["get", "/cli/past"])).toBe("after");
  });
});

describe("doozer stat, rev, nop, getdir, find", () => {
  it("stat: a file, a directory, a missing path; --json", async () => {
    const rev = await set("/cli/stat/d/f1", 0, "abcd");
    await set("/cli/stat/d/f2", 0, "");
    expect(await ok(["stat", "/cli/stat/d/f1"])).toBe(`len=4 rev=${rev}\n`);
    expect(await ok(["stat", "/cli/stat/d"])).toBe("dir entries=2\n");
    const missing = await doozer(["stat", "/cli/stat/nothing"]);
    expect(missing.code).toBe(3);
    expect(missing.err).toMatch(/^doozer: NOENT: /);
    expect(JSON.parse(await ok(["--json", "stat", "/cli/stat/d/f1"]))).toEqual({
      path: "/cli/stat/d/f1",
      kind: "file",
      len: 4,
      rev,
      storeRev: expect.any(Number),
    });
    expect(JSON.parse(await ok(["stat", "/cli/stat/d", "--json"]))).toMatchObject({
      kind: "dir",
      len: 2,
      rev: -2,
    });
  });

  it("rev prints the store rev, nop the next, and the store rev follows", async () => {
    const rev = Number(await ok(["rev"]));
    expect(rev).toBe(await client.rev());
    const nop = Number(await ok(["nop"]));
    expect(nop).toBeGreaterThan(rev);
    expect(Number(await ok(["rev"]))).toBeGreaterThanOrEqual(nop);
    expect(JSON.parse(await ok(["--json", "rev"]))).toEqual({ rev: expect.any(Number) });
  });

  it("getdir lists the names in byte order, all of them or one page", async () => {
    for (const name of ["b", "a", "c-1", "C", "sub/x"]) await client.set(`/cli/dir/${name}`, 0, name);
    expect(await ok(["getdir", "/cli/dir"])).toBe("C\na\nb\nc-1\nsub\n");
    expect(await ok(["getdir", "/cli/dir", "--offset", "1", "--limit", "2"])).toBe("a\nb\n");
    const json = (await ok(["--json", "getdir", "/cli/dir"]))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(json[0]).toEqual({ name: "C", path: "/cli/dir/C" });
    expect(json).toHaveLength(5);
    const notDir = await doozer(["getdir", "/cli/dir/a"]);
    expect(notDir.code).toBe(5);
    expect(notDir.err).toMatch(/^doozer: NOTDIR: /);
  });

  it("find (and walk) prints every matching file as a record: path, rev, length, bytes; --paths; --json; -r", async () => {
    const r1 = await set("/cli/find/a", 0, "one");
    const r2 = await set("/cli/find/sub/b", 0, "two\n");
    const r3 = await set("/cli/find/bin", 0, new Uint8Array([0xff, 0xfe]));
    const expected =
      recordText("/cli/find/a", r1, "set", "one") +
      `/cli/find/bin ${r3} set 2\n\xff\xfe\n` +
      recordText("/cli/find/sub/b", r2, "set", "two\n");
    const found = await doozer(["find", "/cli/find/**"]);
    expect(found.code).toBe(0);
    expect(found.stdout).toEqual(Buffer.from(expected, "latin1"));
    expect((await doozer(["walk", "/cli/find/**"])).stdout).toEqual(Buffer.from(expected, "latin1"));
    expect(await ok(["find", "--paths", "/cli/find/*"])).toBe("/cli/find/a\n/cli/find/bin\n");
    const json = (await ok(["find", "/cli/find/**", "--json"]))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(json).toEqual([
      { path: "/cli/find/a", rev: r1, value: "one" },
      { path: "/cli/find/bin", rev: r3, value: "//4=", encoding: "base64" },
      { path: "/cli/find/sub/b", rev: r2, value: "two\n" },
    ]);
    expect(await ok(["find", "-r", String(r1), "/cli/find/**"])).toBe(
      recordText("/cli/find/a", r1, "set", "one"),
    );
    expect(await ok(["find", "/cli/find/nothing/**"])).toBe("");
  });
});

describe("doozer wait, watch", () => {
  it("wait -r returns a change that already happened", async () => {
    const rev = await set("/cli/wait/old", 0, "v1");
    await set("/cli/wait/other", 0, "not this one");
    expect(await ok(["wait", "/cli/wait/o*d", "-r", String(rev)])).toBe(
      recordText("/cli/wait/old", rev, "set", "v1"),
    );
    const json = JSON.parse(await ok(["--json", "wait", "-r", String(rev), "/cli/wait/**"]));
    expect(json).toEqual({ path: "/cli/wait/old", rev, op: "set", value: "v1" });
  });

  it("wait (from the store rev + 1) returns a change made after it started", async () => {
    const before = await client.rev();
    const child = start(["wait", "/cli/wait/new/*"]);
    const output = lines(child, 2);
    const code = exited(child);
    // The wait reads the store rev when it starts: write until a write lands after that.
    let last = 0;
    for (let i = 0; child.exitCode === null && i < 50; i++) {
      last = await client.set("/cli/wait/new/f", -1, `v${i}`);
      await Promise.race([code, new Promise((r) => setTimeout(r, 200))]);
    }
    const [head, value] = await output;
    expect(await code).toBe(0);
    const [path, rev, op, length] = (head ?? "").split(" ");
    expect(Number(rev)).toBeGreaterThan(before);
    expect(Number(rev)).toBeLessThanOrEqual(last);
    expect([path, op]).toEqual(["/cli/wait/new/f", "set"]);
    expect(value).toMatch(/^v[0-9]+$/);
    expect(Number(length)).toBe(value?.length);
  });

  it("wait --timeout gives up with exit 4 and says so", async () => {
    const started = Date.now();
    const r = await doozer(["wait", "/cli/wait/never", "--timeout", "300"]);
    expect(r.code).toBe(4);
    expect(r.out).toBe("");
    expect(r.err).toMatch(/^doozer: no change to \/cli\/wait\/never at or after rev [0-9]+ within 300 ms\n$/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("watch prints each change as it comes, and SIGINT ends it with exit 0", async () => {
    const from = (await client.rev()) + 1;
    const child = start(["watch", "/cli/watch/**", "-r", String(from)]);
    const output = lines(child, 4);
    const r1 = await client.set("/cli/watch/a", 0, "first");
    await client.set("/cli/elsewhere", -1, "not watched");
    const r2 = await client.del("/cli/watch/a", r1);
    expect(await output).toEqual([`/cli/watch/a ${r1} set 5`, "first", `/cli/watch/a ${r2} del 0`, ""]);
    child.kill("SIGINT");
    expect(await exited(child)).toBe(0);
  });

  it("watch --json prints one event object per line", async () => {
    const from = (await client.rev()) + 1;
    const child = start(["--json", "watch", "-r", String(from), "/cli/watchj/*"]);
    const output = lines(child, 2);
    const r1 = await client.set("/cli/watchj/x", 0, new Uint8Array([0x80]));
    const r2 = await client.set("/cli/watchj/x", r1, "text");
    const events = (await output).map((l) => JSON.parse(l));
    expect(events).toEqual([
      { path: "/cli/watchj/x", rev: r1, op: "set", value: "gA==", encoding: "base64" },
      { path: "/cli/watchj/x", rev: r2, op: "set", value: "text" },
    ]);
    child.kill("SIGINT");
    expect(await exited(child)).toBe(0);
  });
});

describe("doozer self", () => {
  it("prints the address and the five acceptors", async () => {
    const out = await ok(["self"]);
    const [url, header, ...rows] = out.trim().split("\n");
    expect(url).toBe(cluster.url);
    expect(header).toMatch(/^ID\s+LOCATION\s+REACHABLE\s+CHOSEN$/);
    expect(rows).toHaveLength(5);
    for (const [i, row] of rows.entries())
      expect(row).toMatch(new RegExp(`^acceptor-${i}\\s+\\w+\\s+yes\\s+[0-9]+$`));
    const json = JSON.parse(await ok(["self", "--json"]));
    expect(json.url).toBe(cluster.url);
    expect(json.acceptors.map((a: { id: string }) => a.id)).toEqual(
      [0, 1, 2, 3, 4].map((i) => `acceptor-${i}`),
    );
  });
});

describe("usage and errors", () => {
  it.each([
    [[], /Usage: doozer/],
    [["frob"], /^doozer: unknown command 'frob'/],
    [["get"], /^doozer: missing required argument 'path'/],
    [["set", "/cli/u"], /^doozer: missing required argument 'rev'/],
    [["set", "/cli/u", "notanumber"], /^doozer: .*'notanumber' is invalid for argument 'rev'/],
    [["del", "/cli/u", "1.5"], /^doozer: .*'1\.5' is invalid for argument 'rev'/],
    [["get", "-r", "x", "/cli/u"], /^doozer: .*'x' is invalid/],
    [["get", "--frob", "/cli/u"], /^doozer: unknown option '--frob'/],
    [["-a", "not-a-url", "rev"], /^doozer: .*'not-a-url' is not a URL/],
  ])("doozer %j is a usage error: exit 64", async (args, message) => {
    const r = await doozer(args as string[]);
    expect(r.err).toMatch(message);
    expect(r.code).toBe(64);
    expect(r.out).toBe("");
  });

  it.each([
    [["get", "no/slash"]],
    [["get", "/cli/a/../b"]],
    [["set", "/cli/trailing/", "0"]],
    [["find", "cli/**"]],
  ])("doozer %j is a store error: exit 5 BAD_PATH", async (args) => {
    const r = await doozer(args, { input: "x" });
    expect(r.err).toMatch(/^doozer: BAD_PATH: /);
    expect(r.code).toBe(5);
  });

  it("--help works on the program and on each command, with exit 0", async () => {
    const program = await doozer(["--help"]);
    expect(program.code).toBe(0);
    expect(program.out).toMatch(/^Usage: doozer \[options\] \[command\]/);
    for (const command of [
      "get",
      "set",
      "del",
      "stat",
      "rev",
      "nop",
      "find",
      "getdir",
      "wait",
      "watch",
      "self",
    ]) {
      expect(program.out).toMatch(new RegExp(`^  ${command}[ |]`, "m"));
      const r = await doozer([command, "--help"]);
      expect(r.code).toBe(0);
      expect(r.out).toContain(`Usage: doozer ${command}`);
    }
    const viaHelp = await doozer(["help", "set"]);
    expect(viaHelp.code).toBe(0);
    expect(viaHelp.out).toContain("Usage: doozer set [options] <path> <rev>");
  });

  it("a dead address fails quickly with exit 2, naming the address", async () => {
    for (const args of [
      ["-a", deadAddr, "get", "/x"],
      ["rev"],
      ["-a", deadAddr, "self"],
      ["-a", deadAddr, "watch", "/**"],
    ]) {
      const started = Date.now();
      const r = await doozer(args, { env: { DOOZER_URL: deadAddr } });
      expect(r.err).toMatch(/^doozer: CONNECTION: cannot reach http:\/\/127\.0\.0\.1:1: /);
      expect(r.code).toBe(2);
      expect(Date.now() - started).toBeLessThan(5_000);
    }
  });
});

describe("lossless human output, exit codes, --version, DOOZER_URI", () => {
  it("round-trips any bytes through find's and watch's records, long values uncut", async () => {
    const binary = new Uint8Array([0, 10, 13, 0xff, 0x20, 10, 0xc3, 0x28, 0x1b, 10]);
    const long = "x".repeat(70_000);
    const from = (await client.rev()) + 1;
    const child = start(["watch", "/cli/bytes/*", "-r", String(from)]);
    const stdout: Buffer[] = [];
    child.stdout?.on("data", (chunk: Buffer) => stdout.push(chunk));
    const r1 = await set("/cli/bytes/bin", 0, binary);
    const r2 = await set("/cli/bytes/long", 0, long);
    const found = records((await doozer(["find", "/cli/bytes/*"])).stdout);
    expect(found).toEqual([
      { path: "/cli/bytes/bin", rev: r1, op: "set", value: Buffer.from(binary) },
      { path: "/cli/bytes/long", rev: r2, op: "set", value: Buffer.from(long) },
    ]);
    for (let i = 0; i < 100 && Buffer.concat(stdout).length < long.length + binary.length + 60; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill("SIGINT");
    expect(await exited(child)).toBe(0);
    expect(records(Buffer.concat(stdout))).toEqual(found);
    // What find printed goes back in byte for byte.
    await set("/cli/bytes/copy", 0, found[0]?.value ?? "");
    expect((await doozer(["get", "/cli/bytes/copy"])).stdout).toEqual(Buffer.from(binary));
  });

  it("exit codes: 0 ok, 1 REV_MISMATCH, 2 no answer, 3 NOENT, 4 no change, 5 another store error, 64 usage", async () => {
    const rev = await set("/cli/codes/f", 0, "x");
    expect((await doozer(["get", "/cli/codes/f"])).code).toBe(0);
    expect((await doozer(["set", "/cli/codes/f", String(rev - 1)], { input: "y" })).code).toBe(1);
    expect((await doozer(["rev"], { env: { DOOZER_URL: deadAddr } })).code).toBe(2);
    expect((await doozer(["get", "/cli/codes/none"])).code).toBe(3);
    expect((await doozer(["stat", "/cli/codes/none"])).code).toBe(3);
    expect((await doozer(["wait", "/cli/codes/never", "--timeout", "100"])).code).toBe(4);
    expect((await doozer(["get", "/cli/codes"])).code).toBe(5); // ISDIR
    expect((await doozer(["get"])).code).toBe(64);
    const txn = await doozer(["txn"], {
      input: JSON.stringify({ checks: [{ path: "/cli/codes/f", rev: 0 }] }),
    });
    expect([txn.code, txn.err]).toEqual([1, expect.stringMatching(/^doozer: REV_MISMATCH: .*\(check 0: /)]);
  });

  it("NO_QUORUM is exit 2 too: with three acceptors down a write cannot be decided", async () => {
    const faults = (body: object) =>
      fetch(`${cluster.url}/v1/faults`, { method: "POST", body: JSON.stringify(body) }).then((r) => r.json());
    try {
      for (const id of [0, 2, 4]) await faults({ acceptor: `acceptor-${id}`, mode: "down" });
      const r = await doozer(["set", "/cli/codes/quorum", "-1"], { input: "x", timeoutMs: 40_000 });
      expect(r.err).toMatch(/^doozer: NO_QUORUM: /);
      expect(r.code).toBe(2);
    } finally {
      await faults({ acceptor: "*", mode: "ok" });
    }
  }, 60_000);

  it("--version prints the package's version; DOOZER_URI is read like DOOZER_URL", async () => {
    const { version } = await import("../../client/version");
    expect(await ok(["--version"])).toBe(`${version}\n`);
    expect(await ok(["-v"])).toBe(`${version}\n`);
    const viaUri = await doozer(["rev"], { env: { DOOZER_URL: "", DOOZER_URI: cluster.url } });
    expect([viaUri.code, viaUri.err]).toEqual([0, ""]);
    const deadUri = await doozer(["rev"], { env: { DOOZER_URL: "", DOOZER_URI: deadAddr } });
    expect(deadUri.err).toMatch(/^doozer: CONNECTION: cannot reach http:\/\/127\.0\.0\.1:1: /);
  });
});

describe("doozer with tokens", () => {
  const rw = "cli-rw-secret";
  const ro = "cli-ro-secret";
  let secured: LocalCluster;

  beforeAll(async () => {
    secured = await startLocalCluster({ DOOZER_RWSECRET: rw, DOOZER_ROSECRET: ro });
  }, 120_000);

  afterAll(async () => {
    await secured?.stop();
  });

  it("passes DOOZER_TOKEN: none is UNAUTHORIZED, read-only reads but gets READONLY on writes, read-write writes", async () => {
    const at = (token?: string) => ({ DOOZER_URL: secured.url, ...(token ? { DOOZER_TOKEN: token } : {}) });
    const none = await doozer(["rev"], { env: at() });
    expect([none.code, none.err]).toEqual([5, expect.stringContaining("UNAUTHORIZED")]);
    const wrote = await doozer(["set", "/cli/auth", "0"], { input: "x", env: at(rw) });
    expect([wrote.code, wrote.err]).toEqual([0, ""]);
    const read = await doozer(["get", "/cli/auth"], { env: at(ro) });
    expect([read.code, read.out]).toEqual([0, "x"]);
    const refused = await doozer(["set", "/cli/auth", "-1"], { input: "y", env: at(ro) });
    expect([refused.code, refused.err]).toEqual([5, expect.stringContaining("READONLY")]);
  }, 60_000);
});
