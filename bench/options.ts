// The command line of `npm run bench`: which parts to run and how long.

import { type SystemKey, systemKeys } from "./systems";

export type Part = "load" | "proxy" | "fanout";
export const parts: readonly Part[] = ["load", "proxy", "fanout"];

export interface BenchOptions {
  quick: boolean;
  systems: SystemKey[];
  parts: Part[];
  clients: number[];
  /** Each measured phase. */
  durationMs: number;
  /** Unmeasured load before a system's first phase. */
  warmupMs: number;
  watchers: number[];
  fanoutWrites: number;
  /** Threads of the generator reading the watchers' sockets. */
  fanoutThreads: number;
  /** Send all load through wrangler's proxy rather than to the runtime workerd. */
  viaProxy: boolean;
  /** Run doozer-edge with the viewer's assets (and so wrangler dev's asset router in front of the Worker). */
  withAssets: boolean;
  out: string;
}

export const usage = `npm run bench [-- options]

  --quick               a ~1-minute smoke run (short phases, 1 and 64 clients, 1,000 watchers)
  --systems a,b         of ${systemKeys.join(", ")} (default: all)
  --parts a,b           of ${parts.join(", ")} (default: all)
  --clients 1,16,64,256 concurrent clients per phase
  --duration S          seconds per measured phase (default 5; quick 1.5)
  --watchers 1000,10000 watch fan-out sizes (quick: 1000)
  --fanout-writes N     writes per fan-out (default 24; quick 8)
  --fanout-threads N    generator threads reading the watchers' sockets (default 2)
  --via-proxy           send load through wrangler dev's proxy, not straight to the runtime workerd
  --with-assets         run doozer-edge with the viewer's assets, as npm start does (wrangler dev then
                        puts its asset router in front of the Worker, on the same thread)
  --out FILE            also write the report there (default test-results/bench-report.md)
`;

/** Bounds that keep a mistyped option from running for hours. */
const maxDurationS = 60;
const maxWatchers = 20_000;
const maxClients = 1_024;

export function parseOptions(argv: readonly string[]): BenchOptions {
  const quick = argv.includes("--quick");
  const options: BenchOptions = {
    quick,
    systems: [...systemKeys],
    parts: [...parts],
    clients: quick ? [1, 64] : [1, 16, 64, 256],
    durationMs: quick ? 1_500 : 5_000,
    warmupMs: quick ? 500 : 1_500,
    watchers: quick ? [1_000] : [1_000, 10_000],
    fanoutWrites: quick ? 8 : 24,
    // One per core: with one, reading 10,000 watchers' frames saturated it and inflated the delays.
    fanoutThreads: 2,
    viaProxy: false,
    withAssets: false,
    out: "test-results/bench-report.md",
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value\n\n${usage}`);
      return v;
    };
    const list = () => value().split(",").filter(Boolean);
    const numbers = (max: number) =>
      list().map((s) => {
        const n = Number(s);
        if (!Number.isInteger(n) || n < 1 || n > max)
          throw new Error(`${flag}: ${s} is not an integer in 1..${max}`);
        return n;
      });
    switch (flag) {
      case "--quick":
        break;
      case "--systems":
        options.systems = list().map((s) => oneOf(s, systemKeys, flag));
        break;
      case "--parts":
        options.parts = list().map((s) => oneOf(s, parts, flag));
        break;
      case "--clients":
        options.clients = numbers(maxClients);
        break;
      case "--duration": {
        const seconds = Number(value());
        if (!(seconds > 0 && seconds <= maxDurationS))
          throw new Error(`--duration: 0 < S <= ${maxDurationS}`);
        options.durationMs = seconds * 1000;
        break;
      }
      case "--watchers":
        options.watchers = numbers(maxWatchers);
        break;
      case "--fanout-writes":
        options.fanoutWrites = numbers(1_000)[0] ?? options.fanoutWrites;
        break;
      case "--fanout-threads":
        options.fanoutThreads = numbers(8)[0] ?? options.fanoutThreads;
        break;
      case "--via-proxy":
        options.viaProxy = true;
        break;
      case "--with-assets":
        options.withAssets = true;
        break;
      case "--out":
        options.out = value();
        break;
      case "--help":
      case "-h":
        console.log(usage);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown option ${flag}\n\n${usage}`);
    }
  }
  return options;
}

function oneOf<T extends string>(value: string, allowed: readonly T[], flag: string): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new Error(`${flag}: ${value} is not one of ${allowed.join(", ")}`);
}
