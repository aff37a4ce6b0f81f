// The watchers of the fan-out, in a worker thread of their own: with thousands
// of sockets delivering at once, the thread that reads them is busy, and the
// writer (on the main thread) must not see its acknowledgements queued behind
// their frames, or each delay would be measured from a late ack. Times are
// process.hrtime (the system's monotonic clock), the same clock on both threads.

import { parentPort } from "node:worker_threads";
import { type FromWatchers, nowMs, type ToWatchers } from "./watchers-protocol";

/** Sockets being opened at once: enough to go fast, few enough not to pile up handshakes. */
const openAtOnce = 100;
/** One socket's WATCH must be answered within this. */
const watchAnswerMs = 20_000;

if (!parentPort) throw new Error("bench/watchers-thread.ts runs as a worker thread");
const port = parentPort;

/** WebSocket.CLOSED (spelled out: the Workers types name it differently). */
const closedState = 3;

const sockets: WebSocket[] = [];
/** Set once the run is over: frames still in flight are ignored. */
let closing = false;
const arrivals = new Map<number, number[]>();

port.on("message", (message: ToWatchers) => {
  if (message.type === "open") void open(message);
  else void close();
});

async function open(request: Extract<ToWatchers, { type: "open" }>): Promise<void> {
  const started = nowMs();
  const deadline = started + request.connectTimeoutMs;
  let failures = 0;
  let firstError: string | undefined;
  let next = 0;
  const one = () =>
    new Promise<void>((resolve) => {
      const ws = new WebSocket(request.url);
      let watching = 0;
      let settled = false;
      const settle = (error?: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error === undefined) sockets.push(ws);
        else {
          failures++;
          firstError ??= error;
          ws.close();
        }
        resolve();
      };
      const timer = setTimeout(() => settle(`no answer to WATCH within ${watchAnswerMs} ms`), watchAnswerMs);
      // addEventListener rather than onopen etc.: the one API that both Node's and the Workers' types declare.
      ws.addEventListener("open", () => {
        for (let id = 1; id <= request.watchesPerSocket; id++) {
          ws.send(JSON.stringify({ id, verb: "WATCH", glob: request.glob }));
        }
      });
      ws.addEventListener("error", () => settle("socket error while connecting"));
      ws.addEventListener("close", (e) => settle(`socket closed while connecting (${e.code})`));
      ws.addEventListener("message", (e) => {
        if (closing) return;
        const at = nowMs();
        const frame = JSON.parse(String(e.data)) as {
          watching?: boolean;
          event?: { rev: number };
          error?: { code: string };
        };
        if (frame.event) {
          const { rev } = frame.event;
          let times = arrivals.get(rev);
          if (!times) {
            times = [];
            arrivals.set(rev, times);
          }
          times.push(at);
          if (times.length === sockets.length * request.watchesPerSocket) {
            port.postMessage({ type: "complete", rev } satisfies FromWatchers);
          }
        } else if (frame.watching) {
          if (++watching === request.watchesPerSocket) settle();
        } else if (frame.error) settle(`WATCH answered ${frame.error.code}`);
      });
    });
  const opener = async () => {
    while (next < request.sockets && nowMs() < deadline) {
      next++;
      await one();
    }
  };
  await Promise.all(Array.from({ length: Math.min(openAtOnce, request.sockets) }, opener));
  port.postMessage({
    type: "opened",
    connected: sockets.length,
    // Sockets never tried (the connect bound passed) count as failures.
    failures: failures + (request.sockets - next),
    ...(firstError === undefined ? {} : { firstError }),
    seconds: (nowMs() - started) / 1000,
  } satisfies FromWatchers);
}

/** Closes every socket, waits (at most 15 s) for the closes, then reports and lets the thread end. */
async function close(): Promise<void> {
  let open = 0;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 15_000);
    const closed = () => {
      if (--open === 0) {
        clearTimeout(timer);
        resolve();
      }
    };
    closing = true;
    for (const ws of sockets) {
      if (ws.readyState === closedState) continue;
      open++;
      ws.addEventListener("close", closed);
      ws.close(1000, "bench done");
    }
    if (open === 0) {
      clearTimeout(timer);
      resolve();
    }
  });
  port.postMessage({ type: "closed", arrivals: [...arrivals] } satisfies FromWatchers);
  port.close();
}
