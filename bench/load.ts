// The load generator: N concurrent clients, each sending one HTTP request at a
// time for a fixed duration, over node:http keep-alive connections (one per
// client). Node's global fetch costs several times the CPU of node:http per
// request (docs/BENCHMARKS.md), and on a small machine the generator shares
// the cores with the system under test, so it must stay cheap.

import { Agent, request } from "node:http";
import { percentile } from "./percentile";

/** One request to send. `body` is sent as is; `headers` are added to the defaults. */
export interface Call {
  method: "GET" | "PUT" | "POST";
  path: string;
  body?: Buffer;
  headers?: Record<string, string>;
}

/** Makes the `n`th call (0, 1, …) of client `client`. */
export type CallMaker = (client: number, n: number) => Call;

export interface PhaseResult {
  clients: number;
  /** Requests answered (2xx), those still in flight at the deadline included. */
  ops: number;
  errors: number;
  /** One example, for the report (the first error seen). */
  firstError?: string;
  seconds: number;
  /** Requests answered by the deadline, per second of the phase (the drain after it is not counted). */
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
}

export interface PhaseOptions {
  /** Base URL, e.g. http://127.0.0.1:8787 (loopback only). */
  url: string;
  clients: number;
  durationMs: number;
  makeCall: CallMaker;
  /** A request taking longer counts as an error (and its connection is dropped). */
  timeoutMs?: number;
}

/** Bounds each client's call count so a phase can never run away, whatever the duration. */
const maxCallsPerClient = 1_000_000;

export async function runPhase(options: PhaseOptions): Promise<PhaseResult> {
  const { clients, durationMs, makeCall, timeoutMs = 10_000 } = options;
  const target = new URL(options.url);
  if (target.hostname !== "127.0.0.1" && target.hostname !== "localhost") {
    throw new Error(`the bench runs on loopback only, not ${target.hostname}`);
  }
  const agent = new Agent({ keepAlive: true, maxSockets: clients, maxFreeSockets: clients });
  const latencies: number[] = [];
  let answeredByDeadline = 0;
  let errors = 0;
  let firstError: string | undefined;
  const started = performance.now();
  const deadline = started + durationMs;

  const client = async (id: number): Promise<void> => {
    for (let n = 0; n < maxCallsPerClient && performance.now() < deadline; n++) {
      const call = makeCall(id, n);
      const sent = performance.now();
      try {
        await send(agent, target, call, timeoutMs);
        const now = performance.now();
        latencies.push(now - sent);
        if (now <= deadline) answeredByDeadline++;
      } catch (error) {
        errors++;
        firstError ??= error instanceof Error ? error.message : String(error);
        // A refused connection fails at once: do not spin on it.
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, (_, id) => client(id)));
  // Requests in flight at the deadline finish (their latency counts), but the drain is not throughput.
  const seconds = Math.min(performance.now() - started, durationMs) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return {
    clients,
    ops: latencies.length,
    errors,
    ...(firstError === undefined ? {} : { firstError }),
    seconds,
    opsPerSec: answeredByDeadline / seconds,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
  };
}

/** Sends one call; resolves with the body once it has all arrived, rejects on a non-2xx status. */
export function send(agent: Agent, target: URL, call: Call, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: target.hostname,
        port: target.port,
        method: call.method,
        path: call.path,
        headers: { ...call.headers, "Content-Length": String(call.body?.length ?? 0) },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => {
          const body = Buffer.concat(chunks);
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve(body);
          else
            reject(
              new Error(
                `${call.method} ${call.path.split("?")[0]}: ${status} ${body.toString().slice(0, 200)}`,
              ),
            );
        });
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${call.method} timed out after ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(call.body);
  });
}
