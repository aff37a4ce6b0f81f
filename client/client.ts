// The doozer-edge client: the same methods over a WebSocket, over HTTP, or over
// a service binding from another Worker. Retries live here, in one place: a
// call that failed with a retryable error (`isRetryable`: NO_QUORUM, a lost
// connection) is sent again after a backoff, a write always with the same
// request id, so that the store applies it once however often it is sent.

import { bytesToBase64 } from "../core/value-encoding";
import { type BackoffOptions, backoffDelay, defaultBackoff, sleep } from "./backoff";
import { isRetryable, NoSessionError } from "./errors";
import { type FetchLike, HttpTransport } from "./http-transport";
import { type Config, config, electLeader, type Leadership, type Lock, lock } from "./recipes";
import { freshRequestId } from "./request-id";
import { BindingTransport } from "./rpc-transport";
import { type LossRelay, Session, type SessionOptions } from "./session";
import {
  type Call,
  type CallArgs,
  decodeAnswerValue,
  sessionField,
  type Transport,
  type WireItem,
} from "./transport";
import { toValue, type Value } from "./value";
import { Watch, type WatchEvent } from "./watch";
import { WebSocketTransport } from "./websocket-transport";

/**
 * A service binding to the doozer-edge Worker (`env.DOOZER`), or anything with its fetch. Bound to the
 * `DoozerService` entrypoint (`Service<DoozerService>`), the client calls its typed RPC methods.
 */
export interface Binding {
  fetch(request: Request): Promise<Response>;
}

export interface ConnectOptions {
  /** A token for DOOZER_RWSECRET or DOOZER_ROSECRET. */
  token?: string;
  /** For an http(s) URL: "http" (default) or "websocket". A ws(s) URL is always WebSocket. */
  transport?: "http" | "websocket";
  /** WebSocket: a call unanswered this long (plus what the server may hold it) fails with ConnectionError. */
  callTimeoutMs?: number;
  /** WebSocket: how often a `ping` goes out at most (default 5,000); a socket silent for two intervals is dead. */
  heartbeatIntervalMs?: number;
  /** Attempts for a call that fails with a retryable error (default 5). */
  attempts?: number;
  backoff?: BackoffOptions;
}

export interface ClientOptions {
  /** The connection under the client. */
  transport: Transport;
  /** Where GET /v1/cluster goes (it is HTTP whatever the transport); default http://doozer. */
  httpBase?: string;
  /** The fetch for GET /v1/cluster (a service binding's); default the global fetch. */
  fetch?: FetchLike;
  /** The token for GET /v1/cluster. */
  token?: string;
  /** Attempts for a call that fails with a retryable error (default 5). */
  attempts?: number;
  backoff?: BackoffOptions;
}

export interface FileValue {
  value: Value;
  /** The file's rev. */
  rev: number;
  /** The store rev the read reflects. */
  storeRev: number;
  /** An ephemeral file's owner at the rev read (SPEC §6); absent for a persistent file. */
  session?: string;
}

/** A file's or directory's length and rev (STAT). */
export interface FileStat {
  /** A file's length in bytes; a directory's entry count; 0 when missing. */
  len: number;
  /** The file's rev; -2 for a directory, 0 when missing. */
  rev: number;
  /** The store rev the read reflects. */
  storeRev: number;
  /** An ephemeral file's owner at the rev read (SPEC §6); absent otherwise. */
  session?: string;
}

export interface ReadOptions {
  /** Read the store as it was at this rev. */
  rev?: number;
  /** Answer from one replica without the quorum read barrier (may miss the latest writes). */
  stale?: boolean;
  /** How long a read at a future rev may wait, in ms. */
  timeoutMs?: number;
}

export interface PageOptions extends ReadOptions {
  offset?: number;
  limit?: number;
}

export interface WalkedFile {
  path: string;
  rev: number;
  value: Value;
  /** An ephemeral file's owner at the walk's rev (SPEC §6); absent for a persistent file. */
  session?: string;
}

/** One acceptor as GET /v1/cluster describes it; null where it did not answer. */
export interface ClusterMember {
  id: string;
  /** Its location hint. */
  location: string;
  reachable: boolean;
  /** The promised ballot, "<round>.<proposer id>". */
  promised: string | null;
  /** The highest slot it accepted. */
  accepted: number | null;
  /** The slot through which it has applied the log. */
  chosen: number | null;
  /** Its store rev. */
  rev: number | null;
}

/**
 * Connects to doozer-edge: `connect("http://127.0.0.1:8787")`,
 * `connect("ws://127.0.0.1:8787")`, or `connect(env.DOOZER)` from a Worker with a
 * service binding. No network I/O happens until the first call.
 */
export function connect(target: string | URL | Binding, options: ConnectOptions = {}): Client {
  const { token, attempts, backoff } = options;
  // A binding may be callable too (a loopback stub of `ctx.exports`): anything that is not a string or a URL.
  if (typeof target !== "string" && !(target instanceof URL)) {
    // The entrypoint's typed RPC methods when it has them (DoozerService), else its fetch.
    const fetch: FetchLike = (request) => target.fetch(request);
    const transport = new BindingTransport(target, { token, fetch });
    return new Client({ transport, fetch, token, attempts, backoff });
  }
  const url = new URL(String(target));
  const http = new URL(url);
  http.protocol = url.protocol === "wss:" || url.protocol === "https:" ? "https:" : "http:";
  const httpBase = http.origin;
  const websocket = url.protocol === "ws:" || url.protocol === "wss:" || options.transport === "websocket";
  if (websocket) {
    const ws = new URL("/v1/ws", httpBase);
    ws.protocol = http.protocol === "https:" ? "wss:" : "ws:";
    const transport = new WebSocketTransport(ws.href, {
      token,
      backoff,
      callTimeoutMs: options.callTimeoutMs,
      heartbeatIntervalMs: options.heartbeatIntervalMs,
    });
    return new Client({ transport, httpBase, token, attempts, backoff });
  }
  const transport = new HttpTransport(httpBase, { token });
  return new Client({ transport, httpBase, token, attempts, backoff });
}

/** A check of a transaction: the file's rev is exactly `rev` (0: it does not exist). */
export interface TxnCheck {
  path: string;
  rev: number;
}

/** An op of a transaction; its rev means what it means on set and del. */
export type TxnOp =
  | {
      op: "set";
      path: string;
      rev: number;
      /** Bytes, or text; text with `encoding: "base64"` is base64 of the bytes. */
      value: string | Uint8Array;
      encoding?: "base64";
      /** Makes the file ephemeral, owned by this session. */
      session?: Session | string;
    }
  | { op: "del"; path: string; rev: number };

export interface TxnResult {
  /** The rev of the transaction's last op (of the transaction itself when it has checks only). */
  rev: number;
  /** Each op's path and the rev it took, in order. */
  results: { path: string; rev: number }[];
}

export class Client {
  /** The transport under this client (exposed for tests that drop connections). */
  readonly transport: Transport;
  private readonly attempts: number;
  private readonly backoff: BackoffOptions;

  constructor(private readonly options: ClientOptions) {
    this.transport = options.transport;
    this.attempts = Math.max(1, options.attempts ?? 5);
    this.backoff = options.backoff ?? defaultBackoff;
  }

  /** The store rev: the number of the last change. */
  async rev(options: { stale?: boolean } = {}): Promise<number> {
    return Number((await this.call({ verb: "REV", args: { stale: options.stale } })).rev);
  }

  /** A file's value and rev. Throws NoEntError for a missing file, IsDirError for a directory. */
  async get(path: string, options: ReadOptions = {}): Promise<FileValue> {
    const answer = await this.call({
      verb: "GET",
      args: { path, ...readArgs(options) },
      holdMs: options.timeoutMs,
    });
    return {
      value: toValue(decodeAnswerValue(answer)),
      rev: Number(answer.rev),
      storeRev: Number(answer.storeRev),
      ...sessionField(answer),
    };
  }

  /**
   * Writes a file if its rev is still `rev` (0: only if it does not exist; -1: in any case)
   * and returns its new rev. Throws RevMismatchError (with the current `rev`) otherwise.
   */
  async set(
    path: string,
    rev: number,
    value: string | Uint8Array,
    options: { session?: Session | string } = {},
  ): Promise<number> {
    const bytes = typeof value === "string" ? new TextEncoder().encode(value) : value;
    const session = sessionId(options.session);
    return Number(
      (
        await this.call({
          verb: "SET",
          args: { path, rev, value: bytes, session },
          requestId: freshRequestId(),
        })
      ).rev,
    );
  }

  /** Deletes a file if its rev is still `rev` (-1: in any case); returns the rev the delete consumed. */
  async del(path: string, rev: number): Promise<number> {
    return Number((await this.call({ verb: "DEL", args: { path, rev }, requestId: freshRequestId() })).rev);
  }

  /** Decides a no-op: returns the store rev it took, a point every earlier write is before. */
  async nop(): Promise<number> {
    return Number((await this.call({ verb: "NOP", args: {}, requestId: freshRequestId() })).rev);
  }

  /** A file: its length and rev; a directory: its entry count and rev -2; missing: 0 and 0. */
  async stat(path: string, options: ReadOptions = {}): Promise<FileStat> {
    const answer = await this.call({
      verb: "STAT",
      args: { path, ...readArgs(options) },
      holdMs: options.timeoutMs,
    });
    return {
      len: Number(answer.len),
      rev: Number(answer.rev),
      storeRev: Number(answer.storeRev),
      ...sessionField(answer),
    };
  }

  /** One page of a directory's entry names, in byte order, and the store rev it was read at. */
  async getdir(path: string, options: PageOptions = {}): Promise<{ entries: string[]; rev: number }> {
    const answer = await this.call({
      verb: "GETDIR",
      args: { path, offset: options.offset, limit: options.limit, ...readArgs(options) },
      holdMs: options.timeoutMs,
    });
    return { entries: answer.entries as string[], rev: Number(answer.rev) };
  }

  /**
   * Every file matching `glob`, depth-first in byte order, fetched a page at a
   * time; all pages are read at the rev of the first, so the walk is one snapshot.
   */
  async *walk(glob: string, options: ReadOptions & { pageSize?: number } = {}): AsyncGenerator<WalkedFile> {
    const limit = options.pageSize ?? 1000;
    let rev = options.rev;
    for (let offset = 0; ; offset += limit) {
      const answer = await this.call({
        verb: "WALK",
        args: { glob, offset, limit, ...readArgs({ ...options, rev }) },
        holdMs: options.timeoutMs,
      });
      rev ??= Number(answer.rev);
      const files = answer.files as {
        path: string;
        rev: number;
        value: string;
        encoding?: string;
        session?: string;
      }[];
      for (const f of files) {
        yield { path: f.path, rev: f.rev, value: toValue(decodeAnswerValue(f)), ...sessionField(f) };
      }
      if (files.length < limit) return;
    }
  }

  /** The first change at or after `rev` to a file matching `glob`, or undefined when `timeoutMs` passes first. */
  async wait(
    glob: string,
    rev: number,
    options: { timeoutMs?: number } = {},
  ): Promise<WatchEvent | undefined> {
    const timeoutMs = options.timeoutMs ?? 30_000;
    const answer = await this.call({
      verb: "WAIT",
      args: { glob, rev, timeout: timeoutMs },
      holdMs: timeoutMs,
    });
    if (answer.timeout) return undefined;
    return {
      path: String(answer.path),
      rev: Number(answer.rev),
      op: answer.op === "del" ? "del" : "set",
      value: toValue(decodeAnswerValue(answer)),
      ...sessionField(answer),
    };
  }

  /**
   * Every change to a file matching `glob`, from rev `from` on (default: after
   * the current store rev), as an async iterator. It survives reconnects without
   * losing or repeating an event, and throws TooLateError if it cannot.
   */
  watch(glob: string, options: { from?: number } = {}): Watch {
    return new Watch(async (watch) => {
      const from = options.from ?? (await this.rev()) + 1;
      return this.transport.watch(glob, from, {
        event: (e) => watch.push(e),
        end: (error) => watch.end(error),
      });
    });
  }

  /**
   * All or nothing (SPEC §7): every check holds and every op applies, in order, in consecutive
   * revs, or nothing changes and the first failure is thrown (RevMismatchError and the rest,
   * with `storeRev`, `path`, `rev`, and `check` or `op`: the failing item's index).
   */
  async txn(request: { checks?: TxnCheck[]; ops?: TxnOp[] }): Promise<TxnResult> {
    const checks: WireItem[] = (request.checks ?? []).map(({ path, rev }) => ({ path, rev }));
    const ops: WireItem[] = (request.ops ?? []).map((op) => {
      if (op.op === "del") return { op: "del", path: op.path, rev: op.rev };
      const binary = op.value instanceof Uint8Array;
      return {
        op: "set",
        path: op.path,
        rev: op.rev,
        value: op.value instanceof Uint8Array ? bytesToBase64(op.value) : op.value,
        encoding: binary ? "base64" : op.encoding,
        session: sessionId(op.session),
      };
    });
    const answer = await this.call({ verb: "TXN", args: { checks, ops }, requestId: freshRequestId() });
    const results = (answer.results ?? []) as { path: string; rev: number }[];
    return { rev: Number(answer.rev), results: results.map((r) => ({ path: r.path, rev: Number(r.rev) })) };
  }

  /**
   * Opens a session (SPEC §6) and keeps it alive until `end()` or until it is lost, which its
   * `signal` and `onLost` tell.
   */
  async session(options: SessionOptions = {}): Promise<Session> {
    const relay: LossRelay = {};
    const id = freshRequestId();
    const sink = {
      lost: (error: Error) => {
        if (relay.target) relay.target(error);
        else relay.lost = error;
      },
    };
    const held = await this.retrying(() => this.transport.openSession(options.ttlMs, sink, id));
    return new Session(this, held, (send) => this.retrying(send), relay);
  }

  /**
   * Takes the lock at `path` (waiting while another holds it) under `session`, or, without one,
   * under a session of its own (`ttlMs`) that `release()` ends; see recipes.ts.
   */
  async lock(
    path: string,
    options: { session?: Session; ttlMs?: number; owner?: string; signal?: AbortSignal } = {},
  ): Promise<Lock> {
    if (options.session) return lock(options.session, path, options);
    return this.underOwnSession(options, async (session) => {
      const held = await lock(session, path, options);
      return { ...held, release: () => held.release().finally(() => session.end()) };
    });
  }

  /**
   * Resolves once this client leads at `path` under `id`, within `session` or a session of its
   * own that `resign()` ends; see recipes.ts.
   */
  async electLeader(
    path: string,
    id: string,
    options: { session?: Session; ttlMs?: number; signal?: AbortSignal } = {},
  ): Promise<Leadership> {
    if (options.session) return electLeader(options.session, path, id, options);
    return this.underOwnSession(options, async (session) => {
      const leadership = await electLeader(session, path, id, options);
      return { ...leadership, resign: () => leadership.resign().finally(() => session.end()) };
    });
  }

  /**
   * Takes something (a lock, a leadership) under a session of its own. A session lost while still
   * WAITING (its ttl ran out under load or a fault, or a write answered NOSESSION) is replaced: a new
   * session is opened and the wait goes on, since nothing was held yet and nothing is lost by it;
   * opening the new one retries a lost connection until it succeeds or `signal` aborts, as the wait's
   * own watch would. Once taken, a lost session is the holder's to see (its `signal`). Any other
   * failure, or `signal` aborting, ends the wait with its session.
   */
  private async underOwnSession<T extends { signal: AbortSignal }>(
    options: { ttlMs?: number; signal?: AbortSignal },
    take: (session: Session) => Promise<T>,
  ): Promise<T> {
    let session = await this.session({ ttlMs: options.ttlMs });
    for (let renewals = 0; ; renewals++) {
      let error: unknown;
      try {
        const taken = await take(session);
        // Lost between the create and now: it was never handed out, so wait on as if unheld.
        if (session.lost === undefined) return taken;
        error = session.lost;
      } catch (failure) {
        error = failure;
      }
      const lostWhileWaiting = session.lost !== undefined || error instanceof NoSessionError;
      await session.end().catch(() => undefined);
      if (!lostWhileWaiting || options.signal?.aborted) throw error;
      session = await this.renewedSession(renewals, options);
    }
  }

  /** A new session for a waiter whose session was lost, after a backoff; gives up only when `signal` aborts. */
  private async renewedSession(renewals: number, options: { ttlMs?: number; signal?: AbortSignal }) {
    for (let attempt = renewals; ; attempt++) {
      await sleep(backoffDelay(attempt, this.backoff), options.signal);
      try {
        return await this.session({ ttlMs: options.ttlMs });
      } catch (error) {
        if (!isRetryable(error)) throw error;
      }
    }
  }

  /** A config value and its changes; see recipes.ts. */
  config(path: string): Promise<Config> {
    return config(this, path);
  }

  /** The acceptors, their regions and Paxos state (GET /v1/cluster, over HTTP whatever the transport). */
  async cluster(): Promise<ClusterMember[]> {
    const http = new HttpTransport(this.options.httpBase ?? "http://doozer", {
      token: this.options.token,
      fetch: this.options.fetch,
    });
    const answer = await this.retrying(() => http.cluster());
    return answer.acceptors as ClusterMember[];
  }

  close(): void {
    this.transport.close();
  }

  private call(call: Call): Promise<Record<string, unknown>> {
    return this.retrying(() => this.transport.call(call));
  }

  private async retrying<T>(send: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await send();
      } catch (error) {
        if (!isRetryable(error) || attempt >= this.attempts) throw error;
        await sleep(backoffDelay(attempt - 1, this.backoff));
      }
    }
  }
}

function readArgs(options: ReadOptions): CallArgs {
  return { rev: options.rev, stale: options.stale ? 1 : undefined, timeout: options.timeoutMs };
}

function sessionId(session: Session | string | undefined): string | undefined {
  return typeof session === "object" ? session.id : session;
}
