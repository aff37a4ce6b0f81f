// Bundles the `doozer` CLI (client/cli.ts, the client library and commander)
// into one file, dist/doozer.mjs, which bin/doozer.mjs runs. `npm run build:cli`
// runs it, and so does `npm install` (the prepare script).
//
// The bundle is written to a temporary file and renamed, so that a launcher
// starting meanwhile never imports half a file. dist/doozer.meta.json lists the
// sources, so that the launcher can tell when the bundle is older than them.

import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";

export const root = fileURLToPath(new URL("..", import.meta.url));
export const outfile = join(root, "dist", "doozer.mjs");
export const metafile = join(root, "dist", "doozer.meta.json");

/** Builds dist/doozer.mjs; returns its path. */
export async function buildCli({ quiet = false } = {}) {
  const result = await build({
    absWorkingDir: root,
    entryPoints: ["client/cli.ts"],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node22",
    write: false,
    metafile: true,
    legalComments: "none",
    logLevel: quiet ? "error" : "warning",
    // commander is CommonJS: its require() of Node's modules needs a real require in an ES module.
    banner: {
      js: 'import { createRequire as __doozerCreateRequire } from "node:module";\nconst require = __doozerCreateRequire(import.meta.url);',
    },
  });
  mkdirSync(dirname(outfile), { recursive: true });
  const [bundle] = result.outputFiles;
  const unique = `.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(outfile + unique, bundle.contents);
  writeFileSync(metafile + unique, JSON.stringify({ inputs: Object.keys(result.metafile.inputs) }));
  renameSync(metafile + unique, metafile);
  renameSync(outfile + unique, outfile);
  if (!quiet) console.log(`built ${outfile} (${(bundle.contents.length / 1024).toFixed(0)} KiB)`);
  return outfile;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await buildCli();
