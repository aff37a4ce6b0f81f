// The folders' layering, checked from the import statements themselves:
//
//   core/ ← server/ ← {worker/, acceptors/}     client/ ← {viewer/, examples/}
//
// core/ is pure and imports nothing outside itself; server/ is what both the
// Worker and the acceptor Durable Object run, and imports only core/; the two
// hosts may not import each other both ways. No cycle between top-level
// folders anywhere. test/ may import anything, and so may bench/ (tooling that
// reuses the e2e launcher and the simulator's WAN model); nothing else imports
// test/, and test/ does not import bench/, so that pair stays acyclic too.

import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const folders = ["core", "server", "worker", "acceptors", "client", "viewer", "bench", "examples", "test"];

/** What each folder may import besides itself; a folder not listed here is held to the cycle check only. */
const allowed: Record<string, readonly string[]> = {
  core: [],
  server: ["core"],
  acceptors: ["core", "server"],
  worker: ["core", "server", "acceptors"],
  client: ["core"],
};

interface Import {
  file: string;
  specifier: string;
  /** The top-level folder a relative import lands in; undefined for a package or platform module. */
  folder: string | undefined;
}

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === "node_modules" || entry.name.startsWith(".")) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...tsFiles(path));
    else if (/\.tsx?$/.test(entry.name) && !entry.name.endsWith(".d.ts")) out.push(path);
  }
  return out;
}

/** Static imports, re-exports, side-effect imports and dynamic imports with a literal specifier. */
const importPattern =
  /(?:^|[\n;])\s*(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\s+from\s+)?["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)/g;

function importsOf(file: string): Import[] {
  const text = readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\//g, "");
  const out: Import[] = [];
  for (const match of text.matchAll(importPattern)) {
    const specifier = match[1] ?? match[2];
    if (specifier === undefined) continue;
    const folder = specifier.startsWith(".")
      ? relative(root, resolve(dirname(file), specifier)).split(/[\\/]/)[0]
      : undefined;
    out.push({ file: relative(root, file), specifier, folder });
  }
  return out;
}

const imports = folders.flatMap((folder) => tsFiles(join(root, folder)).flatMap(importsOf));

function folderOf(file: string): string {
  return file.split(/[\\/]/)[0] ?? "";
}

/** Edges between top-level folders, each with one import that makes it, for the failure message. */
function folderGraph(): Map<string, Map<string, string>> {
  const graph = new Map<string, Map<string, string>>();
  for (const i of imports) {
    const from = folderOf(i.file);
    if (i.folder === undefined || i.folder === from) continue;
    let edges = graph.get(from);
    if (!edges) {
      edges = new Map();
      graph.set(from, edges);
    }
    if (!edges.has(i.folder)) edges.set(i.folder, `${i.file} imports ${i.specifier}`);
  }
  return graph;
}

/** Every cycle found by a depth-first search, as the imports that close it. */
function cycles(graph: Map<string, Map<string, string>>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const visit = (node: string) => {
    state.set(node, "open");
    path.push(node);
    for (const next of graph.get(node)?.keys() ?? []) {
      if (state.get(next) === "open") {
        const loop = [...path.slice(path.indexOf(next)), next];
        found.push(loop.slice(1).map((to, k) => graph.get(loop[k] as string)?.get(to) ?? ""));
      } else if (!state.has(next)) visit(next);
    }
    path.pop();
    state.set(node, "done");
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return found;
}

describe("layering", () => {
  it("finds the imports it checks", () => {
    // A parser that saw nothing would pass every rule below.
    expect(imports.some((i) => i.file === "server/runtime.ts" && i.folder === "core")).toBe(true);
    expect(imports.some((i) => i.file === "worker/service.ts" && i.specifier === "cloudflare:workers")).toBe(
      true,
    );
  });

  it("has no cycle between top-level folders", () => {
    expect(cycles(folderGraph())).toEqual([]);
  });

  it("keeps core/ pure: nothing outside core/, no package, no platform module", () => {
    const outside = imports.filter((i) => folderOf(i.file) === "core" && i.folder !== "core");
    expect(outside.map((i) => `${i.file} imports ${i.specifier}`)).toEqual([]);
  });

  it("lets each layer import only the layers below it", () => {
    const wrong = imports.filter((i) => {
      const rules = allowed[folderOf(i.file)];
      if (!rules || i.folder === undefined || i.folder === folderOf(i.file)) return false;
      return !rules.includes(i.folder);
    });
    expect(wrong.map((i) => `${i.file} imports ${i.specifier}`)).toEqual([]);
  });

  it("keeps server/ off the platform: no cloudflare: module", () => {
    const platform = imports.filter(
      (i) => folderOf(i.file) === "server" && i.specifier.startsWith("cloudflare:"),
    );
    expect(platform.map((i) => `${i.file} imports ${i.specifier}`)).toEqual([]);
  });

  it("lets only test/ and bench/ import test/", () => {
    const intoTest = imports.filter(
      (i) => i.folder === "test" && folderOf(i.file) !== "test" && folderOf(i.file) !== "bench",
    );
    expect(intoTest.map((i) => `${i.file} imports ${i.specifier}`)).toEqual([]);
  });
});
