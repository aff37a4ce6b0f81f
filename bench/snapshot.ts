// A frozen copy of a Worker for one bench run: bundled once, then served by
// `wrangler dev` from a temporary folder with a generated config.
//
// wrangler dev rebuilds and restarts its runtime whenever a source file (or the
// custom build's watch_dir) changes. On a machine where others edit the code
// while the bench runs, that would restart the system under test mid-phase and
// mix two versions of the code in one run. The snapshot has no source files to
// watch and no custom build: the bench measures the code as it was at its start.

import { execFileSync } from "node:child_process";
import { cpSync, existsSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

const wrangler = join("node_modules", "wrangler", "bin", "wrangler.js");

/**
 * Bundles the Worker of `config` into `dir` and returns the path of a config that serves that bundle.
 * `assets: false` leaves out the config's static assets: wrangler dev then runs no asset router in
 * front of the Worker, a layer that costs the one local thread ~0.3 ms a request (docs/BENCHMARKS.md).
 */
export function snapshotWorker(config: string, dir: string, { assets: withAssets = true } = {}): string {
  // The custom build (the viewer's assets) runs here, once, as wrangler dev would run it.
  try {
    execFileSync(
      process.execPath,
      [wrangler, "deploy", "--dry-run", "--outdir", join(dir, "bundle"), "--config", config],
      {
        env: { ...process.env, CI: "1" },
        stdio: ["ignore", "pipe", "pipe"],
        timeout: 120_000,
      },
    );
  } catch (error) {
    const e = error as { stdout?: Buffer; stderr?: Buffer };
    throw new Error(`bundling ${config} failed:\n${e.stdout?.toString() ?? ""}${e.stderr?.toString() ?? ""}`);
  }
  const raw = readRawConfig(config);
  const from = dirname(resolve(config));
  const main = join(dir, "bundle", `${basenameWithoutExt(String(raw.main))}.js`);
  if (!existsSync(main)) throw new Error(`bundling ${config} did not produce ${main}`);
  const generated: Record<string, unknown> = { ...raw, main, no_bundle: true };
  delete generated.build;
  delete generated.env;
  const assets = raw.assets as { directory?: string } | undefined;
  if (!withAssets) delete generated.assets;
  else if (assets?.directory) {
    cpSync(resolve(from, assets.directory), join(dir, "assets"), { recursive: true });
    generated.assets = { ...assets, directory: join(dir, "assets") };
  }
  const path = join(dir, "wrangler.json");
  writeFileSync(path, JSON.stringify(generated, null, 2));
  return path;
}

/** The config as written (wrangler's own reader), in a child process: wrangler's module is heavy. */
function readRawConfig(config: string): Record<string, unknown> {
  const script =
    'import { experimental_readRawConfig as read } from "wrangler";' +
    "process.stdout.write(JSON.stringify(read({ config: process.argv[1] }).rawConfig));";
  const out = execFileSync(process.execPath, ["--input-type=module", "-e", script, config], {
    encoding: "utf8",
    timeout: 60_000,
  });
  return JSON.parse(out) as Record<string, unknown>;
}

function basenameWithoutExt(path: string): string {
  const name = path.split("/").at(-1) ?? path;
  return name.replace(/\.[cm]?[jt]s$/, "");
}
