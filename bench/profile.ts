// `npm run bench:profile`: where the CPU of a request goes. It runs one load
// phase against doozer-edge under `wrangler dev` (the runtime workerd's own
// port, as `npm run bench` does) while V8's sampling profiler records the
// isolate that runs the Worker and every acceptor, then sums the samples by
// source module (the bundle's `// path.ts` markers say where each begins) and
// by function. Native work called from JavaScript (SQLite, RPC) counts
// towards the function that called it. Figures go to stdout as markdown;
// docs/BENCHMARKS.md quotes them.

import { writeFileSync } from "node:fs";
import { Agent } from "node:http";
import { parseArgs } from "node:util";
import { startCpuSample } from "./cpu";
import { connectInspector } from "./inspector";
import { runPhase, send } from "./load";
import { type SystemKey, startSystem, type Workload } from "./systems";

interface CallFrame {
  functionName: string;
  scriptId: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
  /** Samples by source line (1-based) while this node ran its own code. */
  positionTicks?: { line: number; ticks: number }[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Bounds, so that a mistyped option cannot run for long. */
const secondsMax = 60;
const clientsMax = 1_024;
const warmupSecondsMax = 600;

const { values } = parseArgs({
  options: {
    system: { type: "string", default: "doozer-leader" },
    workload: { type: "string", default: "write" },
    clients: { type: "string", default: "64" },
    seconds: { type: "string", default: "8" },
    /** Unmeasured load first, in seconds: long enough to fill the windows (2,000 revs, 100,000 mutation ids) if asked. */
    warmup: { type: "string", default: "3" },
    top: { type: "string", default: "25" },
    /** Also writes the raw profile there: a .cpuprofile that DevTools opens. */
    save: { type: "string" },
  },
});
const system = values.system as SystemKey;
const workload = values.workload as Workload;
const clients = Number(values.clients);
const seconds = Number(values.seconds);
const warmupSeconds = Number(values.warmup);
const top = Number(values.top);
if (system !== "doozer-leader" && system !== "doozer-worker" && system !== "single-do") {
  throw new Error(`--system: doozer-leader, doozer-worker or single-do, not ${system}`);
}
if (!["write", "read", "stale"].includes(workload)) throw new Error(`--workload: write, read or stale`);
if (!(clients >= 1 && clients <= clientsMax)) throw new Error(`--clients: 1 to ${clientsMax}`);
if (!(seconds > 0 && seconds <= secondsMax)) throw new Error(`--seconds: up to ${secondsMax}`);
if (!(warmupSeconds >= 0 && warmupSeconds <= warmupSecondsMax))
  throw new Error(`--warmup: 0 to ${warmupSecondsMax}`);

/** Which module each line of a bundled script belongs to: esbuild marks where each begins. */
function moduleLines(source: string): (line: number) => string {
  const starts: { line: number; module: string }[] = [];
  source.split("\n").forEach((text, line) => {
    const marker = /^\/\/ (\S+\.(?:ts|js|mjs))$/.exec(text);
    if (marker?.[1]) starts.push({ line, module: marker[1].replace(/^.*node_modules\//, "node_modules/") });
  });
  return (line) => {
    let module = "(bundle preamble)";
    for (const start of starts) {
      if (start.line > line) break;
      module = start.module;
    }
    return module;
  };
}

async function main(): Promise<void> {
  const running = await startSystem(system, { viaProxy: false });
  try {
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    for (const call of running.seedCalls) await send(agent, new URL(running.url), call, 10_000);
    agent.destroy();
    // Unmeasured load first: the acceptors wake, the leader takes its ballot, the code is optimised.
    await runPhase({
      url: running.url,
      clients,
      durationMs: warmupSeconds * 1000,
      makeCall: running.calls[workload],
    });

    const pokeAgent = new Agent({ keepAlive: true, maxSockets: 1 });
    const poke = () => send(pokeAgent, new URL(running.url), { method: "GET", path: "/v1/rev" }, 5_000);
    const inspector = await connectInspector(running.processes(), poke);
    if (!inspector) throw new Error("wrangler dev's inspector proxy does not list the Worker");
    const scripts = new Map<string, string>();
    inspector.on("Debugger.scriptParsed", (params) =>
      scripts.set(String(params.scriptId), String(params.url)),
    );
    await inspector.call("Debugger.enable");
    const modules = new Map<string, (line: number) => string>();
    const sources = new Map<string, string[]>();
    for (const scriptId of scripts.keys()) {
      const { scriptSource } = await inspector.call<{ scriptSource: string }>("Debugger.getScriptSource", {
        scriptId,
      });
      modules.set(scriptId, moduleLines(scriptSource));
      sources.set(scriptId, scriptSource.split("\n"));
    }
    await inspector.call("Debugger.disable");

    await inspector.call("Profiler.enable");
    await inspector.call("Profiler.setSamplingInterval", { interval: 250 });
    const endCpu = startCpuSample(running.processes());
    await inspector.call("Profiler.start");
    const result = await runPhase({
      url: running.url,
      clients,
      durationMs: seconds * 1000,
      makeCall: running.calls[workload],
    });
    const { profile } = await inspector.call<{ profile: Profile }>("Profiler.stop");
    const cpu = endCpu();
    inspector.close();
    pokeAgent.destroy();

    if (values.save) {
      writeFileSync(values.save, JSON.stringify(profile));
      console.log(`the raw profile is in ${values.save}`);
    }
    report(profile, modules, sources, result.ops, cpu.byRole["workerd (runtime)"] ?? 0, result.seconds);
    console.log(
      `\n${system}, ${workload} ×${clients}: ${Math.round(result.opsPerSec)} ops/s, p50 ${result.p50Ms.toFixed(1)} ms, p99 ${result.p99Ms.toFixed(1)} ms, ${result.errors} errors`,
    );
  } finally {
    await running.stop();
  }
}

function report(
  profile: Profile,
  modules: Map<string, (line: number) => string>,
  sources: Map<string, string[]>,
  ops: number,
  runtimeCpuPercent: number,
  phaseSeconds: number,
): void {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const label = (node: ProfileNode) => {
    const frame = node.callFrame;
    const module = modules.get(frame.scriptId)?.(frame.lineNumber);
    // An arrow function has no name: its line says which one it is.
    return {
      fn: frame.functionName || `anonymous at line ${frame.lineNumber + 1}`,
      module: module ?? "(native or runtime)",
    };
  };
  const selfByFunction = new Map<string, number>();
  const inclusiveByModule = new Map<string, number>();
  const selfByModule = new Map<string, number>();
  let totalUs = 0;
  const special = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    totalUs += delta;
    const node = byId.get(id);
    if (!node) return;
    const { fn, module } = label(node);
    // V8's own nodes: (program), (idle), (garbage collector), (root).
    if (node.callFrame.functionName.startsWith("(")) {
      special.set(fn, (special.get(fn) ?? 0) + delta);
      return;
    }
    const key = `${fn} (${module})`;
    selfByFunction.set(key, (selfByFunction.get(key) ?? 0) + delta);
    selfByModule.set(module, (selfByModule.get(module) ?? 0) + delta);
    // Each module on the stack once, however often it recurs.
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const on = byId.get(at);
      if (!on || on.callFrame.functionName.startsWith("(")) continue;
      seen.add(label(on).module);
    }
    for (const m of seen) inclusiveByModule.set(m, (inclusiveByModule.get(m) ?? 0) + delta);
  });
  const busyUs = totalUs - (special.get("(idle)") ?? 0);
  const perOp = (us: number) => (ops > 0 ? (us / 1000 / ops).toFixed(3) : "-");
  const pct = (us: number) => ((100 * us) / Math.max(busyUs, 1)).toFixed(1);
  console.log(
    `isolate: ${(totalUs / 1e6).toFixed(1)} s sampled, busy ${(busyUs / 1e6).toFixed(1)} s = ${perOp(busyUs)} ms per request (${ops} requests); runtime workerd process: ${runtimeCpuPercent.toFixed(0)} % of a core = ${ops > 0 ? (((runtimeCpuPercent / 100) * phaseSeconds * 1000) / ops).toFixed(3) : "-"} ms per request`,
  );
  const table = (title: string, rows: [string, number][]) => {
    console.log(`\n| ${title} | ms per request | % of busy |\n|---|---:|---:|`);
    for (const [name, us] of rows) console.log(`| ${name} | ${perOp(us)} | ${pct(us)} |`);
  };
  const sorted = (map: Map<string, number>) => [...map].sort((a, b) => b[1] - a[1]);
  table(
    "outside JavaScript",
    sorted(special).filter(([name]) => name !== "(idle)"),
  );
  table("module, self", sorted(selfByModule).slice(0, top));
  table("module, inclusive (callees counted)", sorted(inclusiveByModule).slice(0, top));
  table("function, self", sorted(selfByFunction).slice(0, top));
  table("source line, self", sorted(selfByLine(profile, modules, sources)).slice(0, top));
}

/** Each node's own time, shared out over the lines its samples fell on. */
function selfByLine(
  profile: Profile,
  modules: Map<string, (line: number) => string>,
  sources: Map<string, string[]>,
): Map<string, number> {
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const byLine = new Map<string, number>();
  for (const node of profile.nodes) {
    const lines = sources.get(node.callFrame.scriptId);
    const ticks = node.positionTicks ?? [];
    const total = ticks.reduce((sum, t) => sum + t.ticks, 0);
    if (!lines || total === 0) continue;
    for (const { line, ticks: count } of ticks) {
      const text = (lines[line - 1] ?? "").trim().slice(0, 70).replaceAll("|", "\\|");
      const module = modules.get(node.callFrame.scriptId)?.(line - 1) ?? "?";
      const key = `${module}:${line} \`${text}\``;
      byLine.set(key, (byLine.get(key) ?? 0) + ((selfUs.get(node.id) ?? 0) * count) / total);
    }
  }
  return byLine;
}

await main();
