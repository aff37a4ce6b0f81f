// `npm run bench:state`: does an acceptor's state stay bounded (issue 11)?
// Against the local cluster under `wrangler dev` (loopback, a fresh state
// folder), it measures
//   (a) the resident memory of the workerd processes before and after 300
//       PUTs of a 1 MiB value to one file ("before": after 1,000 writes of
//       1 KiB, and also read fresh, before any);
//   (b) how long all five acceptors take to reload (the fault switch's crash,
//       timed as the POST that answers once every one is built again) near an
//       empty store, and again after many small writes;
//   (c) each acceptor's SQLite file: its size and the rows of its chosen log
//       and of the store's tables;
//   (d) an acceptor down (fault switch) through many more writes than its
//       peers keep in their logs, then back: how long until it has caught up
//       (by a state transfer), and its SQLite file after.
// Every loop is bounded in count and in time. Figures go to stdout as text
// and JSON; docs/RELIABILITY.md ("Bounded state") quotes them.

import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from "node:fs";
import { Agent } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { storeTables } from "../acceptors/sqlite-store-backend";
import { type IsolateHeap, isolateHeap } from "./isolate-heap";
import { send } from "./load";
import { startWranglerDev } from "./wrangler-dev";

const bigValueBytes = 1024 * 1024;
const bigPuts = Number(process.env.BENCH_BIG_PUTS ?? 300);
/** Writes of 1 KiB before (a) measures, so that the runtime has reached its working size. */
const warmWrites = Number(process.env.BENCH_WARM_WRITES ?? 1000);
/** Small writes for the reload phase: at most this many, and at most this long. */
const smallWritesMax = Number(process.env.BENCH_SMALL_WRITES ?? 200_000);
const smallWritesMs = Number(process.env.BENCH_SMALL_WRITES_MS ?? 300_000);
const smallWriteClients = Number(process.env.BENCH_CLIENTS ?? 64);
const reloadRepeats = 3;
/** Writes while one acceptor is down, in phase (d); 0 skips the phase. */
const downWrites = Number(process.env.BENCH_DOWN_WRITES ?? 50_000);
const downAcceptor = "acceptor-2";

interface Rss {
  runtimeMb: number;
  /** Of the runtime's: anonymous memory (heaps, caches), and pages of mapped files (SQLite's, among them). */
  runtimeAnonMb: number;
  runtimeFileMb: number;
  proxyMb: number;
}

/** VmRSS and its anonymous and file-backed parts, in kB. */
function rssKb(pid: number): { total: number; anon: number; file: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const field = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);
    return { total: field("VmRSS"), anon: field("RssAnon"), file: field("RssFile") };
  } catch {
    return { total: 0, anon: 0, file: 0 }; // Gone.
  }
}

function mb(kb: number): number {
  return Math.round(kb / 102.4) / 10;
}

/** The SQLite files the runtime workerd holds open: one per Durable Object that has storage. */
function sqliteFiles(pids: number[]): string[] {
  const files = new Set<string>();
  for (const pid of pids) {
    let fds: string[] = [];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
        if (target.endsWith(".sqlite")) files.add(target);
      } catch {
        // Closed while we looked.
      }
    }
  }
  return [...files].sort();
}

interface FileFigures {
  file: string;
  bytes: number;
  walBytes: number;
  rows: Record<string, number>;
}

function sqliteFigures(file: string): FileFigures {
  const size = (path: string) => {
    try {
      return statSync(path).size;
    } catch {
      return 0;
    }
  };
  const rows: Record<string, number> = {};
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    const tables = new Set(
      (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as { name: string }[]).map(
        (t) => t.name,
      ),
    );
    for (const table of ["log", ...storeTables]) {
      if (tables.has(table))
        rows[table] = (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
    }
  } finally {
    db.close();
  }
  return { file: file.split("/").at(-1) ?? file, bytes: size(file), walBytes: size(`${file}-wal`), rows };
}

/** Up to smallWritesMax PUTs of one byte, from smallWriteClients clients at once, for at most smallWritesMs. */
async function smallWrites(
  url: string,
  count = smallWritesMax,
): Promise<{ writes: number; errors: number; seconds: number }> {
  const target = new URL(url);
  const agent = new Agent({ keepAlive: true, maxSockets: smallWriteClients });
  const perClient = Math.ceil(count / smallWriteClients);
  const started = performance.now();
  const deadline = started + smallWritesMs;
  let writes = 0;
  let errors = 0;
  const client = async (id: number) => {
    for (let n = 0; n < perClient && performance.now() < deadline; n++) {
      try {
        const path = `/v1/files/bench/small/${id}/${n % 100}?rev=-1`;
        await send(agent, target, { method: "PUT", path, body: Buffer.from("v") }, 30_000);
        writes++;
      } catch {
        errors++;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };
  await Promise.all(Array.from({ length: smallWriteClients }, (_, id) => client(id)));
  agent.destroy();
  return { writes, errors, seconds: Math.round((performance.now() - started) / 100) / 10 };
}

async function main(): Promise<void> {
  // Kept across a restart of wrangler dev, so that (b) can also time reloads in a new process on the same state.
  const state = mkdtempSync(join(tmpdir(), "doozer-bench-state-"));
  const start = () =>
    startWranglerDev({ config: "wrangler.toml", healthPath: "/v1/health", persistTo: state });
  let dev = await start();
  let target = new URL(dev.url);
  let agent = new Agent({ keepAlive: true, maxSockets: 8 });
  const rss = (): Rss => {
    const runtime = { total: 0, anon: 0, file: 0 };
    let proxy = 0;
    for (const p of dev.processes()) {
      const kb = rssKb(p.pid);
      if (p.role === "workerd (runtime)") {
        runtime.total += kb.total;
        runtime.anon += kb.anon;
        runtime.file += kb.file;
      } else if (p.role === "workerd (proxy)") proxy += kb.total;
    }
    return {
      runtimeMb: mb(runtime.total),
      runtimeAnonMb: mb(runtime.anon),
      runtimeFileMb: mb(runtime.file),
      proxyMb: mb(proxy),
    };
  };
  const put = (path: string, body: Buffer) =>
    send(agent, target, { method: "PUT", path: `/v1/files${path}?rev=-1`, body }, 30_000);
  const health = async () =>
    JSON.parse((await send(agent, target, { method: "GET", path: "/v1/health" }, 10_000)).toString()) as {
      rev: number;
    };
  const reloadMs = async (): Promise<number[]> => {
    const times: number[] = [];
    for (let i = 0; i < reloadRepeats; i++) {
      const started = performance.now();
      await send(
        agent,
        target,
        {
          method: "POST",
          path: "/v1/faults",
          body: Buffer.from(JSON.stringify({ acceptor: "*", mode: "crash" })),
          headers: { "Content-Type": "application/json" },
        },
        120_000,
      );
      times.push(Math.round(performance.now() - started));
      // A write after each reload, so that the next crash finds every acceptor awake and serving.
      await put("/bench/after-reload", Buffer.from(String(i)));
    }
    return times;
  };
  /** The isolate's heap after a full collection, or why it could not be read. */
  const heap = async (): Promise<IsolateHeap | string> => {
    return isolateHeap(dev.processes(), health).then(
      (read) => read ?? "no inspector answered",
      (error: Error) => error.message,
    );
  };
  /** Wakes every acceptor with a few writes, so that what follows meets a running cluster. */
  const warm = async () => {
    for (let i = 0; i < 20; i++) await put(`/bench/warm/${i}`, Buffer.from("x"));
  };
  const results: Record<string, unknown> = {};
  try {
    await warm();
    results.reloadEmptyMs = await reloadMs();
    results.revEmpty = (await health()).rev;

    // A runtime that has served no writes yet grows by ~40 MB over its first few
    // hundred, whatever their size (JIT, heaps and caches reaching their working size;
    // the single-DO baseline grows too): measured apart, so that (a) is what big values cost.
    const fresh = rss();
    for (let i = 0; i < warmWrites; i++) await put(`/bench/warm/${i % 100}`, Buffer.alloc(1024, 7));
    const before = rss();
    const big = Buffer.alloc(bigValueBytes, 7);
    const bigStarted = performance.now();
    // A leak grows with every PUT; garbage and caches level off: the samples on the way say which.
    const rssOnTheWay: { puts: number; runtimeMb: number }[] = [];
    for (let i = 0; i < bigPuts; i++) {
      big.writeUInt32BE(i, 0); // every value differs, as real writes would
      await put("/bench/big", big);
      if ((i + 1) % 50 === 0) rssOnTheWay.push({ puts: i + 1, runtimeMb: rss().runtimeMb });
    }
    const bigSeconds = (performance.now() - bigStarted) / 1000;
    const after = rss();
    results.isolateHeapAfterBigPuts = await heap();
    results.memory = {
      fresh,
      warmWrites,
      before,
      after,
      rssOnTheWay,
      puts: bigPuts,
      valueBytes: bigValueBytes,
      seconds: bigSeconds,
    };
    console.log(
      `(a) RSS runtime ${fresh.runtimeMb} MB fresh, ${before.runtimeMb} MB after ${warmWrites} writes of 1 KiB, ` +
        `${after.runtimeMb} MB after ${bigPuts} PUTs of 1 MiB`,
    );

    if (smallWritesMax > 0) await writeAndReload(results);
    if (downWrites > 0) await downThroughWrites(results);
  } finally {
    agent.destroy();
    await dev.stop();
    rmSync(state, { recursive: true, force: true });
  }
  console.log(JSON.stringify(results, null, 2));

  /** (d): one acceptor down through many writes, then back: the time until it caught up. */
  async function downThroughWrites(results: Record<string, unknown>): Promise<void> {
    const fault = (mode: string) =>
      send(
        agent,
        target,
        {
          method: "POST",
          path: "/v1/faults",
          body: Buffer.from(JSON.stringify({ acceptor: downAcceptor, mode })),
          headers: { "Content-Type": "application/json" },
        },
        30_000,
      );
    const chosen = async () => {
      const view = JSON.parse(
        (await send(agent, target, { method: "GET", path: "/v1/cluster" }, 30_000)).toString(),
      ) as { acceptors: { id: string; chosen: number | null }[] };
      const mine = view.acceptors.find((a) => a.id === downAcceptor)?.chosen ?? -1;
      const others = Math.max(
        ...view.acceptors.filter((a) => a.id !== downAcceptor).map((a) => a.chosen ?? 0),
      );
      return { mine, others };
    };
    await fault("down");
    const before = (await health()).rev;
    const writes = await smallWrites(dev.url, downWrites);
    const after = (await health()).rev;
    await fault("ok");
    const healed = performance.now();
    // A write now and then, as a live cluster has: the commit shows the returning acceptor its gap.
    let caughtUpMs: number | undefined;
    let last = { mine: -1, others: 0 };
    for (let i = 0; i < 600 && caughtUpMs === undefined; i++) {
      await put("/bench/after-down", Buffer.from(String(i)));
      last = await chosen();
      if (last.mine >= last.others) caughtUpMs = Math.round(performance.now() - healed);
      else await new Promise((r) => setTimeout(r, 200));
    }
    const runtimePids = dev
      .processes()
      .filter((p) => p.role === "workerd (runtime)")
      .map((p) => p.pid);
    const files = sqliteFiles(runtimePids).map(sqliteFigures);
    results.downThroughWrites = {
      acceptor: downAcceptor,
      writes,
      revs: after - before,
      caughtUpMs: caughtUpMs ?? null,
      chosen: last,
      memory: rss(),
      sqlite: files,
    };
    console.log(
      `(d) ${downAcceptor} down through ${writes.writes} writes (${after - before} revs, ${writes.seconds} s); back, caught up in ${caughtUpMs ?? "(not within 2 min)"} ms (chosen ${last.mine} of ${last.others})`,
    );
    for (const f of files) {
      console.log(
        `(d) ${f.file}: ${mb(f.bytes / 1024)} MB (+ WAL ${mb(f.walBytes / 1024)} MB) rows ${JSON.stringify(f.rows)}`,
      );
    }
  }

  /** (b) and (c): small writes, reloads after them, and what SQLite then holds. */
  async function writeAndReload(results: Record<string, unknown>): Promise<void> {
    // Memory on the way, every 30 s: what grows with the writes, and in which process.
    const memoryOnTheWay: ({ seconds: number } & Rss)[] = [];
    const started = performance.now();
    const sampler = setInterval(
      () => memoryOnTheWay.push({ seconds: Math.round((performance.now() - started) / 1000), ...rss() }),
      30_000,
    );
    // Straight to the runtime (no wrangler proxy, which costs as much CPU as the Worker): more writes in the time.
    const small = await smallWrites(dev.directUrl ?? dev.url).finally(() => clearInterval(sampler));
    results.smallWrites = small;
    results.memoryDuringSmallWrites = memoryOnTheWay;
    const revAfter = (await health()).rev;
    results.revAfterWrites = revAfter;
    console.log(
      `(b) ${small.writes} small writes (${small.errors} errors) in ${small.seconds} s; store rev ${revAfter}`,
    );
    results.memoryAfterSmallWrites = rss();
    results.isolateHeapAfterSmallWrites = await heap();
    console.log(
      `(b) runtime RSS ${JSON.stringify(results.memoryAfterSmallWrites)}; the isolate's heap ${JSON.stringify(results.isolateHeapAfterSmallWrites)}`,
    );
    results.reloadAfterMs = await reloadMs();
    results.memoryAfterReload = rss();
    // The runtime workerd has grown by then (memoryDuringSmallWrites; the proxy workerd, which runs
    // none of this code, grows alike when the writes pass through it), and the first reload pays for
    // that process as much as for the state. A new process on the same state, warmed as the
    // near-empty one was, times the state alone.
    agent.destroy();
    await dev.stop();
    dev = await start();
    target = new URL(dev.url);
    agent = new Agent({ keepAlive: true, maxSockets: 8 });
    await warm();
    results.memoryAfterRestart = rss();
    results.reloadAfterRestartMs = await reloadMs();
    console.log(
      `(b) reload of all five: near empty ${JSON.stringify(results.reloadEmptyMs)} ms, after the writes in the same process ${JSON.stringify(results.reloadAfterMs)} ms, in a new process on that state ${JSON.stringify(results.reloadAfterRestartMs)} ms`,
    );

    const runtimePids = dev
      .processes()
      .filter((p) => p.role === "workerd (runtime)")
      .map((p) => p.pid);
    const files = sqliteFiles(runtimePids).map(sqliteFigures);
    results.sqlite = files;
    for (const f of files) {
      console.log(
        `(c) ${f.file}: ${mb(f.bytes / 1024)} MB (+ WAL ${mb(f.walBytes / 1024)} MB) rows ${JSON.stringify(f.rows)}`,
      );
    }
  }
}

await main();
