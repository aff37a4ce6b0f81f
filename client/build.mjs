// Builds the doozer-edge-client package into client/dist (`npm run build:client`
// from the repository root, `npm run build` here, and `npm pack` before packing):
// - dist/index.js: the library, one ES module with the core code it uses inlined
//   (platform "neutral": a Node built-in anywhere in it fails the build);
// - dist/cli.js: the `doozer` command, for Node, commander included;
// - dist/types: .d.ts files by tsc (the library's and the core's it names).
// esbuild and typescript come from the repository's node_modules.

import { execFile } from "node:child_process";
import { chmodSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { build } from "esbuild";

const here = fileURLToPath(new URL(".", import.meta.url));
const dist = join(here, "dist");

export async function buildClient({ quiet = false } = {}) {
  rmSync(dist, { recursive: true, force: true });
  const logLevel = quiet ? "error" : "warning";
  const library = build({
    absWorkingDir: here,
    entryPoints: ["index.ts"],
    outfile: join(dist, "index.js"),
    bundle: true,
    platform: "neutral",
    format: "esm",
    target: "es2022",
    sourcemap: true,
    legalComments: "none",
    logLevel,
  });
  const cli = build({
    absWorkingDir: here,
    stdin: {
      contents: 'import { run } from "./cli.ts";\nawait run();\n',
      resolveDir: here,
      sourcefile: "doozer.ts",
      loader: "ts",
    },
    outfile: join(dist, "cli.js"),
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node22",
    legalComments: "none",
    logLevel,
    // commander is CommonJS: its require() of Node's modules needs a real require in an ES module.
    banner: {
      js: '#!/usr/bin/env node\nimport { createRequire as __doozerCreateRequire } from "node:module";\nconst require = __doozerCreateRequire(import.meta.url);',
    },
  });
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  const types = promisify(execFile)(process.execPath, [tsc, "-p", join(here, "tsconfig.build.json")]);
  await Promise.all([library, cli, types]);
  addJsExtensions(join(dist, "types"));
  chmodSync(join(dist, "cli.js"), 0o755);
  if (!quiet) console.log(`built ${dist}: index.js, cli.js, types/`);
  return dist;
}

/**
 * The sources import without extensions (moduleResolution "bundler"); a consumer on "nodenext" needs
 * them in the .d.ts files: `from "./client"` becomes `from "./client.js"`.
 */
function addJsExtensions(folder) {
  for (const entry of readdirSync(folder, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith(".d.ts")) continue;
    const file = join(entry.parentPath, entry.name);
    const text = readFileSync(file, "utf8").replace(
      /(from\s+|import\()(["'])(\.{1,2}\/[^"']+?)\2/g,
      (all, before, quote, specifier) =>
        specifier.endsWith(".js") ? all : `${before}${quote}${specifier}.js${quote}`,
    );
    writeFileSync(file, text);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await buildClient();
