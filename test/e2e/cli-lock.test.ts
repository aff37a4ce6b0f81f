// Issue 12's "done when", as a test: `doozer lock /locks/demo -- sleep ...` in
// two shells runs one after the other, and killing the first shell's `doozer`
// (SIGKILL: no release, no session end) hands the lock to the second within
// 2 × ttl + 5 s (SPEC §6). Each command stamps its start and end, with its
// fencing token, into a file; the stamps use this machine's clock, as the test
// does.

import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildCli, handoverBoundMs } from "./jepsen-lock";
import { useLocalCluster } from "./use-local-cluster";

const ttlMs = 2_000;
const localCluster = useLocalCluster();
let folder: string;
let stamp: string;
const groups = new Set<number>();

beforeAll(async () => {
  await buildCli();
  folder = mkdtempSync(join(tmpdir(), "doozer-cli-lock-"));
  stamp = join(folder, "stamp.mjs");
  // `node stamp.mjs <file> <what> <who>` appends "<what> <who> <token> <ms>".
  writeFileSync(
    stamp,
    `import { appendFileSync } from "node:fs";
const [file, what, who] = process.argv.slice(2);
appendFileSync(file, [what, who, process.env.DOOZER_LOCK_TOKEN, Date.now()].join(" ") + "\\n");
`,
  );
}, 60_000);

afterAll(() => {
  // Each doozer ran in its own process group: this takes an orphaned command along.
  for (const pid of groups) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // Gone already.
    }
  }
  if (folder) rmSync(folder, { recursive: true, force: true });
});

/** `doozer lock <path> --ttl 2000 -- sh -c 'stamp start; sleep <s>; stamp end'`, in its own process group. */
function lockAndSleep(path: string, who: string, file: string, seconds: number): ChildProcess {
  const node = JSON.stringify(process.execPath);
  const script = `${node} ${JSON.stringify(stamp)} ${file} start ${who} && sleep ${seconds} && ${node} ${JSON.stringify(stamp)} ${file} end ${who}`;
  const { DOOZER_TOKEN: _inherited, ...inherited } = process.env;
  const child = spawn(
    process.execPath,
    [join("bin", "doozer.mjs"), "lock", path, "--ttl", String(ttlMs), "--", "sh", "-c", script],
    {
      env: { ...inherited, DOOZER_URL: localCluster().url },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    },
  );
  if (child.pid) groups.add(child.pid);
  return child;
}

function exited(child: ChildProcess): Promise<{ code: number | null; err: string }> {
  let err = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    err += chunk.toString();
  });
  return new Promise((resolve) => child.once("exit", (code) => resolve({ code, err })));
}

interface Stamp {
  what: string;
  who: string;
  token: number;
  ms: number;
}

function stamps(file: string): Stamp[] {
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return [];
  }
  return text
    .trim()
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => {
      const [what = "", who = "", token, ms] = l.split(" ");
      return { what, who, token: Number(token), ms: Number(ms) };
    });
}

async function until<T>(probe: () => T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("doozer lock in two shells", () => {
  it("runs the two commands one after the other, the second with the higher token", async () => {
    const path = `/locks/demo-${Date.now().toString(36)}`;
    const file = join(folder, "serial");
    const a = lockAndSleep(path, "a", file, 2);
    const b = lockAndSleep(path, "b", file, 2);
    const [ea, eb] = await Promise.all([exited(a), exited(b)]);
    expect(ea).toEqual({ code: 0, err: "" });
    expect(eb).toEqual({ code: 0, err: "" });
    const s = stamps(file);
    expect(s.map((x) => x.what)).toEqual(["start", "end", "start", "end"]);
    const [start1, end1, start2, end2] = s as [Stamp, Stamp, Stamp, Stamp];
    expect(end1.who).toBe(start1.who);
    expect(start2.who).not.toBe(start1.who);
    expect(end2.who).toBe(start2.who);
    expect(end1.ms).toBeLessThanOrEqual(start2.ms);
    expect(end1.ms - start1.ms).toBeGreaterThanOrEqual(2_000);
    expect(start2.token).toBeGreaterThan(start1.token);
    console.log(
      `doozer lock: ${start1.who} ran ${start1.ms}..${end1.ms} with token ${start1.token}, ${start2.who} ${start2.ms}..${end2.ms} with token ${start2.token} (${start2.ms - end1.ms} ms between)`,
    );
  }, 60_000);

  it("hands the lock over within 2 × ttl + 5 s when the holder's doozer is killed (SIGKILL)", async () => {
    const path = `/locks/demo-${Date.now().toString(36)}`;
    const file = join(folder, "killed");
    // The first holder's command would run for a long time: only the kill can end its holding.
    const a = lockAndSleep(path, "a", file, 60);
    const aExit = exited(a);
    const first = await until(() => stamps(file).find((x) => x.what === "start"), 20_000);
    const b = lockAndSleep(path, "b", file, 2);
    const bExit = exited(b);
    // Let b's doozer start and wait on the lock.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(stamps(file).filter((x) => x.what === "start")).toHaveLength(1);
    const killedAt = Date.now();
    a.kill("SIGKILL"); // doozer only; its `sleep 60`, orphaned, does not hold the lock
    expect((await aExit).code).toBe(null);
    // b's doozer ending before its command started is a failure with its reason (its stderr).
    const second = await Promise.race([
      until(
        () => stamps(file).find((x) => x.what === "start" && x.who === "b"),
        handoverBoundMs(ttlMs) + 10_000,
      ),
      bExit.then((e) => {
        const started = stamps(file).find((x) => x.what === "start" && x.who === "b");
        if (started) return started;
        throw new Error(`b's doozer exited ${e.code} without running its command: ${e.err}`);
      }),
    ]);
    const handoverMs = second.ms - killedAt;
    console.log(
      `doozer lock: killed ${first.who}'s doozer (token ${first.token}); ${second.who} started with token ${second.token} ${handoverMs} ms later (bound ${handoverBoundMs(ttlMs)} ms)`,
    );
    expect(second.token).toBeGreaterThan(first.token);
    expect(handoverMs).toBeLessThanOrEqual(handoverBoundMs(ttlMs));
    expect(await bExit).toEqual({ code: 0, err: "" });
  }, 60_000);
});
