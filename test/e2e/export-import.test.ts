// Backup and restore (docs/CLI.md, "Backup and restore"): `doozer export` of a store of 10,000
// files, binary values among them, `doozer import` of that dump into a second, fresh cluster, an
// export of that one, and the two dumps and the two stores compared file by file, byte for byte.
// Then the refusals: a store that has files, a dump that is truncated or not a dump, and an
// export whose rev leaves the history window.

import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DumpFile, emptyImportSummary, exportDump, importDump, readDump } from "../../client/dump";
import { type Client, connect, DoozerError, type Session, TooLateError } from "../../client/index";
import { type LocalCluster, startLocalCluster } from "./local-cluster";

const launcher = join("bin", "doozer.mjs");
const fileCount = 10_000;
const mib = 1024 * 1024;

let source: LocalCluster;
let target: LocalCluster;
let a: Client;
let b: Client;
let session: Session | undefined;
const dir = mkdtempSync(join(tmpdir(), "doozer-dump-"));
const children = new Set<ChildProcess>();
/** What was written to the source store, path → value. */
const written = new Map<string, Uint8Array>();
const ephemeralPath = "/ephemeral/member";
const figures: Record<string, string> = {};

beforeAll(async () => {
  const [one, two] = await Promise.all([
    startLocalCluster(),
    startLocalCluster(),
    promisify(execFile)(process.execPath, [join("scripts", "build-cli.mjs")]),
  ]);
  source = one;
  target = two;
  a = connect(source.url);
  b = connect(target.url);
}, 180_000);

afterAll(async () => {
  for (const child of children) child.kill("SIGKILL");
  await session?.end().catch(() => undefined);
  a?.close();
  b?.close();
  await Promise.all([source?.stop(), target?.stop()]);
  rmSync(dir, { recursive: true, force: true });
  console.log(
    `export/import figures:\n${Object.entries(figures)
      .map(([k, v]) => `  ${k}: ${v}`)
      .join("\n")}`,
  );
});

interface Run {
  code: number | null;
  out: string;
  err: string;
}

/** Runs `doozer ...args` against `url`, stdin from the file `stdin` (or empty), stdout to `stdout` (or kept). */
async function doozer(
  url: string,
  args: string[],
  files: { stdin?: string; stdout?: string } = {},
): Promise<Run> {
  const { DOOZER_TOKEN: _inherited, ...env } = process.env;
  const stdin = files.stdin ? openSync(files.stdin, "r") : "pipe";
  const stdout = files.stdout ? openSync(files.stdout, "w") : "pipe";
  const child = spawn(process.execPath, [launcher, ...args], {
    env: { ...env, DOOZER_URL: url },
    stdio: [stdin, stdout, "pipe"],
  });
  children.add(child);
  if (typeof stdin === "number") closeSync(stdin);
  else child.stdin?.end();
  if (typeof stdout === "number") closeSync(stdout);
  let out = "";
  let err = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    out += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    err += chunk.toString();
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), 240_000);
  const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
  clearTimeout(timer);
  children.delete(child);
  return { code, out, err };
}

/** Every file of a store, persistent or not, as `path → value`, in WALK order. */
async function walkAll(client: Client): Promise<[string, Uint8Array][]> {
  const files: [string, Uint8Array][] = [];
  for await (const f of client.walk("/**")) files.push([f.path, new Uint8Array(f.value)]);
  return files;
}

async function readDumpFile(file: string): Promise<{ rev: number; files: DumpFile[]; skipped: number }> {
  let rev = -1;
  const dump = await readDump(chunksOf(readFileSync(file), 4093), (h) => {
    rev = h.rev;
  });
  const files: DumpFile[] = [];
  for await (const f of dump.files) files.push(f);
  return { rev, files, skipped: dump.end().ephemeralSkipped };
}

/** The bytes in chunks of `size`, so that records and values straddle chunk edges. */
async function* chunksOf(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

function bytes(...parts: (string | Uint8Array)[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p) : p))));
}

/** The values of the source store: every kind the format must carry unchanged. */
function valueFor(i: number): Uint8Array {
  if (i === 0) return new Uint8Array(Array.from({ length: 256 }, (_, k) => k));
  if (i === 1) return new Uint8Array(randomBytes(mib));
  if (i === 2) return new Uint8Array(randomBytes(mib - 1));
  if (i === 3) return bytes('{"end":true,"files":0,"bytes":0}\n');
  if (i === 4) return bytes('\n{"path":"/x","rev":1,"len":3}\nabc\n');
  switch (i % 8) {
    case 0:
      return new Uint8Array(0);
    case 1:
      return bytes(`text ${i}\nwith a newline\n`);
    case 2:
      return bytes("\n");
    default:
      return new Uint8Array(randomBytes(i % 1500));
  }
}

function pathFor(i: number): string {
  if (i === 0) return "/all-bytes";
  if (i === 1) return "/big/one-mib";
  return `/data/d${i % 47}/s-${Math.floor(i / 47) % 5}/f.${i}`;
}

/** Writes the source store: transactions of up to 100 creates (and ~1.2 MiB), 16 at once. */
async function populate(client: Client): Promise<void> {
  const batches: { path: string; value: Uint8Array }[][] = [[]];
  let size = 0;
  for (let i = 0; i < fileCount; i++) {
    const file = { path: pathFor(i), value: valueFor(i) };
    written.set(file.path, file.value);
    let last = batches[batches.length - 1] as { path: string; value: Uint8Array }[];
    if (last.length >= 100 || size + file.value.length > 1.1 * mib) {
      last = [];
      batches.push(last);
      size = 0;
    }
    last.push(file);
    size += file.value.length;
  }
  let next = 0;
  const worker = async () => {
    for (let batch = batches[next++]; batch; batch = batches[next++]) {
      // wrangler dev restarts the Worker when a watched source changes, cutting requests off: a batch
      // cut off is written again, clobbering (rev -1), since it may or may not have been applied.
      for (let attempt = 0; ; attempt++) {
        const rev = attempt === 0 ? 0 : -1;
        try {
          await client.txn({
            ops: batch.map((f) => ({ op: "set" as const, path: f.path, rev, value: f.value })),
          });
          break;
        } catch (error) {
          if (error instanceof DoozerError || attempt >= 5) throw error;
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}

describe("doozer export and import", () => {
  const dumpA = join(dir, "a.dump");
  const dumpB = join(dir, "b.dump");

  it("round-trips 10,000 files, binary values among them, into a fresh store, byte for byte", async () => {
    let t = performance.now();
    await populate(a);
    figures.populate = `${fileCount} files in ${Math.round(performance.now() - t)} ms (16 txns of 100 in flight)`;
    // An ephemeral file: not exported by default.
    session = await a.session({ ttlMs: 60_000 });
    await a.set(ephemeralPath, 0, "owned", { session });

    t = performance.now();
    const exported = await doozer(source.url, ["export"], { stdout: dumpA });
    const exportMs = performance.now() - t;
    expect(exported).toMatchObject({ code: 0, err: "" });
    t = performance.now();
    const imported = await doozer(target.url, ["import"], { stdin: dumpA });
    const importMs = performance.now() - t;
    expect(imported.err).toBe("");
    expect(imported.code).toBe(0);
    expect(imported.out).toMatch(
      new RegExp(`^imported ${fileCount} files \\(\\d+ bytes\\) from a dump at rev \\d+; last rev \\d+\\n$`),
    );
    t = performance.now();
    expect(await doozer(target.url, ["export"], { stdout: dumpB })).toMatchObject({ code: 0, err: "" });
    const reexportMs = performance.now() - t;

    // The dumps: the same files, in the same order, with the same bytes; only revs differ.
    const [da, db] = [await readDumpFile(dumpA), await readDumpFile(dumpB)];
    expect(da.files.length).toBe(fileCount);
    expect(da.skipped).toBe(1);
    expect(db.skipped).toBe(0);
    expect(db.files.map((f) => f.path)).toEqual(da.files.map((f) => f.path));
    for (let i = 0; i < da.files.length; i++) {
      const [fa, fb] = [da.files[i] as DumpFile, db.files[i] as DumpFile];
      expect(Buffer.compare(fa.value, fb.value), fa.path).toBe(0);
      expect(Buffer.compare(fa.value, written.get(fa.path) as Uint8Array), fa.path).toBe(0);
    }
    // Byte for byte, once the revs (the only thing a store assigns) are taken out.
    const norevs = (file: string) =>
      readFileSync(file)
        .toString("latin1")
        .replace(/^\{"path":("[^"]*"),"rev":\d+,/gm, "{$1,")
        .replace(/^(\{"format":"doozer-dump","version":1,"rev":)\d+/, "$1R")
        .replace(/"ephemeralSkipped":\d+/, "");
    expect(norevs(dumpB) === norevs(dumpA)).toBe(true);
    // The format, as documented: the all-bytes value raw after its record line.
    const raw = readFileSync(dumpA);
    const record = Buffer.from(`{"path":"/all-bytes","rev":`);
    const at = raw.indexOf(record);
    const valueAt = raw.indexOf(10, at) + 1;
    expect(raw.subarray(at, valueAt).toString()).toMatch(/^\{"path":"\/all-bytes","rev":\d+,"len":256\}\n$/);
    expect(
      Buffer.compare(raw.subarray(valueAt, valueAt + 257), Buffer.from([...Array(256).keys(), 10])),
    ).toBe(0);

    // The stores: a WALK of each, the same paths and values (the source's ephemeral file aside).
    const [wa, wb] = [await walkAll(a), await walkAll(b)];
    expect(wa.map(([p]) => p)).toContain(ephemeralPath);
    const persistent = wa.filter(([p]) => p !== ephemeralPath);
    expect(wb.map(([p]) => p)).toEqual(persistent.map(([p]) => p));
    for (let i = 0; i < wb.length; i++) {
      const [[path, va], [, vb]] = [persistent[i], wb[i]] as [[string, Uint8Array], [string, Uint8Array]];
      expect(Buffer.compare(va, vb), path).toBe(0);
    }
    expect(new Set(wb.map(([p]) => p))).toEqual(new Set(written.keys()));

    const valueBytes = da.files.reduce((n, f) => n + f.value.length, 0);
    figures.dump = `${statSync(dumpA).size} bytes for ${fileCount} files of ${valueBytes} value bytes`;
    figures.export = `${Math.round(exportMs)} ms (CLI process, HTTP, incl. ~node start)`;
    figures.import = `${Math.round(importMs)} ms (CLI process, 8 txns in flight)`;
    figures["re-export"] = `${Math.round(reexportMs)} ms`;
  }, 600_000);

  it("exports ephemeral files with --include-ephemeral, and import writes them persistent", async () => {
    const chunks: Uint8Array[] = [];
    const summary = await exportDump(a, async (c) => void chunks.push(c), { includeEphemeral: true });
    expect(summary).toMatchObject({ files: fileCount + 1, ephemeralSkipped: 0 });
    const file = join(dir, "eph.dump");
    writeFileSync(file, Buffer.concat(chunks));
    const { files } = await readDumpFile(file);
    const ephemeral = files.find((f) => f.path === ephemeralPath);
    expect(ephemeral).toMatchObject({ session: session?.id });
    expect(Buffer.from(ephemeral?.value ?? []).toString()).toBe("owned");
  }, 120_000);

  it("refuses a store that has files, and --force creates only what is missing", async () => {
    const rev = await b.rev();
    const refused = await doozer(target.url, ["import"], { stdin: dumpA });
    expect(refused.code).toBe(5);
    expect(refused.err).toMatch(
      /^doozer: the store is not empty \(it has \/[^ ]+, and maybe more\).*--force/,
    );
    expect(await b.rev()).toBe(rev);

    // A small dump, written by hand as docs/CLI.md describes it: one file that exists, one that does not.
    const small = join(dir, "small.dump");
    writeFileSync(
      small,
      bytes(
        '{"format":"doozer-dump","version":1,"rev":7,"includeEphemeral":false}\n',
        '{"path":"/all-bytes","rev":3,"len":3}\nnew\n',
        '{"path":"/restored/x","rev":5,"len":2}\n',
        new Uint8Array([0, 255]),
        '\n{"end":true,"files":2,"bytes":5,"ephemeralSkipped":0}\n',
      ),
    );
    const forced = await doozer(target.url, ["--json", "import", "--force"], { stdin: small });
    expect(forced.err).toBe("doozer: skipped /all-bytes: it exists\n");
    expect(forced.code).toBe(0);
    expect(JSON.parse(forced.out)).toMatchObject({ files: 1, bytes: 2, skipped: 1, dumpRev: 7 });
    expect(new Uint8Array((await b.get("/restored/x")).value)).toEqual(new Uint8Array([0, 255]));
    expect(Buffer.compare((await b.get("/all-bytes")).value, written.get("/all-bytes") as Uint8Array)).toBe(
      0,
    );
  }, 120_000);

  it("refuses a dump that is truncated or not a dump, and says how far it got", async () => {
    const whole = readFileSync(dumpA);
    const cut = join(dir, "cut.dump");
    // Cut inside the first file's record line: nothing is sent.
    writeFileSync(cut, whole.subarray(0, whole.indexOf(10) + 10));
    let r = await doozer(target.url, ["import", "--force"], { stdin: cut });
    expect(r.code).toBe(64);
    expect(r.err).toMatch(
      /^doozer: not a complete dump: the dump ends inside a line, at byte \d+: it is truncated\n$/,
    );

    writeFileSync(cut, "hello\n");
    r = await doozer(target.url, ["import"], { stdin: cut });
    expect(r.code).toBe(64);
    expect(r.err).toMatch(/not a doozer dump/);

    // Cut before the end line: the transactions sent before the fault stay (here the first 100
    // files, one whole transaction), nothing after it is sent, and the summary says so.
    const dump = bytes(
      '{"format":"doozer-dump","version":1,"rev":1,"includeEphemeral":false}\n',
      ...Array.from({ length: 150 }, (_, k) => `{"path":"/cut/f${k}","rev":1,"len":1}\nx\n`),
    );
    const summary = emptyImportSummary();
    await expect(importDump(b, chunksOf(dump, 7), { force: true }, summary)).rejects.toThrow(
      /ends after 150 files with no end line: it is truncated/,
    );
    expect(summary).toMatchObject({ files: 100, skipped: 0 });
    expect((await b.get("/cut/f99")).value.text()).toBe("x");
    expect((await b.stat("/cut/f100")).rev).toBe(0);
  }, 120_000);

  it("fails with TOO_LATE when the export's rev leaves the history window", async () => {
    let churned = false;
    const pages: number[] = [];
    const failed = exportDump(
      a,
      async () => {
        if (churned) return;
        churned = true;
        // 2,100 revs (> DOOZER_HISTORY_REVS, 2,000) while the export is still on its first page.
        for (let t = 0; t < 21; t++) {
          const ops = Array.from({ length: 100 }, (_, k) => ({
            op: "set" as const,
            path: `/churn/f${k}`,
            rev: -1,
            value: String(t),
          }));
          await a.txn({ ops });
        }
      },
      { onPage: ({ offset }) => void pages.push(offset) },
    );
    await expect(failed).rejects.toThrow(TooLateError);
    await expect(failed).rejects.toThrow(/has left the history window .* Run the export again/);
    expect(pages.length).toBeGreaterThanOrEqual(1);
  }, 120_000);
});
