#!/usr/bin/env node
// The `doozer` command: runs dist/doozer.mjs, the bundle of client/cli.ts,
// building it first when it is missing, or older than its sources (in a
// checkout where esbuild is installed).

import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const bundle = join(root, "dist", "doozer.mjs");

function stale() {
  try {
    const built = statSync(bundle).mtimeMs;
    const { inputs } = JSON.parse(readFileSync(join(root, "dist", "doozer.meta.json"), "utf8"));
    return inputs.some((input) => {
      try {
        return statSync(join(root, input)).mtimeMs > built;
      } catch {
        return true; // a source moved or went away
      }
    });
  } catch {
    return false; // no list of sources: trust the bundle
  }
}

if (!existsSync(bundle)) {
  const { buildCli } = await import("../scripts/build-cli.mjs");
  await buildCli({ quiet: true });
} else if (stale()) {
  try {
    const { buildCli } = await import("../scripts/build-cli.mjs");
    await buildCli({ quiet: true });
  } catch {
    // No esbuild here (an install without dev dependencies): run the bundle there is.
  }
}

const { run } = await import(pathToFileURL(bundle).href);
await run(process.argv.slice(2));
