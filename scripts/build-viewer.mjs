// Builds the live web viewer into dist/viewer: viewer/app.ts (with the client
// library) bundled for browsers, beside viewer/index.html and viewer/style.css.
// The Worker serves that folder as static assets at / (wrangler.toml [assets]).
// `npm install` runs it (prepare), and so does `wrangler dev` ([build]).

import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));
const out = join(root, "dist", "viewer");

export async function buildViewer({ quiet = false } = {}) {
  mkdirSync(out, { recursive: true });
  await build({
    absWorkingDir: root,
    entryPoints: ["viewer/app.ts"],
    outfile: join(out, "app.js"),
    bundle: true,
    platform: "browser",
    format: "esm",
    target: "es2022",
    minify: true,
    sourcemap: true,
    legalComments: "none",
    logLevel: quiet ? "error" : "warning",
  });
  for (const file of ["index.html", "style.css"]) copyFileSync(join(root, "viewer", file), join(out, file));
  if (!quiet) console.log(`built ${out}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await buildViewer();
