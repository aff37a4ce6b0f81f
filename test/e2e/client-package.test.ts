// The client as a package of its own (client/package.json): built, packed with
// `npm pack`, installed from the tarball into an empty project, and used there
// by its name, from Node against the local cluster, from a browser bundle and
// from a Worker bundle. The tarball has no dependencies, so the install works
// offline.

import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { version } from "../../client/version";
import { type LocalCluster, startLocalCluster } from "./local-cluster";

const run = promisify(execFile);
const clientDir = resolve("client");
const manifest = JSON.parse(readFileSync(join(clientDir, "package.json"), "utf8")) as {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
};
const name = manifest.name;

let cluster: LocalCluster;
let work: string;
let project: string;
let tarball: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "doozer-client-package-"));
  project = join(work, "project");
  const packed = (async () => {
    await run(process.execPath, [join(clientDir, "build.mjs")]);
    // The build ran just now: pack what it made, without building again.
    const { stdout } = await run("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", work], {
      cwd: clientDir,
    });
    const [info] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
    if (!info) throw new Error(`npm pack said: ${stdout}`);
    tarball = join(work, info.filename);
    return info.files.map((f) => f.path);
  })();
  const [started, files] = await Promise.all([startLocalCluster(), packed]);
  cluster = started;
  packedFiles = files;
  await run("mkdir", ["-p", project]);
  writeFileSync(
    join(project, "package.json"),
    JSON.stringify({ name: "an-empty-project", private: true, type: "module" }),
  );
  await run("npm", ["install", "--offline", "--no-audit", "--no-fund", tarball], { cwd: project });
}, 180_000);

let packedFiles: string[] = [];

afterAll(async () => {
  await cluster?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe(`the ${name} package`, () => {
  it("packs the bundle, the CLI, the types and the licence, no sources, and depends on nothing", () => {
    expect(manifest.version).toBe(version);
    expect(manifest.dependencies ?? {}).toEqual({});
    expect(packedFiles).toEqual(
      expect.arrayContaining([
        "LICENSE",
        "package.json",
        "README.md",
        "dist/index.js",
        "dist/cli.js",
        "dist/types/client/index.d.ts",
      ]),
    );
    expect(packedFiles.filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))).toEqual([]);
  });

  it("imports by its name in an empty project and sets, gets and watches against the cluster", async () => {
    const script = `
      import { connect, RevMismatchError } from "${name}";
      const doozer = connect(process.env.DOOZER_URL);
      const from = (await doozer.rev()) + 1;
      const watch = doozer.watch("/package/**", { from });
      const rev = await doozer.set("/package/color", 0, "blue");
      const again = await doozer.set("/package/color", 0, "red").catch((e) => e);
      const got = await doozer.get("/package/color");
      const revs = [];
      const second = await doozer.set("/package/color", rev, new Uint8Array([0, 255]));
      for await (const event of watch) {
        revs.push([event.rev, event.op, [...event.value]]);
        if (revs.length === 2) break;
      }
      doozer.close();
      console.log(JSON.stringify({ rev, second, lost: again instanceof RevMismatchError, value: got.value.text(), revs }));
    `;
    writeFileSync(join(project, "app.mjs"), script);
    const { stdout } = await run(process.execPath, ["app.mjs"], {
      cwd: project,
      env: { ...process.env, DOOZER_URL: cluster.url },
    });
    const out = JSON.parse(stdout) as {
      rev: number;
      second: number;
      lost: boolean;
      value: string;
      revs: unknown;
    };
    expect(out).toMatchObject({ lost: true, value: "blue" });
    expect(out.revs).toEqual([
      [out.rev, "set", [98, 108, 117, 101]],
      [out.second, "set", [0, 255]],
    ]);
  });

  it("installs the doozer command", async () => {
    const doozer = join(project, "node_modules", ".bin", "doozer");
    expect((await run(doozer, ["--version"])).stdout).toBe(`${version}\n`);
    const { stdout } = await run(doozer, ["rev"], { env: { ...process.env, DOOZER_URL: cluster.url } });
    expect(stdout).toMatch(/^[0-9]+\n$/);
  });

  it("type-checks against its .d.ts files, with no Worker or Node types", async () => {
    writeFileSync(
      join(project, "check.ts"),
      `import { connect, type Client, type WatchEvent, NoEntError } from "${name}";
       const client: Client = connect("http://127.0.0.1:8787");
       const events: WatchEvent[] = [];
       export async function main(): Promise<number> {
         try { return (await client.get("/a")).rev + events.length; } catch (e) { return e instanceof NoEntError ? 0 : -1; }
       }
       // @ts-expect-error a rev is a number
       client.set("/a", "0", "x");\n`,
    );
    writeFileSync(
      join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "es2022",
          module: "nodenext",
          moduleResolution: "nodenext",
          lib: ["es2023", "dom"],
          types: [],
          strict: true,
          noEmit: true,
          skipLibCheck: false,
        },
        files: ["check.ts"],
      }),
    );
    const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
    await run(process.execPath, [tsc, "-p", join(project, "tsconfig.json")]);
  });

  it("the README's example is examples/quickstart.ts as it is, and it runs", async () => {
    const quickstart = readFileSync("examples/quickstart.ts", "utf8");
    expect(readFileSync("README.md", "utf8")).toContain(`\`\`\`ts\n${quickstart}\`\`\``);
    const tsx = createRequire(import.meta.url).resolve("tsx/cli");
    const { stdout } = await run(process.execPath, [tsx, "examples/quickstart.ts"], {
      env: { ...process.env, DOOZER_URL: cluster.url.replace(/^http/, "ws") },
    });
    expect(stdout).toBe('config: {"color":"blue"}\nconfig changed: {"color":"green"}\n');
  });

  it.each([
    ["a browser", { platform: "browser" as const }],
    ["a Worker", { platform: "neutral" as const, conditions: ["workerd", "worker", "browser"] }],
  ])("bundles for %s with no Node built-ins", async (_, options) => {
    writeFileSync(
      join(project, "entry.js"),
      `import { connect } from "${name}";\nexport const doozer = connect("wss://doozer.example");\n`,
    );
    const result = await build({
      absWorkingDir: project,
      entryPoints: ["entry.js"],
      bundle: true,
      format: "esm",
      write: false,
      metafile: true,
      logLevel: "silent",
      ...options,
    });
    expect(result.errors).toEqual([]);
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs).toContain(`node_modules/${name}/dist/index.js`);
    expect(inputs.filter((input) => input.startsWith("node:"))).toEqual([]);
    expect(result.outputFiles[0]?.text).not.toMatch(/from\s*"node:|require\(/);
  });
});
