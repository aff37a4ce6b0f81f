// `npm run bench:fairness [-- system workload clients]`: where the 256-client
// tail comes from. It runs one closed-loop phase (default: the single DO's
// reads, 256 clients, 4 s), notes every request's client, its number on that
// client and its latency, and halfway through counts the runtime's established
// connections that hold request bytes it has not read yet (/proc/net/tcp's
// rx_queue). Requests that wait in a socket nobody reads wait for no code of
// ours: docs/BENCHMARKS.md, "The 256-client tail happens before our code sees
// the request".

import { Agent } from "node:http";
import { type Call, send } from "./load";
import { percentile } from "./percentile";
import { tcpSockets } from "./proc-net";
import { seedReads, startSystem, systemKeys, workloads } from "./systems";

const log = (line: string) => process.stderr.write(`[bench:fairness] ${line}\n`);

interface Sent {
  client: number;
  n: number;
  atMs: number;
  ms: number;
}

/** Established sockets on `port`'s server side: how many, and how many hold unread bytes. */
function unreadConnections(port: number): { established: number; unread: number } {
  const established = tcpSockets(["/proc/net/tcp", "/proc/net/tcp6"]).filter(
    (s) => s.state === "01" && s.localPort === port,
  );
  return { established: established.length, unread: established.filter((s) => s.rxQueue > 0).length };
}

async function main(): Promise<void> {
  const [systemArg = "single-do", workloadArg = "stale", clientsArg = "256"] = process.argv.slice(2);
  const system = systemKeys.find((k) => k === systemArg);
  const workload = workloads.find((w) => w === workloadArg);
  const clients = Number(clientsArg);
  if (!system || system === "etcd")
    throw new Error(`system: one of ${systemKeys.filter((k) => k !== "etcd").join(", ")}`);
  if (!workload) throw new Error(`workload: one of ${workloads.join(", ")}`);
  if (!Number.isInteger(clients) || clients < 1 || clients > 1_024) throw new Error("clients: 1..1024");
  const durationMs = 4_000;

  log(`starting ${system}`);
  const running = await startSystem(system, { viaProxy: false });
  try {
    const target = new URL(running.url);
    await seedReads(running);

    const agent = new Agent({ keepAlive: true, maxSockets: clients, maxFreeSockets: clients });
    const sent: Sent[] = [];
    const started = performance.now();
    const deadline = started + durationMs;
    let midway: { established: number; unread: number } | undefined;
    const sample = setTimeout(() => {
      midway = unreadConnections(Number(target.port));
    }, durationMs / 2);
    await Promise.all(
      Array.from({ length: clients }, async (_, client) => {
        for (let n = 0; n < 100_000 && performance.now() < deadline; n++) {
          const call: Call = running.calls[workload](client, n);
          const at = performance.now();
          await send(agent, target, call, 30_000);
          sent.push({ client, n, atMs: at - started, ms: performance.now() - at });
        }
      }),
    );
    clearTimeout(sample);
    agent.destroy();

    const latencies = sent.map((s) => s.ms).sort((a, b) => a - b);
    const p50 = percentile(latencies, 0.5);
    const p99 = percentile(latencies, 0.99);
    const slow = sent.filter((s) => s.ms > 4 * p50).sort((a, b) => b.ms - a.ms);
    const perClient = new Map<number, number>();
    for (const s of sent) perClient.set(s.client, (perClient.get(s.client) ?? 0) + 1);
    const counts = [...perClient.values()].sort((a, b) => a - b);
    const lines = [
      `${system}, ${workload}, ${clients} clients, ${durationMs / 1000} s: ${sent.length} requests, p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(0)} ms (${(p99 / p50).toFixed(1)}×)`,
      `- over 4× p50: ${slow.length} requests, ${slow.filter((s) => s.n === 0).length} of them a client's first (a new connection)`,
      `- requests per client: min ${counts[0]}, median ${counts[Math.floor(counts.length / 2)]}, max ${counts.at(-1)}`,
      `- halfway: ${midway?.established ?? "?"} established connections to the runtime, ${midway?.unread ?? "?"} of them holding a request it had not read`,
      "- the slowest: " +
        slow
          .slice(0, 5)
          .map(
            (s) =>
              `client ${s.client} request ${s.n} sent at ${s.atMs.toFixed(0)} ms waited ${s.ms.toFixed(0)} ms`,
          )
          .join("; "),
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
  } finally {
    await running.stop();
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
