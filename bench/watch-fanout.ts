// Watch fan-out on doozer-edge: W WebSockets each WATCH one glob (the Worker
// spreads the sockets over the acceptors), then a few dozen writes, one at a
// time; for every (write, watcher) pair, the delay from the write's
// acknowledgement (its HTTP answer) to the event's arrival at that watcher.
// The watchers are raw sockets (cheaper than the client library) on a worker
// thread (bench/watchers-thread.ts); the writer is this thread.
//
// Locally the runtime workerd holds every socket and needs about two file
// descriptors for each (measured: the count is reported), under an open-file
// limit this machine does not let us raise (20,000 here). Past what fits, the
// watchers share sockets: several WATCHes on one socket, each with its own
// event frame, so workerd still sends one frame per watcher and event.

import { readdirSync, readFileSync } from "node:fs";
import { Agent } from "node:http";
import { Worker } from "node:worker_threads";
import { type CpuSample, startCpuSample, type Watched } from "./cpu";
import { send } from "./load";
import { percentile } from "./percentile";
import { type FromWatchers, nowMs, type ToWatchers } from "./watchers-protocol";

export interface FanoutOptions {
  /** doozer-edge's base URL (http://…); sockets go to its /v1/ws. */
  url: string;
  watchers: number;
  writes: number;
  processes: () => Watched[];
  /** Bound on opening every socket. */
  connectTimeoutMs: number;
  /** Bound on the wait for one write's events to reach every watcher. */
  deliverTimeoutMs: number;
  /** Bound on all the writes: no write starts after it. */
  writesBudgetMs: number;
  /** Worker threads that read the sockets, each a share. */
  threads: number;
}

export interface FanoutResult {
  watchers: number;
  /** Threads of the generator that read the sockets. */
  threads: number;
  sockets: number;
  watchesPerSocket: number;
  /** The runtime workerd's open files once every socket was open, and its limit. */
  runtimeFds?: number;
  runtimeFdLimit?: number;
  /** Sockets with every WATCH answered; watchers = connected × watchesPerSocket. */
  connected: number;
  connectFailures: number;
  firstConnectError?: string;
  connectSeconds: number;
  /** Writes acknowledged. */
  writes: number;
  writeErrors: number;
  firstWriteError?: string;
  /** Watches answered × writes acknowledged. */
  expected: number;
  arrived: number;
  /** Events that arrived before their write's acknowledgement: their delay counts as 0. */
  beforeAck: number;
  /** Delay after the acknowledgement (0 for an event that came first). */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Delay from the moment the write was sent, for comparison (includes the write's own latency). */
  p50FromSendMs: number;
  p99FromSendMs: number;
  /** Write acknowledgement latency in this run. */
  p50WriteMs: number;
  deliverSeconds: number;
  cpu: CpuSample;
}

const glob = "/fan/**";

/** File descriptors the runtime workerd uses per client socket (measured here: 2). */
const fdsPerSocket = 2;
/** Descriptors left for everything else workerd opens (storage, its own sockets). */
const fdReserve = 1_000;

export async function runFanout(options: FanoutOptions): Promise<FanoutResult> {
  const runtime = options.processes().find((p) => p.role === "workerd (runtime)")?.pid;
  const fdLimit = runtime === undefined ? undefined : openFileLimit(runtime);
  const socketCap =
    fdLimit === undefined ? options.watchers : Math.max(1, Math.floor((fdLimit - fdReserve) / fdsPerSocket));
  const watchesPerSocket = Math.ceil(options.watchers / socketCap);
  const sockets = Math.ceil(options.watchers / watchesPerSocket);
  // Each thread reads its share of the sockets; the writer hears from all of them.
  const threads = Array.from(
    { length: Math.max(1, Math.min(options.threads, sockets)) },
    () => new Worker(new URL("./watchers-thread.ts", import.meta.url)),
  );
  const inbox: FromWatchers[] = [];
  let wake: (() => void) | undefined;
  let failure: Error | undefined;
  for (const thread of threads) {
    thread.on("message", (message: FromWatchers) => {
      inbox.push(message);
      wake?.();
    });
    thread.on("error", (error) => {
      failure = error;
      wake?.();
    });
  }
  /** The next `count` messages matching `accept` (fewer after `ms`); throws if a thread failed. */
  const receive = async <T extends FromWatchers>(
    accept: (m: FromWatchers) => m is T,
    count: number,
    ms: number,
  ): Promise<T[]> => {
    const until = nowMs() + ms;
    const got: T[] = [];
    for (;;) {
      if (failure) throw new Error(`a watchers thread failed: ${failure.message}`);
      for (let i = inbox.findIndex(accept); i >= 0 && got.length < count; i = inbox.findIndex(accept)) {
        got.push(inbox.splice(i, 1)[0] as T);
      }
      const left = until - nowMs();
      if (got.length >= count || left <= 0) return got;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  };
  const terminate = () => Promise.all(threads.map((t) => t.terminate()));

  threads.forEach((thread, i) => {
    thread.postMessage({
      type: "open",
      url: `${options.url.replace(/^http/, "ws")}/v1/ws`,
      glob,
      // An even share of the sockets each.
      sockets: Math.floor(sockets / threads.length) + (i < sockets % threads.length ? 1 : 0),
      watchesPerSocket,
      connectTimeoutMs: options.connectTimeoutMs,
    } satisfies ToWatchers);
  });
  const openings = await receive(
    (m): m is Extract<FromWatchers, { type: "opened" }> => m.type === "opened",
    threads.length,
    options.connectTimeoutMs + 30_000,
  );
  if (openings.length < threads.length) {
    await terminate();
    throw new Error("the watchers threads did not report their sockets");
  }
  const opened = {
    connected: openings.reduce((sum, o) => sum + o.connected, 0),
    failures: openings.reduce((sum, o) => sum + o.failures, 0),
    firstError: openings.find((o) => o.firstError !== undefined)?.firstError,
    seconds: Math.max(...openings.map((o) => o.seconds)),
  };
  /** Threads whose sockets all opened nothing report no "complete": count only the others. */
  const reporting = openings.filter((o) => o.connected > 0).length;
  const runtimeFds = runtime === undefined ? undefined : openFiles(runtime);
  const watching = opened.connected * watchesPerSocket;

  // The writes, one at a time: each waits for its events to reach every watcher (or the bound).
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const target = new URL(options.url);
  const acked: { rev: number; sentAt: number; ackedAt: number }[] = [];
  let writeErrors = 0;
  let firstWriteError: string | undefined;
  const endCpu = startCpuSample(options.processes());
  const deliverStarted = nowMs();
  const writesUntil = deliverStarted + options.writesBudgetMs;
  for (let i = 0; i < options.writes && opened.connected > 0 && nowMs() < writesUntil; i++) {
    const sentAt = nowMs();
    let rev: number;
    try {
      const body = await send(
        agent,
        target,
        { method: "PUT", path: "/v1/files/fan/key?rev=-1", body: Buffer.from(`write ${i}`) },
        10_000,
      );
      rev = (JSON.parse(body.toString()) as { rev: number }).rev;
    } catch (error) {
      writeErrors++;
      firstWriteError ??= error instanceof Error ? error.message : String(error);
      continue; // Not acknowledged: no event is owed for it.
    }
    acked.push({ rev, sentAt, ackedAt: nowMs() });
    await receive(
      (m): m is Extract<FromWatchers, { type: "complete" }> => m.type === "complete" && m.rev === rev,
      reporting,
      options.deliverTimeoutMs,
    );
  }
  const deliverSeconds = (nowMs() - deliverStarted) / 1000;
  const cpu = endCpu();
  agent.destroy();

  for (const thread of threads) thread.postMessage({ type: "close" } satisfies ToWatchers);
  const closings = await receive(
    (m): m is Extract<FromWatchers, { type: "closed" }> => m.type === "closed",
    threads.length,
    30_000,
  );
  await terminate();
  const arrivals = new Map<number, number[]>();
  for (const closing of closings) {
    for (const [rev, times] of closing.arrivals) arrivals.set(rev, [...(arrivals.get(rev) ?? []), ...times]);
  }

  const fromAck: number[] = [];
  const fromSend: number[] = [];
  let beforeAck = 0;
  for (const write of acked) {
    for (const at of arrivals.get(write.rev) ?? []) {
      if (at < write.ackedAt) beforeAck++;
      fromAck.push(Math.max(0, at - write.ackedAt));
      fromSend.push(at - write.sentAt);
    }
  }
  fromAck.sort((a, b) => a - b);
  fromSend.sort((a, b) => a - b);
  const writeLatencies = acked.map((w) => w.ackedAt - w.sentAt).sort((a, b) => a - b);
  return {
    watchers: options.watchers,
    sockets,
    watchesPerSocket,
    ...(runtimeFds === undefined ? {} : { runtimeFds }),
    ...(fdLimit === undefined ? {} : { runtimeFdLimit: fdLimit }),
    connected: opened.connected,
    connectFailures: opened.failures,
    ...(opened.firstError === undefined ? {} : { firstConnectError: opened.firstError }),
    threads: threads.length,
    connectSeconds: opened.seconds,
    writes: acked.length,
    writeErrors,
    ...(firstWriteError === undefined ? {} : { firstWriteError }),
    expected: watching * acked.length,
    arrived: fromAck.length,
    beforeAck,
    p50Ms: percentile(fromAck, 0.5),
    p99Ms: percentile(fromAck, 0.99),
    maxMs: fromAck.at(-1) ?? Number.NaN,
    p50FromSendMs: percentile(fromSend, 0.5),
    p99FromSendMs: percentile(fromSend, 0.99),
    p50WriteMs: percentile(writeLatencies, 0.5),
    deliverSeconds,
    cpu,
  };
}

/** A process's soft limit on open files (/proc/<pid>/limits), if readable. */
function openFileLimit(pid: number): number | undefined {
  try {
    const line = readFileSync(`/proc/${pid}/limits`, "utf8")
      .split("\n")
      .find((l) => l.startsWith("Max open files"));
    const soft = Number(line?.split(/\s{2,}/)[1]);
    return Number.isFinite(soft) ? soft : undefined;
  } catch {
    return undefined;
  }
}

function openFiles(pid: number): number | undefined {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return undefined;
  }
}
