// The `doozer` command line tool, modelled on Doozer's: one command per verb,
// values through stdin and stdout as raw bytes, and exit codes a script can
// test (`exitCodes` below, docs/CLI.md). Human output never loses a byte: `get`
// prints the value as it is, `find`/`wait`/`watch` print records of
// `path rev op length`, a newline, the value's bytes, a newline (as Doozer's
// tool did). `--json` prints one JSON object per line.
//
//   echo -n blue | doozer set /app/color 0
//   doozer get /app/color
//   doozer watch '/app/**'
//
// scripts/build-cli.mjs bundles this file into dist/doozer.mjs, which
// bin/doozer.mjs runs.

import { Buffer } from "node:buffer";
import { spawn } from "node:child_process";
import { constants, hostname } from "node:os";
import process from "node:process";
import { pathToFileURL } from "node:url";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { encodeValue } from "../core/value-encoding";
import { type CommandIo, exportCommand, importCommand } from "./dump";
import {
  type Client,
  connect,
  DoozerError,
  type Lock,
  type TxnCheck,
  type TxnOp,
  type WatchEvent,
} from "./index";
import { version } from "./version";

export const defaultAddr = "http://127.0.0.1:8787";

/**
 * Exit codes, one per thing a script does next (docs/CLI.md): 1 a lost compare-and-set (read again and
 * retry), 2 the store unreachable or undecided (retry later), 3 no such file, 4 a wait with no change,
 * 5 any other error the store answered. 64 is sysexits' EX_USAGE, 70 its EX_SOFTWARE; 127 and 130 the
 * shell's "command not found" and "interrupted".
 */
export const exitCodes = {
  ok: 0,
  revMismatch: 1,
  unavailable: 2,
  noEnt: 3,
  timedOut: 4,
  store: 5,
  usage: 64,
  bug: 70,
  notFound: 127,
  interrupted: 130,
} as const;

/** The exit code for an error from the store or the connection. */
export function exitFor(error: unknown): number {
  if (!(error instanceof DoozerError)) return exitCodes.bug;
  switch (error.code) {
    case "REV_MISMATCH":
      return exitCodes.revMismatch;
    case "CONNECTION":
    case "NO_QUORUM":
    case "TIMEOUT":
      return exitCodes.unavailable;
    case "NOENT":
      return exitCodes.noEnt;
    default:
      return exitCodes.store;
  }
}

/** Attempts per call: a retryable failure is tried once more, so a dead address fails within seconds. */
const attempts = 2;
/**
 * Over a WebSocket, how long a call may go unanswered while the transport (re)connects. The library's
 * 60 s suits a long-lived program; a command should fail sooner on a dead address. Waits get their
 * hold time on top.
 */
const webSocketCallTimeoutMs = 5_000;
/** Entries per GETDIR or WALK page when reading everything. */
const pageSize = 1000;

interface Globals {
  addr: string;
  json?: boolean;
}

interface State {
  client?: Client;
  code: number;
}

/** A value for JSON output: a UTF-8 string, or base64 with `encoding` beside it (SPEC §2). */
const jsonValue = (bytes: Uint8Array) => encodeValue(bytes, false);

/**
 * One record of human output, in the spirit of Doozer's tool: `path rev op length`, a newline, the
 * value's bytes as they are, a newline. A reader takes `length` bytes after the first newline, so no
 * value (binary, multi-line, huge) is cut or escaped.
 */
export function record(path: string, rev: number, op: "set" | "del", value: Uint8Array): Uint8Array {
  const head = new TextEncoder().encode(`${path} ${rev} ${op} ${value.length}\n`);
  const out = new Uint8Array(head.length + value.length + 1);
  out.set(head);
  out.set(value, head.length);
  out[out.length - 1] = 10;
  return out;
}

function write(stream: NodeJS.WritableStream, data: string | Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.write(data, (error) => (error ? reject(error) : resolve()));
  });
}

const out = (data: string | Uint8Array) => write(process.stdout, data);
const line = (s: string) => out(`${s}\n`);
const jsonLine = (o: unknown) => line(JSON.stringify(o));

function integer(kind: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^-?[0-9]+$/.test(value) || !Number.isSafeInteger(n)) {
      throw new InvalidArgumentError(`${kind} must be an integer, not '${value}'.`);
    }
    return n;
  };
}
const revArg = integer("a rev");

function address(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError(`'${value}' is not a URL (like ${defaultAddr}).`);
  }
  if (!["http:", "https:", "ws:", "wss:"].includes(url.protocol)) {
    throw new InvalidArgumentError(`'${value}' is not an http(s) or ws(s) URL.`);
  }
  return value;
}

function readRev() {
  return new Option("-r, --rev <n>", "read the store as it was at this rev").argParser(revArg);
}

async function readStdin(): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  const all = Buffer.concat(chunks);
  return new Uint8Array(all.buffer, all.byteOffset, all.length);
}

function eventRecord(e: WatchEvent): Uint8Array {
  return record(e.path, e.rev, e.op, e.value);
}

function eventJson(e: WatchEvent) {
  return { path: e.path, rev: e.rev, op: e.op, ...jsonValue(e.value) };
}

/** A client for the address: HTTP for http(s) URLs, a WebSocket for ws(s) URLs. */
function open(addr: string, token: string | undefined): Client {
  return connect(addr, { token, attempts, callTimeoutMs: webSocketCallTimeoutMs });
}

/** The `doozer: CODE: message` line for a store or connection error. */
export function describeError(error: DoozerError, addr: string): string {
  if (error.code === "CONNECTION") return `doozer: CONNECTION: cannot reach ${addr}: ${error.message}`;
  let message = `doozer: ${error.code}: ${error.message}`;
  if (error.check !== undefined) message += ` (check ${error.check}: ${error.path ?? "?"})`;
  if (error.op !== undefined) message += ` (op ${error.op}: ${error.path ?? "?"})`;
  if (error.code === "REV_MISMATCH" && error.rev !== undefined) message += ` (current rev: ${error.rev})`;
  return message;
}

/** Resolves when the process gets one of `signals`, with its name; `off` removes the handlers. */
function onSignals(signals: NodeJS.Signals[]): { received: Promise<NodeJS.Signals>; off(): void } {
  let handler: (signal: NodeJS.Signals) => void = () => undefined;
  const received = new Promise<NodeJS.Signals>((resolve) => {
    handler = resolve;
  });
  for (const signal of signals) process.on(signal, handler);
  const off = () => {
    for (const signal of signals) process.off(signal, handler);
  };
  return { received, off };
}

/** A child's exit as a shell reports it: its code, or 128 + the number of the signal that ended it. */
function exitStatus(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return 128 + (signal ? (constants.signals[signal] ?? 0) : 0);
}

/** Parses `doozer txn`'s stdin, SPEC §7's body; a message for people when it is not one. */
export function parseTxn(text: string): { checks: TxnCheck[]; ops: TxnOp[] } | string {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    return `stdin is not JSON: ${(error as Error).message}`;
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return 'stdin must be a JSON object like {"checks": [...], "ops": [...]}';
  }
  const { checks = [], ops = [] } = body as { checks?: unknown; ops?: unknown };
  if (!Array.isArray(checks) || !Array.isArray(ops)) return '"checks" and "ops" must be arrays';
  // Items go to the store as they are: it is the one that judges them (BAD_REQUEST, MISSING_ARG, ...).
  return { checks: checks as TxnCheck[], ops: ops as TxnOp[] };
}

const helpAfter = `
Environment:
  DOOZER_URL    the server address (default ${defaultAddr}; -a overrides it); DOOZER_URI is read too
  DOOZER_TOKEN  a bearer token (DOOZER_RWSECRET or DOOZER_ROSECRET of the server)

Output of find, wait and watch: one record per file or change, "path rev op length", a newline, the
value's bytes as they are (length of them), a newline.

Exit codes:
  0   success
  1   REV_MISMATCH: a compare-and-set lost (the file's rev was not the one given)
  2   no answer: the connection failed, NO_QUORUM, or TIMEOUT
  3   NOENT: no such file
  4   wait: the timeout passed with no change
  5   any other error from the store (printed as "doozer: CODE: message")
  64  a usage error (unknown command or option, missing argument, a rev that is not an integer)

Examples:
  printf blue | doozer set /app/color 0      create (rev 0), prints the new rev
  doozer get /app/color                      prints the value's bytes as they are
  doozer watch '/app/**'                     prints every change until Ctrl-C
  doozer lock /locks/deploy -- ./deploy.sh   runs the command while holding the lock
`;

function buildProgram(state: State): Command {
  const program = new Command("doozer");
  program
    .description("Talk to a doozer-edge store: read, write, wait for and watch files.")
    .addOption(
      new Option("-a, --addr <url>", "the server address")
        .env("DOOZER_URL")
        .default(defaultAddr)
        .argParser(address),
    )
    .option("--json", "print one JSON object per line")
    .version(version, "-v, --version", "print the version")
    .showSuggestionAfterError()
    .configureHelp({ showGlobalOptions: true })
    .addHelpText("after", helpAfter)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => process.stdout.write(s),
      writeErr: (s) => process.stderr.write(s),
      outputError: (s, writeErr) => writeErr(`doozer: ${s.replace(/^error: /, "")}`),
    });

  // Every command's action runs with a connected client and the global options.
  const withClient =
    <A extends unknown[]>(body: (client: Client, g: Globals, ...args: A) => Promise<number | undefined>) =>
    async (...args: unknown[]) => {
      const command = args[args.length - 1] as Command;
      const g = command.optsWithGlobals() as Globals;
      state.client = open(g.addr, process.env.DOOZER_TOKEN || undefined);
      state.code = (await body(state.client, g, ...(args.slice(0, -1) as A))) ?? exitCodes.ok;
    };

  program
    .command("get")
    .summary("print a file's value, its bytes as they are")
    .description(
      "Print a file's value: its bytes as they are, with no newline added (--json: path, rev, storeRev, value).",
    )
    .argument("<path>", "the file")
    .addOption(readRev())
    .action(
      withClient(async (client, g, path: string, o: { rev?: number }) => {
        const file = await client.get(path, { rev: o.rev });
        if (g.json)
          await jsonLine({ path, rev: file.rev, storeRev: file.storeRev, ...jsonValue(file.value) });
        else await out(file.value);
        return 0;
      }),
    );

  program
    .command("set")
    .summary("write stdin to a file if its rev is still <rev>; print the new rev")
    .description(
      "Write stdin, byte for byte, to a file if its rev is still <rev>, and print the file's new rev. " +
        "<rev> 0 creates only; -1 writes whatever the file's rev. A stale rev fails with REV_MISMATCH.",
    )
    .argument("<path>", "the file")
    .argument("<rev>", "its rev now: 0 creates only, -1 overwrites whatever is there", revArg)
    .option("--session <id>", "make the file ephemeral, owned by this session (see `doozer session`)")
    .action(
      withClient(async (client, g, path: string, rev: number, o: { session?: string }) => {
        const value = await readStdin();
        const newRev = await client.set(path, rev, value, { session: o.session });
        await (g.json ? jsonLine({ path, rev: newRev }) : line(String(newRev)));
        return 0;
      }),
    );

  program
    .command("del")
    .summary("delete a file if its rev is still <rev>; print the rev it took")
    .description(
      "Delete a file if its rev is still <rev> (-1: whatever it is), and print the store rev the delete took. " +
        "Deleting a file that is not there succeeds.",
    )
    .argument("<path>", "the file")
    .argument("<rev>", "its rev now, or -1", revArg)
    .action(
      withClient(async (client, g, path: string, rev: number) => {
        const newRev = await client.del(path, rev);
        await (g.json ? jsonLine({ path, rev: newRev }) : line(String(newRev)));
        return 0;
      }),
    );

  program
    .command("stat")
    .summary("print a file's length and rev, or a directory's entry count")
    .description(
      "Print a file's length and rev (len=4 rev=12), or a directory's entry count (dir entries=3). " +
        "A path that does not exist fails with NOENT.",
    )
    .argument("<path>", "the file or directory")
    .addOption(readRev())
    .action(
      withClient(async (client, g, path: string, o: { rev?: number }) => {
        const s = await client.stat(path, { rev: o.rev });
        if (s.rev === 0) throw new DoozerError("NOENT", `${path}: no such file or directory`, { rev: 0 });
        const dir = s.rev === -2;
        if (g.json) {
          await jsonLine({ path, kind: dir ? "dir" : "file", len: s.len, rev: s.rev, storeRev: s.storeRev });
        } else {
          await line(dir ? `dir entries=${s.len}` : `len=${s.len} rev=${s.rev}`);
        }
        return 0;
      }),
    );

  program
    .command("rev")
    .description("print the store rev")
    .action(
      withClient(async (client, g) => {
        const rev = await client.rev();
        await (g.json ? jsonLine({ rev }) : line(String(rev)));
        return 0;
      }),
    );

  program
    .command("nop")
    .summary("decide a no-op, after every acknowledged write; print its rev")
    .description("Decide a no-op and print its rev: every write acknowledged before it has a lower rev.")
    .action(
      withClient(async (client, g) => {
        const rev = await client.nop();
        await (g.json ? jsonLine({ rev }) : line(String(rev)));
        return 0;
      }),
    );

  program
    .command("find")
    .alias("walk")
    .summary("print every file matching <glob>: path, rev, length, value")
    .description(
      "Print every file matching <glob>, depth-first in byte order, as records: 'path rev set length', a " +
        "newline, the value's bytes as they are, a newline. All pages are read at one rev.",
    )
    .argument("<glob>", "e.g. '/app/**' (* and ? stay inside one name, ** crosses /)")
    .addOption(readRev())
    .option("-p, --paths", "print only the paths")
    .action(
      withClient(async (client, g, glob: string, o: { rev?: number; paths?: boolean }) => {
        for await (const f of client.walk(glob, { rev: o.rev, pageSize })) {
          if (g.json) await jsonLine({ path: f.path, rev: f.rev, ...jsonValue(f.value) });
          else await (o.paths ? line(f.path) : out(record(f.path, f.rev, "set", f.value)));
        }
        return 0;
      }),
    );

  program
    .command("getdir")
    .summary("print a directory's entry names, in byte order")
    .description(
      "Print a directory's entry names, one a line, in byte order: all of them (page by page, at one rev), " +
        "or one page with --offset and --limit.",
    )
    .argument("<path>", "the directory")
    .addOption(readRev())
    .addOption(new Option("--offset <n>", "print one page, from this entry").argParser(integer("an offset")))
    .addOption(new Option("--limit <n>", "print one page of at most n entries").argParser(integer("a limit")))
    .action(
      withClient(async (client, g, path: string, o: { rev?: number; offset?: number; limit?: number }) => {
        const print = async (names: string[]) => {
          for (const name of names) {
            await (g.json
              ? jsonLine({ name, path: path === "/" ? `/${name}` : `${path}/${name}` })
              : line(name));
          }
        };
        if (o.offset !== undefined || o.limit !== undefined) {
          await print((await client.getdir(path, { rev: o.rev, offset: o.offset, limit: o.limit })).entries);
          return 0;
        }
        // Every page, all at the rev of the first, so the listing is one snapshot.
        let rev = o.rev;
        for (let offset = 0; ; offset += pageSize) {
          const page = await client.getdir(path, { rev, offset, limit: pageSize });
          rev ??= page.rev;
          await print(page.entries);
          if (page.entries.length < pageSize) return 0;
        }
      }),
    );

  program
    .command("wait")
    .summary("print the first change to a file matching <glob>")
    .description(
      "Wait for the first change at or after a rev to a file matching <glob>, and print it as a record: " +
        "'path rev op length', a newline, the value's bytes, a newline. Exits 4 if the timeout passes first.",
    )
    .argument("<glob>", "the files to wait for")
    .addOption(
      new Option("-r, --rev <n>", "the first rev to consider (default: the store rev + 1)").argParser(revArg),
    )
    .addOption(
      new Option("--timeout <ms>", "give up (exit 4) after this long")
        .argParser(integer("a timeout"))
        .default(30_000),
    )
    .action(
      withClient(async (client, g, glob: string, o: { rev?: number; timeout: number }) => {
        const from = o.rev ?? (await client.rev()) + 1;
        const event = await client.wait(glob, from, { timeoutMs: o.timeout });
        if (!event) {
          await write(
            process.stderr,
            `doozer: no change to ${glob} at or after rev ${from} within ${o.timeout} ms\n`,
          );
          return exitCodes.timedOut;
        }
        await (g.json ? jsonLine(eventJson(event)) : out(eventRecord(event)));
        return 0;
      }),
    );

  program
    .command("watch")
    .summary("print every change to a file matching <glob>")
    .description(
      "Print every change to a file matching <glob> as records ('path rev op length', a newline, the " +
        "value's bytes, a newline; a delete has length 0), in rev order, none missed, until interrupted " +
        "(Ctrl-C exits 0).",
    )
    .argument("<glob>", "the files to watch")
    .addOption(
      new Option(
        "-r, --rev <n>",
        "the first rev to print changes from (default: after the store rev)",
      ).argParser(revArg),
    )
    .action(
      withClient(async (client, g, glob: string, o: { rev?: number }) => {
        // Ask for the rev even with -r: it fails fast on a dead address, where a watch would retry forever.
        const storeRev = await client.rev();
        const watch = client.watch(glob, { from: o.rev ?? storeRev + 1 });
        const stop = () => watch.cancel();
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
        try {
          for await (const event of watch)
            await (g.json ? jsonLine(eventJson(event)) : out(eventRecord(event)));
        } finally {
          process.off("SIGINT", stop);
          process.off("SIGTERM", stop);
        }
        return 0;
      }),
    );

  program
    .command("self")
    .summary("print the server address and the acceptors")
    .description(
      "Print the server address, then each acceptor: id, location, reachable, highest chosen slot.",
    )
    .action(
      withClient(async (client, g) => {
        const acceptors = await client.cluster();
        if (g.json) {
          await jsonLine({ url: g.addr, acceptors });
          return 0;
        }
        await line(g.addr);
        const rows = [["ID", "LOCATION", "REACHABLE", "CHOSEN"]];
        for (const a of acceptors) {
          rows.push([
            a.id,
            a.location,
            a.reachable ? "yes" : "no",
            a.chosen === null ? "-" : String(a.chosen),
          ]);
        }
        const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
        for (const r of rows)
          await line(
            r
              .map((cell, i) => cell.padEnd(widths[i] ?? 0))
              .join("  ")
              .trimEnd(),
          );
        return 0;
      }),
    );

  program
    .command("lock")
    .summary("run a command while holding the lock at <path>")
    .description(
      "Take the lock at <path> (waiting while another holds it), run <command> with DOOZER_LOCK_TOKEN set " +
        "to the fencing token (the lock file's rev), release the lock when it ends, and exit with its exit " +
        "code. The lock lives in a session of its own: if it is lost while waiting, a new one is opened and " +
        "the wait goes on; if it is lost while the command runs, the command is sent SIGTERM and doozer " +
        "exits 5. Put -- before the command.",
    )
    .argument("<path>", "the lock file")
    .argument("<command...>", "the command and its arguments, after --")
    .addOption(
      new Option("--ttl <ms>", "the session's ttl (default: the server's, 15000)").argParser(
        integer("a ttl"),
      ),
    )
    .action(
      withClient(async (client, _g, path: string, command: string[], o: { ttl?: number }) => {
        // Until the command runs, an interrupt gives up the wait (and the session). A session lost
        // while still waiting is replaced and the wait goes on (Client.lock); once held, losing it
        // stops the command (runHolding).
        const waiting = new AbortController();
        const interrupt = onSignals(["SIGINT", "SIGTERM", "SIGHUP"]);
        void interrupt.received.then((signal) => waiting.abort(signal));
        let held: Lock;
        try {
          held = await client.lock(path, {
            ttlMs: o.ttl,
            owner: `${hostname()}:${process.pid}`,
            signal: waiting.signal,
          });
        } catch (error) {
          if (waiting.signal.aborted) return exitCodes.interrupted;
          throw error;
        } finally {
          interrupt.off();
        }
        try {
          return await runHolding(command, held.token, held.signal);
        } finally {
          // Ending the session deletes the lock file with it.
          await held.session.end().catch(() => undefined);
        }
      }),
    );

  program
    .command("session")
    .summary("open a session, print its id, keep it alive until interrupted")
    .description(
      "Open a session, print its id (--json: session, ttl, rev), and keep it alive until Ctrl-C or " +
        "SIGTERM, which end it (its ephemeral files are deleted) and exit 0. Exits 5 if the session is lost.",
    )
    .addOption(
      new Option("--ttl <ms>", "the session's ttl (default: the server's, 15000)").argParser(
        integer("a ttl"),
      ),
    )
    .action(
      withClient(async (client, g, o: { ttl?: number }) => {
        const session = await client.session({ ttlMs: o.ttl });
        const stop = onSignals(["SIGINT", "SIGTERM", "SIGHUP"]);
        try {
          await (g.json
            ? jsonLine({ session: session.id, ttl: session.ttlMs, rev: session.rev })
            : line(session.id));
          const lost = new Promise<Error>((resolve) => session.onLost(resolve));
          const outcome = await Promise.race([stop.received, lost]);
          if (outcome instanceof Error) throw outcome;
          await session.end();
          return 0;
        } finally {
          stop.off();
        }
      }),
    );

  program
    .command("txn")
    .summary("run the transaction on stdin (SPEC §7 JSON); print its answer")
    .description(
      'Read a transaction from stdin, {"checks": [{"path", "rev"}], "ops": [{"op": "set"|"del", "path", ' +
        '"rev", "value"?, "encoding"?, "session"?}]}, apply it all or nothing, and print the answer as JSON: ' +
        '{"rev", "results": [{"path", "rev"}]}. A failed check or op names it and exits as its error does ' +
        "(1 for REV_MISMATCH).",
    )
    .action(
      withClient(async (client) => {
        const request = parseTxn(new TextDecoder().decode(await readStdin()));
        if (typeof request === "string") {
          await write(process.stderr, `doozer: ${request}\n`);
          return exitCodes.usage;
        }
        await jsonLine(await client.txn(request));
        return 0;
      }),
    );

  // Backup and restore (docs/CLI.md); the logic is client/dump.ts.
  const dumpIo = (): CommandIo => ({
    write: out,
    error: (message) => write(process.stderr, `${message}\n`),
    stdin: process.stdin,
    stdinIsTerminal: process.stdin.isTTY === true,
    exit: { refused: exitCodes.store, usage: exitCodes.usage },
  });
  program
    .command("export")
    .summary("write a dump of the whole store, at one rev, to stdout")
    .description(
      "Write a dump of every file, all read at one store rev, to stdout: values byte for byte, streamed. " +
        "Fails with TOO_LATE if that rev leaves the history window before the end (the dump is then " +
        "incomplete, and import refuses it). Ephemeral files are skipped unless --include-ephemeral.",
    )
    .option("--include-ephemeral", "export files owned by a session too (import writes them persistent)")
    .action(
      withClient((client, _g, o: { includeEphemeral?: boolean }) => exportCommand(client, dumpIo(), o)),
    );
  program
    .command("import")
    .summary("load a dump from stdin into an empty store")
    .description(
      "Load a dump (from doozer export) from stdin: every file created with rev 0, up to 100 per " +
        "transaction, so nothing is overwritten. Refuses a store that has files, unless --force, which " +
        "creates only the files that do not exist and names each one skipped.",
    )
    .option("--force", "import into a store that has files: skip each file that exists")
    .addOption(
      new Option("--parallel <n>", "transactions in flight at once").argParser(integer("a count")).default(8),
    )
    .action(
      withClient((client, g, o: { force?: boolean; parallel: number }) =>
        importCommand(client, dumpIo(), { ...o, json: g.json }),
      ),
    );

  return program;
}

/**
 * Runs `command` while the lock is held: its exit status, or, if the lock is lost first, SIGTERM
 * to the command and exit 5, whatever ended the holding (the session lost, the file changed).
 */
async function runHolding(command: string[], token: number, lockSignal: AbortSignal): Promise<number> {
  const [file = "", ...args] = command;
  const child = spawn(file, args, {
    stdio: "inherit",
    env: { ...process.env, DOOZER_LOCK_TOKEN: String(token) },
  });
  // Ctrl-C reaches the command from the terminal by itself; other signals are passed on.
  const signals = onSignals(["SIGINT", "SIGTERM", "SIGHUP"]);
  void signals.received.then((signal) => signal !== "SIGINT" && child.kill(signal));
  const onLost = () => child.kill("SIGTERM");
  lockSignal.addEventListener("abort", onLost, { once: true });
  try {
    const ended = await new Promise<number | Error>((resolve) => {
      child.once("error", resolve);
      child.once("exit", (code, signal) => resolve(exitStatus(code, signal)));
    });
    if (ended instanceof Error) {
      await write(process.stderr, `doozer: cannot run ${file}: ${ended.message}\n`);
      return exitCodes.notFound;
    }
    if (lockSignal.aborted) {
      const reason = lockSignal.reason as Error;
      await write(process.stderr, `doozer: the lock was lost while ${file} ran: ${reason.message}\n`);
      return exitCodes.store;
    }
    return ended;
  } finally {
    signals.off();
    lockSignal.removeEventListener("abort", onLost);
  }
}

/** Runs the tool on `argv` (the arguments after the program name); resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  // A reader that went away (`doozer find /** | head`) is not an error.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(exitCodes.ok);
  });
  const state: State = { code: exitCodes.ok };
  // Doozer's tools read DOOZER_URI; DOOZER_URL wins when both are set.
  if (!process.env.DOOZER_URL && process.env.DOOZER_URI) process.env.DOOZER_URL = process.env.DOOZER_URI;
  const program = buildProgram(state);
  try {
    await program.parseAsync(argv, { from: "user" });
    return state.code;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? exitCodes.ok : exitCodes.usage;
    if (error instanceof DoozerError) {
      const addr = (program.opts() as Globals).addr ?? defaultAddr;
      await write(process.stderr, `${describeError(error, addr)}\n`);
      return exitFor(error);
    }
    await write(process.stderr, `doozer: internal error: ${(error as Error)?.stack ?? String(error)}\n`);
    return exitCodes.bug;
  } finally {
    state.client?.close();
  }
}

/** Runs main and exits with its code: for bin/doozer.mjs, and for `node dist/doozer.mjs`. */
export async function run(argv: string[] = process.argv.slice(2)): Promise<never> {
  process.exit(await main(argv));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await run();
