// The entrypoint for service bindings, as Cloudflare recommends them: typed RPC
// methods that call the store's verbs (server/verbs.ts) in this isolate's
// runtime, with no HTTP in between, and `fetch` for callers that speak the HTTP
// API. A consumer binds it with
//
//   [[services]]
//   binding = "DOOZER"
//   service = "doozer-edge"
//   entrypoint = "DoozerService"
//   props = { readOnly = true }        # optional: every write answers READONLY
//
// and types it `Service<DoozerService>`; the client's `connect(env.DOOZER)` uses
// these methods when the binding has them, and `fetch` otherwise.
//
// Errors cross RPC as a plain Error whose message carries the code and the
// details (RPC keeps an error's message, not its fields): `[CODE {json}] message`.
// The client turns it back into its error classes (client/rpc-transport.ts).

import { WorkerEntrypoint } from "cloudflare:workers";
import { CodedError } from "../core/errors";
import type { StoreEvent } from "../core/store";
import { bytesToBase64 } from "../core/value-encoding";
import { requiredGlob, type VerbArgs } from "../server/verbs";
import type { Env } from "./env";
import worker from "./index";
import { requireMembership, runtimeFor } from "./isolate-runtime";

/** Per-binding settings: `[[services]] ... props = { readOnly = true }`. */
export interface DoozerServiceProps {
  /** Reads, waits and watches only: every write (and session verb) answers READONLY. */
  readOnly?: boolean;
}

export interface RpcReadOptions {
  /** Read the store as it was at this rev. */
  rev?: number;
  /** One replica's answer, without the quorum read barrier. */
  stale?: boolean;
  /** How long a read at a future rev may wait, in ms. */
  timeoutMs?: number;
}

export interface RpcPageOptions extends RpcReadOptions {
  offset?: number;
  limit?: number;
}

export interface RpcWriteOptions {
  /** The mutation's id: the same on every retry, so that the write applies once. */
  requestId?: string;
}

export interface RpcFile {
  path: string;
  /** The file's rev. */
  rev: number;
  value: Uint8Array;
  /** The store rev read at. */
  storeRev: number;
  /** The owning session, for an ephemeral file. */
  session?: string;
}

export interface RpcEvent {
  path: string;
  rev: number;
  op: "set" | "del";
  /** Empty for a delete. */
  value: Uint8Array;
  session?: string;
}

export interface RpcTxnItem {
  op?: "set" | "del";
  path: string;
  rev: number;
  /** Text, or base64 with `encoding: "base64"`. */
  value?: string;
  encoding?: "base64";
  session?: string;
}

/** The version of the RPC surface below; `connect(binding)` asks it first, to tell RPC from fetch-only. */
export const rpcVersion = 1;

/** How long each WAIT under a watch stream is held, in ms. */
const watchWaitMs = 25_000;

/** The env a trusted caller sees: the same store, with no token asked for. One per env, so one runtime. */
const trustedEnvs = new WeakMap<Env, Env>();
/** The env of a read-only binding's fetch: secrets of its own, and the read-only one presented. */
const readOnlyEnvs = new WeakMap<Env, { env: Env; token: string }>();

function trustedEnv(env: Env): Env {
  let trusted = trustedEnvs.get(env);
  if (!trusted) {
    trusted = { ...env, DOOZER_RWSECRET: undefined, DOOZER_ROSECRET: undefined, DOOZER_OPEN: "1" };
    trustedEnvs.set(env, trusted);
  }
  return trusted;
}

function readOnlyEnv(env: Env): { env: Env; token: string } {
  let entry = readOnlyEnvs.get(env);
  if (!entry) {
    const random = () => crypto.randomUUID().replaceAll("-", "");
    const token = random();
    entry = { env: { ...env, DOOZER_RWSECRET: random(), DOOZER_ROSECRET: token }, token };
    readOnlyEnvs.set(env, entry);
  }
  return entry;
}

/** An error as it crosses RPC: `[CODE {details}] message`, which the client parses back. */
export function rpcError(error: unknown): unknown {
  if (!(error instanceof CodedError)) return error;
  const details = Object.keys(error.details).length > 0 ? ` ${JSON.stringify(error.details)}` : "";
  return new Error(`[${error.code}${details}] ${error.message}`);
}

function eventOf(event: StoreEvent): RpcEvent {
  const out: RpcEvent = { path: event.path, rev: event.rev, op: event.op, value: event.value };
  if (event.session !== undefined) out.session = event.session;
  return out;
}

/**
 * Only Workers that were deliberately bound to this entrypoint can reach it (it
 * has no public URL), so it is trusted: calls through it need no token and may
 * write, unless the binding's props say `readOnly`. Expose the default
 * entrypoint instead to make a bound Worker present a token like any client.
 */
export class DoozerService extends WorkerEntrypoint<Env, DoozerServiceProps> {
  override async fetch(request: Request): Promise<Response> {
    let env = trustedEnv(this.env);
    if (this.readOnly) {
      const entry = readOnlyEnv(this.env);
      env = entry.env;
      const headers = new Headers(request.headers);
      headers.set("Authorization", `Bearer ${entry.token}`);
      request = new Request(request, { headers });
    }
    // The Worker's own handler (its request log, its membership check), with this binding's env.
    // `worker` is read at call time: index.ts re-exports this module, so it is not ready at load.
    return worker.fetch(request, env, this.ctx);
  }

  /** The version of this RPC surface (1). */
  rpcVersion(): number {
    return rpcVersion;
  }

  /** The store rev. */
  rev(options: { stale?: boolean } = {}): Promise<{ rev: number }> {
    return this.run(false, (v, life) => v.rev({ stale: options.stale }, life));
  }

  /** A file's value (bytes) and rev; NOENT, ISDIR. */
  get(path: string, options: RpcReadOptions = {}): Promise<RpcFile> {
    return this.run(false, async (v, life) => {
      const file = await v.get({ path, ...readArgs(options) }, life);
      const out: RpcFile = { path: file.path, rev: file.rev, value: file.value, storeRev: file.storeRev };
      if (file.session !== undefined) out.session = file.session;
      return out;
    });
  }

  /** Writes if the file's rev is still `rev` (0: create only; -1: any); the file's new rev. */
  set(
    path: string,
    rev: number,
    value: string | Uint8Array,
    options: RpcWriteOptions & { session?: string } = {},
  ): Promise<{ path: string; rev: number }> {
    const bytes = typeof value === "string" ? new TextEncoder().encode(value) : value;
    return this.run(true, (v, life) =>
      v.set({ path, rev, value: bytes, session: options.session, requestId: options.requestId }, life),
    );
  }

  /** Deletes if the file's rev is still `rev` (-1: any); the rev the delete consumed. */
  del(path: string, rev: number, options: RpcWriteOptions = {}): Promise<{ path: string; rev: number }> {
    return this.run(true, (v, life) => v.del({ path, rev, requestId: options.requestId }, life));
  }

  /** A no-op decided like a write: every earlier write is before its rev. */
  nop(options: RpcWriteOptions = {}): Promise<{ rev: number }> {
    return this.run(true, (v, life) => v.nop({ requestId: options.requestId }, life));
  }

  /** One page of a directory's entry names, in byte order. */
  getdir(
    path: string,
    options: RpcPageOptions = {},
  ): Promise<{ path: string; rev: number; entries: string[] }> {
    return this.run(false, (v, life) =>
      v.getdir({ path, ...readArgs(options), offset: options.offset, limit: options.limit }, life),
    );
  }

  /** A file `(len, rev)`, a directory `(entries, -2)`, missing `(0, 0)`. */
  stat(
    path: string,
    options: RpcReadOptions = {},
  ): Promise<{ path: string; rev: number; len: number; storeRev: number; session?: string }> {
    return this.run(false, (v, life) => v.stat({ path, ...readArgs(options) }, life));
  }

  /** One page of the files matching `glob`, depth-first in byte order, and the store rev read at. */
  walk(
    glob: string,
    options: RpcPageOptions = {},
  ): Promise<{ rev: number; files: { path: string; rev: number; value: Uint8Array; session?: string }[] }> {
    return this.run(false, async (v, life) => {
      const { rev, files } = await v.walk(
        { glob, ...readArgs(options), offset: options.offset, limit: options.limit },
        life,
      );
      return {
        rev,
        files: files.map((f) => {
          const out: { path: string; rev: number; value: Uint8Array; session?: string } = {
            path: f.path,
            rev: f.rev,
            value: f.value,
          };
          if (f.session !== undefined) out.session = f.session;
          return out;
        }),
      };
    });
  }

  /** The first change at or after `rev` to a file matching `glob`, or null when the timeout passes first. */
  wait(
    glob: string,
    rev: number,
    options: { timeoutMs?: number; stale?: boolean } = {},
  ): Promise<RpcEvent | null> {
    return this.run(false, async (v, life) => {
      const event = await v.wait({ glob, rev, timeout: options.timeoutMs, stale: options.stale }, life);
      return event ? eventOf(event) : null;
    });
  }

  /**
   * Every change to a file matching `glob` from rev `from` on (default: after the
   * store rev), in rev order, as a stream of NDJSON lines (RPC streams carry bytes):
   * `{"path","rev","op","value"}` with the value base64, or a last line
   * `{"error":{"code","message",...}}` (TOO_LATE, NO_QUORUM) before the stream ends.
   * Resume from the last rev seen + 1. Cancel the stream to stop.
   */
  async watch(glob: string, options: { from?: number } = {}): Promise<ReadableStream<Uint8Array>> {
    const verbs = await this.run(false, async (v) => {
      requiredGlob(glob);
      return v;
    });
    const life = this.ctx;
    let next = options.from;
    let ended = false;
    const encoder = new TextEncoder();
    const line = (o: unknown) => encoder.encode(`${JSON.stringify(o)}\n`);
    return new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          next ??= (await verbs.rev({}, life)).rev + 1;
          for (;;) {
            if (ended) return;
            const event = await verbs.wait({ glob, rev: next, timeout: watchWaitMs }, life);
            if (ended) return;
            if (!event) continue;
            next = event.rev + 1;
            const out: Record<string, unknown> = {
              path: event.path,
              rev: event.rev,
              op: event.op,
              value: bytesToBase64(event.value),
              encoding: "base64",
            };
            if (event.session !== undefined) out.session = event.session;
            controller.enqueue(line(out));
            return;
          }
        } catch (error) {
          ended = true;
          if (error instanceof CodedError) {
            controller.enqueue(line(error.toJSON()));
            controller.close();
          } else controller.error(error);
        }
      },
      cancel() {
        ended = true;
      },
    });
  }

  /** Opens a session (SPEC §6); keep it alive with keepAlive every ttl / 3. */
  openSession(
    options: RpcWriteOptions & { ttlMs?: number } = {},
  ): Promise<{ session: string; ttl: number; rev: number }> {
    return this.run(true, (v, life) =>
      v.openSession({ ttl: options.ttlMs, requestId: options.requestId }, life),
    );
  }

  /** Extends a session; NOSESSION once it has ended. */
  keepAlive(session: string): Promise<{ session: string; ttl: number }> {
    return this.run(true, (v) => v.keepAlive({ session }));
  }

  /** Ends a session: its ephemeral files are deleted. */
  endSession(session: string, options: RpcWriteOptions = {}): Promise<{ session: string; rev: number }> {
    return this.run(true, (v, life) => v.endSession({ session, requestId: options.requestId }, life));
  }

  /** All or nothing (SPEC §7). */
  txn(
    body: { checks?: { path: string; rev: number }[]; ops?: RpcTxnItem[] },
    options: RpcWriteOptions = {},
  ): Promise<{ rev: number; results: { path: string; rev: number }[] }> {
    return this.run(true, (v, life) =>
      v.txn({ checks: body.checks ?? [], ops: body.ops ?? [], requestId: options.requestId }, life),
    );
  }

  private get readOnly(): boolean {
    const props = (this.ctx as { props?: DoozerServiceProps }).props;
    return props?.readOnly === true;
  }

  private async run<T>(
    write: boolean,
    body: (verbs: ReturnType<typeof runtimeFor>["verbs"], life: ExecutionContext) => Promise<T>,
  ): Promise<T> {
    try {
      if (write && this.readOnly) {
        throw new CodedError("READONLY", "this service binding is read-only (its props say readOnly)");
      }
      const env = trustedEnv(this.env);
      const runtime = runtimeFor(env, true);
      await requireMembership(env, runtime);
      return await body(runtime.verbs, this.ctx);
    } catch (error) {
      throw rpcError(error);
    }
  }
}

function readArgs(options: RpcReadOptions): VerbArgs {
  return { rev: options.rev, stale: options.stale, timeout: options.timeoutMs };
}
