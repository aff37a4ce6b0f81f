// Backup and restore: `doozer export` and `doozer import` (docs/CLI.md, "Backup and restore").
//
// A dump is the whole tree at one store rev, in a line-oriented, streamable format that keeps
// every byte of every value:
//
//   {"format":"doozer-dump","version":1,"rev":R,"includeEphemeral":false}\n
//   {"path":"/a/b","rev":12,"len":5}\n  then exactly 5 raw bytes, then \n
//   ... one such record per file, in WALK order (depth-first, entries in byte order) ...
//   {"end":true,"files":N,"bytes":B,"ephemeralSkipped":K}\n
//
// The end line makes a truncated dump (an export that failed half way, a copy cut short)
// detectable: import fails on a dump without it (the transactions sent before it got there stay).
//
// Export reads the store rev R once (a linearizable REV), then WALKs `/**` at rev R page by page,
// so every page is the same snapshot. Import creates each file with rev 0 (create only), up to 100
// files per transaction, so it never overwrites a file.
//
// No Node built-ins here: the streams are an async iterable of byte chunks in, a write function out.

import { bytesToBase64 } from "../core/value-encoding";
import { backoffDelay, sleep } from "./backoff";
import type { Client, TxnOp } from "./client";
import { DoozerError, isRetryable, TooLateError } from "./errors";
import { decodeAnswerValue } from "./transport";

export const dumpFormat = "doozer-dump";
export const dumpVersion = 1;

/** Files per WALK page at most (the server's limit, SPEC §1). */
const pageFilesMax = 1000;
/** The first page is smaller: nothing is known yet of how large the values are. */
const firstPageFiles = 100;
/** Value bytes a WALK page should carry at most; the next page's limit follows the last page's sizes. */
const pageBytesTarget = 8 * 1024 * 1024;
/** Output is handed to the sink in chunks of about this size. */
const outChunkBytes = 64 * 1024;
/** Attempts of one WALK page that fails with a retryable error (NO_QUORUM, a lost connection). */
const pageAttempts = 5;
/** Ops per import transaction (the server's limit, SPEC §7). */
const txnOpsMax = 100;
/** An import transaction's JSON body at most: values go base64 (4/3), and the server takes 2 MiB. */
const txnBodyBytesMax = 1536 * 1024;
/** What one op adds to a body besides its path and base64 value. */
const opOverheadBytes = 64;
/** A value at most (SPEC §1): a longer `len` in a dump is corrupt. */
const valueBytesMax = 1024 * 1024;
/** A header, record or end line at most (a path is at most 4,096 bytes). */
const lineBytesMax = 64 * 1024;

export interface DumpHeader {
  format: typeof dumpFormat;
  version: number;
  /** The store rev the dump was read at. */
  rev: number;
  includeEphemeral: boolean;
}

export interface DumpFile {
  path: string;
  /** The file's rev in the exported store (import does not keep it: revs are the new store's). */
  rev: number;
  value: Uint8Array;
  /** Only with `includeEphemeral`: the session that owned it (import writes it persistent). */
  session?: string;
}

export interface DumpEnd {
  files: number;
  bytes: number;
  ephemeralSkipped: number;
}

/** A dump that cannot be read: not a dump, corrupt, truncated, or of a newer version. */
export class DumpFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DumpFormatError";
  }
}

/** An import refused before it wrote anything: the store is not empty. */
export class StoreNotEmptyError extends Error {
  constructor(readonly firstPath: string) {
    super(
      `the store is not empty (it has ${firstPath}, and maybe more): import loads a dump into an empty ` +
        "store. --force imports anyway, creating only the files that do not exist (never overwriting one).",
    );
    this.name = "StoreNotEmptyError";
  }
}

export interface ExportOptions {
  /** Export files owned by a session too (they are written persistent on import). Default: skip them. */
  includeEphemeral?: boolean;
  /** Called after each WALK page has been written (progress, tests). */
  onPage?: (progress: { offset: number; files: number }) => void | Promise<void>;
}

export interface ExportSummary {
  /** The store rev the dump was read at. */
  rev: number;
  files: number;
  /** Value bytes. */
  bytes: number;
  ephemeralSkipped: number;
  pages: number;
  /** Bytes of the dump itself. */
  dumpBytes: number;
}

/**
 * Writes a dump of the whole store, at the store rev read when it starts, through `write`
 * (awaited: a slow sink slows the export, and memory stays at about one WALK page).
 * Throws TooLateError when that rev leaves the history window before the last page was read;
 * what was written by then has no end line, so import refuses it.
 */
export async function exportDump(
  client: Client,
  write: (chunk: Uint8Array) => Promise<void>,
  options: ExportOptions = {},
): Promise<ExportSummary> {
  const includeEphemeral = options.includeEphemeral ?? false;
  const out = new Coalescing(write);
  const rev = await client.rev();
  const header: DumpHeader = { format: dumpFormat, version: dumpVersion, rev, includeEphemeral };
  await out.text(`${JSON.stringify(header)}\n`);
  const summary: ExportSummary = { rev, files: 0, bytes: 0, ephemeralSkipped: 0, pages: 0, dumpBytes: 0 };
  let limit = firstPageFiles;
  for (let offset = 0; ; ) {
    let files: WalkFile[];
    try {
      files = await walkPage(client, rev, offset, limit);
    } catch (error) {
      if (error instanceof DoozerError && error.code === "TOO_LATE") {
        throw new TooLateError(
          `the export reads the store at rev ${rev}, which has left the history window (the last ` +
            `DOOZER_HISTORY_REVS revs, 2,000 by default) after ${offset} files: the store took more ` +
            "writes during the export than the window holds. The dump written is incomplete (it has no " +
            "end line, and import refuses it). Run the export again, when the store is quieter, or " +
            `with a larger DOOZER_HISTORY_REVS. (${error.message})`,
        );
      }
      throw error;
    }
    summary.pages++;
    let pageBytes = 0;
    for (const f of files) {
      pageBytes += f.value.length;
      if (f.session !== undefined && !includeEphemeral) {
        summary.ephemeralSkipped++;
        continue;
      }
      const record: Record<string, unknown> = { path: f.path, rev: f.rev, len: f.value.length };
      if (f.session !== undefined) record.session = f.session;
      await out.text(`${JSON.stringify(record)}\n`);
      await out.bytes(f.value);
      await out.text("\n");
      summary.files++;
      summary.bytes += f.value.length;
    }
    offset += files.length;
    await options.onPage?.({ offset, files: summary.files });
    if (files.length < limit) break;
    // Aim the next page at pageBytesTarget of values, from this page's average.
    const average = Math.max(1, pageBytes / Math.max(1, files.length));
    limit = Math.max(1, Math.min(pageFilesMax, Math.floor(pageBytesTarget / average)));
  }
  const end = {
    end: true,
    files: summary.files,
    bytes: summary.bytes,
    ephemeralSkipped: summary.ephemeralSkipped,
  };
  await out.text(`${JSON.stringify(end)}\n`);
  await out.flush();
  summary.dumpBytes = out.written;
  return summary;
}

interface WalkFile {
  path: string;
  rev: number;
  value: Uint8Array;
  session?: string;
}

/**
 * One WALK page of `/**` at `rev`, with each file's owner, asked of the transport itself so that
 * the page's rev is checked, retrying as the client does (and on a connection cut mid-answer).
 */
async function walkPage(client: Client, rev: number, offset: number, limit: number): Promise<WalkFile[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      const answer = await client.transport.call({ verb: "WALK", args: { glob: "/**", rev, offset, limit } });
      if (Number(answer.rev) !== rev) {
        throw new Error(`a WALK at rev ${rev} answered at rev ${String(answer.rev)}`);
      }
      const files = answer.files as {
        path: string;
        rev: number;
        value: unknown;
        encoding?: string;
        session?: string;
      }[];
      return files.map((f) => ({
        path: f.path,
        rev: Number(f.rev),
        value: decodeAnswerValue(f),
        ...(typeof f.session === "string" ? { session: f.session } : {}),
      }));
    } catch (error) {
      // A read is safe to repeat, also after a connection cut mid-answer (fetch's TypeError "terminated").
      const retry = isRetryable(error) || error instanceof TypeError;
      if (!retry || attempt >= pageAttempts) throw error;
      await sleep(backoffDelay(attempt - 1));
    }
  }
}

/** Gathers small writes into chunks of about outChunkBytes; large values go through as they are. */
class Coalescing {
  private parts: Uint8Array[] = [];
  private size = 0;
  written = 0;
  private readonly encoder = new TextEncoder();

  constructor(private readonly write: (chunk: Uint8Array) => Promise<void>) {}

  text(s: string): Promise<void> {
    return this.bytes(this.encoder.encode(s));
  }

  async bytes(b: Uint8Array): Promise<void> {
    if (b.length >= outChunkBytes) {
      await this.flush();
      this.written += b.length;
      await this.write(b);
      return;
    }
    this.parts.push(b);
    this.size += b.length;
    if (this.size >= outChunkBytes) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.size === 0 && this.parts.length === 0) return;
    const chunk = new Uint8Array(this.size);
    let at = 0;
    for (const part of this.parts) {
      chunk.set(part, at);
      at += part.length;
    }
    this.parts = [];
    this.size = 0;
    this.written += chunk.length;
    await this.write(chunk);
  }
}

/** Reads lines and exact byte counts from a stream of chunks. */
class ByteReader {
  private buffer: Uint8Array = new Uint8Array(0);
  private position = 0;
  private ended = false;
  /** Bytes consumed so far (for error messages). */
  consumed = 0;
  private readonly decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

  constructor(private readonly chunks: AsyncIterator<Uint8Array>) {}

  /** Reads one more chunk; false at the end of the stream. */
  private async more(): Promise<boolean> {
    if (this.ended) return false;
    const next = await this.chunks.next();
    if (next.done) {
      this.ended = true;
      return false;
    }
    const chunk = next.value;
    if (this.position < this.buffer.length) {
      const rest = this.buffer.subarray(this.position);
      const joined = new Uint8Array(rest.length + chunk.length);
      joined.set(rest);
      joined.set(chunk, rest.length);
      this.buffer = joined;
    } else {
      this.buffer = chunk;
    }
    this.position = 0;
    return true;
  }

  /** The next line without its \n; undefined at the end of the stream. */
  async line(): Promise<string | undefined> {
    let from = this.position;
    for (;;) {
      const newline = this.buffer.indexOf(10, from);
      if (newline >= 0) {
        const bytes = this.buffer.subarray(this.position, newline);
        this.consumed += bytes.length + 1;
        this.position = newline + 1;
        try {
          return this.decoder.decode(bytes);
        } catch {
          throw new DumpFormatError(`a line that is not UTF-8 near byte ${this.consumed}`);
        }
      }
      if (this.buffer.length - this.position > lineBytesMax) {
        throw new DumpFormatError(`a line longer than ${lineBytesMax} bytes near byte ${this.consumed}`);
      }
      from = this.buffer.length - this.position;
      if (!(await this.more())) {
        if (this.position >= this.buffer.length) return undefined;
        throw new DumpFormatError(`the dump ends inside a line, at byte ${this.consumed}: it is truncated`);
      }
    }
  }

  /** Exactly n bytes, or undefined when the stream ends first. */
  async exact(n: number): Promise<Uint8Array | undefined> {
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      if (this.position >= this.buffer.length && !(await this.more())) return undefined;
      const take = Math.min(n - filled, this.buffer.length - this.position);
      out.set(this.buffer.subarray(this.position, this.position + take), filled);
      filled += take;
      this.position += take;
    }
    this.consumed += n;
    return out;
  }
}

function parseLine(line: string, consumed: number): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    throw new DumpFormatError(`a line that is not JSON before byte ${consumed}: ${line.slice(0, 80)}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new DumpFormatError(`a line that is not a JSON object before byte ${consumed}`);
  }
  return parsed as Record<string, unknown>;
}

const isCount = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;

/**
 * Reads a dump: its header first, then each file, in order; checks the end line (counts included)
 * and that nothing follows it. Throws DumpFormatError for anything else, a truncated dump included
 * (after yielding the files before the cut).
 */
export async function readDump(
  source: AsyncIterable<Uint8Array>,
  onHeader: (header: DumpHeader) => void | Promise<void>,
): Promise<{ files: AsyncGenerator<DumpFile>; end: () => DumpEnd }> {
  const reader = new ByteReader(source[Symbol.asyncIterator]());
  const first = await reader.line();
  if (first === undefined) throw new DumpFormatError("the input is empty, not a dump");
  const h = first.startsWith("{") ? parseLine(first, reader.consumed) : {};
  if (h.format !== dumpFormat) {
    throw new DumpFormatError(
      `the input is not a doozer dump (it does not start with {"format":"${dumpFormat}"`,
    );
  }
  if (h.version !== dumpVersion) {
    throw new DumpFormatError(
      `a dump of version ${String(h.version)}; this doozer reads version ${dumpVersion}`,
    );
  }
  if (!isCount(h.rev)) throw new DumpFormatError("the dump's header has no rev");
  await onHeader({
    format: dumpFormat,
    version: dumpVersion,
    rev: h.rev,
    includeEphemeral: !!h.includeEphemeral,
  });
  let end: DumpEnd | undefined;
  async function* files(): AsyncGenerator<DumpFile> {
    let count = 0;
    let bytes = 0;
    for (;;) {
      const line = await reader.line();
      if (line === undefined) {
        throw new DumpFormatError(
          `the dump ends after ${count} files with no end line: it is truncated (an export that failed, ` +
            "or a copy cut short)",
        );
      }
      const record = parseLine(line, reader.consumed);
      if (record.end === true) {
        const e = {
          files: record.files,
          bytes: record.bytes,
          ephemeralSkipped: record.ephemeralSkipped ?? 0,
        };
        if (!isCount(e.files) || !isCount(e.bytes) || !isCount(e.ephemeralSkipped)) {
          throw new DumpFormatError("the dump's end line has no counts");
        }
        if (e.files !== count || e.bytes !== bytes) {
          throw new DumpFormatError(
            `the dump's end line says ${e.files} files of ${e.bytes} bytes; it holds ${count} of ${bytes}`,
          );
        }
        if ((await reader.line()) !== undefined)
          throw new DumpFormatError("the dump goes on after its end line");
        end = { files: e.files, bytes: e.bytes, ephemeralSkipped: e.ephemeralSkipped };
        return;
      }
      const { path, rev, len, session } = record;
      if (typeof path !== "string" || !isCount(rev) || !isCount(len) || len > valueBytesMax) {
        throw new DumpFormatError(`a record that is not {"path","rev","len"} before byte ${reader.consumed}`);
      }
      const value = await reader.exact(len);
      const newline = value && (await reader.exact(1));
      if (!value || !newline) {
        throw new DumpFormatError(`the dump ends inside the value of ${path}: it is truncated`);
      }
      if (newline[0] !== 10) throw new DumpFormatError(`the value of ${path} is not followed by a newline`);
      count++;
      bytes += len;
      yield { path, rev, value, ...(typeof session === "string" ? { session } : {}) };
    }
  }
  return {
    files: files(),
    end: () => {
      if (!end) throw new DumpFormatError("the dump has not been read to its end");
      return end;
    },
  };
}

export interface ImportOptions {
  /** Import into a store that has files: create only the files that do not exist, skip the others. */
  force?: boolean;
  /** Transactions in flight at once (default 8). */
  parallel?: number;
  /** With `force`: each file skipped, and why (REV_MISMATCH: it exists; NOTDIR, ISDIR: a clash). */
  onSkip?: (path: string, code: string) => void;
}

export interface ImportSummary {
  /** The rev the dump was read at, in the store it came from. */
  dumpRev: number;
  /** Files created. */
  files: number;
  /** Their value bytes. */
  bytes: number;
  /** With `force`: files not created because the path was taken. */
  skipped: number;
  transactions: number;
  /** The highest rev an import transaction took (0 if none ran). */
  rev: number;
}

export function emptyImportSummary(): ImportSummary {
  return { dumpRev: 0, files: 0, bytes: 0, skipped: 0, transactions: 0, rev: 0 };
}

/**
 * Loads a dump into the store: every file created with rev 0 (create only), at most 100 per
 * transaction and ~1.5 MiB per request body, `parallel` transactions in flight. Refuses a store
 * that has any file (StoreNotEmptyError) unless `force`. A file that exists (or clashes with a
 * directory) fails its transaction (RevMismatchError...) unless `force`, which skips it. A dump
 * that turns out corrupt or truncated throws DumpFormatError after the transactions sent
 * before it got there stay (the batch it was filling is not sent): memory holds about `parallel` transactions, never the dump. `summary` is filled as
 * it goes, so that a caller can tell how far a failed import got.
 */
export async function importDump(
  client: Client,
  source: AsyncIterable<Uint8Array>,
  options: ImportOptions = {},
  summary: ImportSummary = emptyImportSummary(),
): Promise<ImportSummary> {
  const force = options.force ?? false;
  const parallel = Math.max(1, options.parallel ?? 8);
  const dump = await readDump(source, async (header) => {
    summary.dumpRev = header.rev;
    // Checked once the input is known to be a dump, before anything is written.
    if (!force) {
      for await (const f of client.walk("/**", { pageSize: 1 })) throw new StoreNotEmptyError(f.path);
    }
  });

  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  const send = (batch: DumpFile[]) => {
    const sent = sendBatch(client, batch, force, options.onSkip, summary).catch((error: unknown) => {
      failure ??= error;
    });
    const tracked = sent.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
  };

  let batch: DumpFile[] = [];
  let batchBodyBytes = 0;
  try {
    for await (const file of dump.files) {
      const bodyBytes = opOverheadBytes + file.path.length + Math.ceil(file.value.length / 3) * 4;
      if (batch.length >= txnOpsMax || (batch.length > 0 && batchBodyBytes + bodyBytes > txnBodyBytesMax)) {
        send(batch);
        batch = [];
        batchBodyBytes = 0;
        while (inFlight.size >= parallel) await Promise.race(inFlight);
        if (failure) break;
      }
      batch.push(file);
      batchBodyBytes += bodyBytes;
    }
    if (batch.length > 0 && !failure) send(batch);
  } catch (error) {
    failure ??= error;
  }
  await Promise.all(inFlight);
  if (failure) throw failure;
  dump.end();
  return summary;
}

/** One transaction of creates; with `force`, a create that fails is dropped and the rest sent again. */
async function sendBatch(
  client: Client,
  batch: DumpFile[],
  force: boolean,
  onSkip: ImportOptions["onSkip"],
  summary: ImportSummary,
): Promise<void> {
  let files = batch;
  while (files.length > 0) {
    const ops: TxnOp[] = files.map((f) => ({
      op: "set",
      path: f.path,
      rev: 0,
      value: bytesToBase64(f.value),
      encoding: "base64",
    }));
    try {
      const result = await client.txn({ ops });
      summary.transactions++;
      summary.files += files.length;
      for (const f of files) summary.bytes += f.value.length;
      summary.rev = Math.max(summary.rev, result.rev);
      return;
    } catch (error) {
      summary.transactions++;
      const clash =
        error instanceof DoozerError &&
        error.op !== undefined &&
        ["REV_MISMATCH", "ISDIR", "NOTDIR"].includes(error.code);
      if (!force || !clash) throw error;
      const index = (error as DoozerError).op as number;
      const skipped = files[index];
      if (!skipped) throw error;
      summary.skipped++;
      onSkip?.(skipped.path, (error as DoozerError).code);
      files = files.filter((_, i) => i !== index);
    }
  }
}

/** Streams for the CLI commands: stdout, stderr, stdin (Node's process streams in doozer). */
export interface CommandIo {
  write(chunk: Uint8Array | string): Promise<void>;
  error(line: string): Promise<void>;
  stdin: AsyncIterable<Uint8Array>;
  stdinIsTerminal: boolean;
  /** The CLI's exit codes for a refusal by the store's state (not empty), and for input that is not a dump. */
  exit: { refused: number; usage: number };
}

const exitOk = 0;

/** `doozer export`: the dump to stdout. A store error (TOO_LATE included) is thrown for the CLI to print. */
export async function exportCommand(
  client: Client,
  io: CommandIo,
  o: { includeEphemeral?: boolean },
): Promise<number> {
  await exportDump(client, (chunk) => io.write(chunk), { includeEphemeral: o.includeEphemeral });
  return exitOk;
}

/** `doozer import`: a dump from stdin; prints what it created. */
export async function importCommand(
  client: Client,
  io: CommandIo,
  o: { force?: boolean; parallel?: number; json?: boolean },
): Promise<number> {
  if (io.stdinIsTerminal) {
    await io.error("doozer: import reads a dump from stdin: doozer import < store.dump");
    return io.exit.usage;
  }
  let skippedLines = Promise.resolve();
  const summary = emptyImportSummary();
  try {
    const options: ImportOptions = {
      force: o.force,
      parallel: o.parallel,
      onSkip: (path, code) => {
        const why = code === "REV_MISMATCH" ? "it exists" : `${code}: a file or directory is in the way`;
        skippedLines = skippedLines.then(() => io.error(`doozer: skipped ${path}: ${why}`));
      },
    };
    await importDump(client, io.stdin, options, summary);
    await skippedLines;
    const { files, bytes, skipped, dumpRev, rev } = summary;
    await io.write(
      o.json
        ? `${JSON.stringify({ files, bytes, skipped, dumpRev, rev })}\n`
        : `imported ${files} files (${bytes} bytes) from a dump at rev ${dumpRev}` +
            `${skipped > 0 ? `, skipped ${skipped} that exist` : ""}; last rev ${rev}\n`,
    );
    return exitOk;
  } catch (error) {
    await skippedLines;
    if (error instanceof StoreNotEmptyError) {
      await io.error(`doozer: ${error.message}`);
      return io.exit.refused;
    }
    // The files imported before the failure stay: say how many.
    if (summary.files > 0) {
      await io.error(
        `doozer: the import stopped after creating ${summary.files} files (last rev ${summary.rev})`,
      );
    }
    if (error instanceof DumpFormatError) {
      await io.error(`doozer: not a complete dump: ${error.message}`);
      return io.exit.usage;
    }
    throw error;
  }
}
