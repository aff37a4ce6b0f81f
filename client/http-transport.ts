// The HTTP transport: each call is one request to the HTTP API (SPEC §2); a
// watch is a chain of WAITs, each from the rev after the last event, so none is
// missed or repeated. With a service binding's fetch, the same code reaches
// the store from another Worker without leaving Cloudflare's network.

import { validatePath } from "../core/path";
import { backoffDelay, defaultBackoff, sleep } from "./backoff";
import {
  BadPathError,
  BadRequestError,
  ConnectionError,
  DoozerError,
  errorFromAnswer,
  isRetryable,
  NoSessionError,
  OtherError,
} from "./errors";
import { Lease, type SessionSink } from "./lease";
import { freshRequestId } from "./request-id";
import {
  type Answer,
  type Call,
  type CallArgs,
  decodeAnswerValue,
  type HeldSession,
  type Subscription,
  sessionField,
  type Transport,
  type WatchSink,
} from "./transport";

export type FetchLike = (request: Request) => Promise<Response>;

export interface HttpTransportOptions {
  token?: string;
  /** Defaults to the global fetch; a service binding passes its own. */
  fetch?: FetchLike;
}

/** How long each WAIT of a watch is held by the server, in ms. */
const watchWaitMs = 25_000;

export class HttpTransport implements Transport {
  private readonly base: string;
  private readonly fetch: FetchLike;
  private closed = false;
  private readonly aborter = new AbortController();
  private readonly sinks = new Set<WatchSink>();
  private readonly leases = new Set<Lease>();

  constructor(
    base: string,
    private readonly options: HttpTransportOptions = {},
  ) {
    this.base = base.replace(/\/+$/, "");
    this.fetch = options.fetch ?? ((request) => fetch(request));
  }

  async call(call: Call): Promise<Answer> {
    const { verb, args } = call;
    switch (verb) {
      case "REV":
        return this.json("GET", "/v1/rev", args);
      case "GET": {
        const route = `/v1/files${path(args)}`;
        const response = await this.request("GET", route, args);
        const answer: Answer = {
          path: args.path,
          rev: Number(response.headers.get("Doozer-Rev")),
          storeRev: Number(response.headers.get("Doozer-Store-Rev")),
          value: await readBytes(response, `GET ${route}`),
        };
        // The owner of an ephemeral file (SPEC §6); absent for a persistent one.
        const session = response.headers.get("Doozer-Session");
        if (session !== null) answer.session = session;
        return answer;
      }
      case "SET":
        return this.json(
          "PUT",
          `/v1/files${path(args)}`,
          { rev: args.rev, session: args.session },
          args.value instanceof Uint8Array ? args.value : new TextEncoder().encode(String(args.value ?? "")),
          call.requestId,
        );
      case "DEL":
        return this.json("DELETE", `/v1/files${path(args)}`, { rev: args.rev }, undefined, call.requestId);
      case "NOP":
        return this.json("POST", "/v1/nop", {}, undefined, call.requestId);
      case "GETDIR":
        return this.json("GET", `/v1/dirs${path(args)}`, { ...args, path: undefined });
      case "STAT":
        return this.json("GET", `/v1/stat${path(args)}`, { ...args, path: undefined });
      case "WALK":
        return this.json("GET", "/v1/walk", { ...args, encoding: "base64" });
      case "WAIT": {
        const response = await this.request("GET", "/v1/wait", { ...args, encoding: "base64" });
        if (response.status === 204) return { timeout: true };
        return readJson(response, "GET /v1/wait");
      }
      case "SESSION":
        // There is no socket to attach a session to: attaching is a keepalive.
        if (args.session !== undefined) return this.json("POST", `${sessionRoute(args)}/keepalive`, {});
        return this.json("POST", "/v1/sessions", { ttl: args.ttl }, undefined, call.requestId);
      case "KEEPALIVE":
        return this.json("POST", `${sessionRoute(args)}/keepalive`, {}, undefined, undefined, call.signal);
      case "ENDSESSION":
        return this.json("DELETE", sessionRoute(args), {}, undefined, call.requestId);
      case "TXN":
        return this.json(
          "POST",
          "/v1/txn",
          {},
          JSON.stringify({ checks: args.checks, ops: args.ops }),
          call.requestId,
        );
    }
  }

  async openSession(ttlMs: number | undefined, sink: SessionSink, requestId: string): Promise<HeldSession> {
    const openedAtMs = Date.now();
    const answer = await this.call({ verb: "SESSION", args: { ttl: ttlMs }, requestId });
    const endId = freshRequestId();
    const id = String(answer.session);
    let timer: ReturnType<typeof setTimeout> | undefined;
    /** Keepalives of the schedule still unanswered: aborted when the lease is over. */
    const inFlight = new Set<AbortController>();
    const lease = new Lease(id, Number(answer.ttl), openedAtMs, sink, () => {
      clearTimeout(timer);
      for (const controller of inFlight) controller.abort(new ConnectionError(`session ${id} is over`));
      this.leases.delete(lease);
    });
    this.leases.add(lease);
    const keepAlive = async (signal?: AbortSignal) => {
      const sentAtMs = Date.now();
      try {
        await this.call({ verb: "KEEPALIVE", args: { session: id }, signal });
      } catch (error) {
        if (error instanceof NoSessionError) lease.lose(error);
        throw error;
      }
      lease.confirm(sentAtMs);
    };
    // The schedule. A keepalive goes out every ttl / 3 counted from the previous one's SEND, not
    // from its answer, so slow answers do not stretch the gaps: each answered one extends the lease
    // from its send time, so answers taking up to 2/3 of the ttl keep the session (counting from the
    // answers lost it at 1/3). A failed one (no answer, NO_QUORUM) is sent again sooner, after a
    // backoff. Sends do not wait for answers, but at most two are unanswered at once: at ttl / 3
    // apart, two is how many are in flight when answers take the longest that can still keep the
    // session, so a third would only pile onto a server that slow. A send that falls due while two
    // are out goes the moment one is answered or given up; one unanswered after a ttl is given up
    // (aborted), since its answer could no longer extend the lease past now.
    const maxInFlight = 2;
    const periodMs = lease.ttlMs / 3;
    let dueAtMs = openedAtMs + periodMs;
    let failures = 0;
    const schedule = () => {
      clearTimeout(timer);
      if (lease.over || this.closed) return;
      timer = setTimeout(send, Math.max(0, dueAtMs - Date.now()));
    };
    const send = () => {
      if (lease.over || this.closed || inFlight.size >= maxInFlight) return; // Sent when one finishes.
      const sentAtMs = Date.now();
      dueAtMs = sentAtMs + periodMs;
      const controller = new AbortController();
      const giveUp = setTimeout(
        () => controller.abort(new ConnectionError(`no answer to a keepalive within ${lease.ttlMs} ms`)),
        lease.ttlMs,
      );
      inFlight.add(controller);
      schedule();
      // The race frees the slot even where the call cannot be aborted (an RPC binding).
      Promise.race([keepAlive(controller.signal), rejectOnAbort(controller.signal)])
        .then(
          () => {
            failures = 0;
          },
          () => {
            // Sooner than the schedule: a backoff after the failure, never later than a period.
            dueAtMs = Math.min(dueAtMs, Date.now() + Math.min(periodMs, backoffDelay(failures++)));
          },
        )
        .finally(() => {
          clearTimeout(giveUp);
          inFlight.delete(controller);
          schedule();
        });
    };
    schedule();
    return {
      id,
      ttlMs: lease.ttlMs,
      rev: Number(answer.rev),
      keepAlive: () => keepAlive(),
      end: async () => {
        try {
          return Number(
            (await this.call({ verb: "ENDSESSION", args: { session: id }, requestId: endId })).rev,
          );
        } finally {
          lease.stop();
        }
      },
    };
  }

  /** GET /v1/cluster. */
  cluster(): Promise<Answer> {
    return this.json("GET", "/v1/cluster", {});
  }

  watch(glob: string, fromRev: number, sink: WatchSink): Subscription {
    let cancelled = false;
    this.sinks.add(sink);
    const run = async () => {
      let next = fromRev;
      let failures = 0;
      while (!cancelled && !this.closed) {
        try {
          const answer = await this.call({
            verb: "WAIT",
            args: { glob, rev: next, timeout: watchWaitMs },
            holdMs: watchWaitMs,
          });
          failures = 0;
          if (cancelled) return;
          if (answer.timeout) continue;
          const rev = Number(answer.rev);
          sink.event({
            path: String(answer.path),
            rev,
            op: answer.op === "del" ? "del" : "set",
            value: decodeAnswerValue(answer),
            ...sessionField(answer),
          });
          next = rev + 1;
        } catch (error) {
          if (cancelled) return;
          if (isRetryable(error)) {
            await sleep(backoffDelay(failures++, defaultBackoff)).catch(() => undefined);
            continue;
          }
          sink.end(error as Error);
          return;
        }
      }
    };
    void run().finally(() => this.sinks.delete(sink));
    return {
      cancel: () => {
        cancelled = true;
      },
    };
  }

  close(): void {
    this.closed = true;
    this.aborter.abort(new ConnectionError("the client was closed"));
    // Watches finish, as the client asked; sessions are no longer kept alive.
    for (const sink of this.sinks) sink.end(undefined);
    this.sinks.clear();
    const error = new ConnectionError("the client was closed");
    for (const lease of [...this.leases]) lease.lose(error);
  }

  private async json(
    method: string,
    route: string,
    args: CallArgs,
    /** A string is JSON; bytes go as they are. */
    body?: string | Uint8Array,
    requestId?: string,
    signal?: AbortSignal,
  ): Promise<Answer> {
    const response = await this.request(method, route, args, body, requestId, signal);
    return readJson(response, `${method} ${route}`);
  }

  private async request(
    method: string,
    route: string,
    args: CallArgs,
    /** A string is JSON; bytes go as they are. */
    body?: string | Uint8Array,
    requestId?: string,
    /** Aborts this request alone (a keepalive that outlived its use); close() aborts every one. */
    signal?: AbortSignal,
  ): Promise<Response> {
    if (this.closed) throw new ConnectionError("the client is closed");
    const url = new URL(`${this.base}${route}`);
    for (const name of ["glob", "rev", "offset", "limit", "timeout", "stale", "encoding", "ttl", "session"]) {
      const value = args[name];
      if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") {
        url.searchParams.set(name, String(value));
      }
    }
    const headers = new Headers();
    if (typeof body === "string") headers.set("Content-Type", "application/json");
    if (this.options.token !== undefined) headers.set("Authorization", `Bearer ${this.options.token}`);
    if (requestId) headers.set("Doozer-Request-Id", requestId);
    const payload =
      typeof body === "string"
        ? new TextEncoder().encode(body)
        : body instanceof Uint8Array
          ? body
          : undefined;
    let response: Response;
    try {
      response = await this.fetch(
        new Request(url, {
          method,
          headers,
          body: payload as BodyInit | undefined,
          signal: signal ? AbortSignal.any([this.aborter.signal, signal]) : this.aborter.signal,
        }),
      );
    } catch (error) {
      // fetch says "fetch failed" and keeps the reason (ECONNREFUSED, say) in `cause`.
      const cause = (error as Error & { cause?: { message?: string } }).cause?.message;
      throw new ConnectionError(
        `${method} ${url.origin}${route}: ${(error as Error).message}${cause ? ` (${cause})` : ""}`,
      );
    }
    if (response.ok) return response;
    let error: Record<string, unknown> = { code: "OTHER", message: `HTTP ${response.status}` };
    try {
      error = ((await response.json()) as { error: Record<string, unknown> }).error ?? error;
    } catch {
      // A body cut off, or not a doozer-edge error body (a proxy's page, say): keep the status.
    }
    throw errorFromAnswer(error);
  }
}

/**
 * The store path as it goes into a URL. Checked here, because a URL folds `.`
 * and `..` away and would turn a bad path into another, valid one.
 */
function path(args: CallArgs): string {
  const p = args.path;
  if (typeof p !== "string") throw new BadPathError("a path is required");
  try {
    validatePath(p);
  } catch (error) {
    throw new BadPathError((error as Error).message);
  }
  return p === "/" ? "/" : p;
}

/** `/v1/sessions/<id>`; the id is checked here as SPEC §6 shapes it, since it goes into the URL. */
function sessionRoute(args: CallArgs): string {
  const id = args.session;
  if (typeof id !== "string" || !/^[A-Za-z0-9_-]{1,64}$/.test(id)) {
    throw new BadRequestError(`not a session id: ${JSON.stringify(id)}`);
  }
  return `/v1/sessions/${id}`;
}

/**
 * The whole body. A body cut off in the middle (undici's `TypeError: terminated`, a reset, an
 * abort) is a lost connection, so ConnectionError: retryable, like a request that got no answer.
 */
async function readBytes(response: Response, what: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await response.arrayBuffer());
  } catch (error) {
    if (error instanceof DoozerError) throw error; // close()'s reason: already a ConnectionError.
    const cause = (error as Error & { cause?: { message?: string } }).cause?.message;
    throw new ConnectionError(
      `${what}: the answer was cut off: ${(error as Error)?.message ?? String(error)}${cause ? ` (${cause})` : ""}`,
    );
  }
}

/** The body as JSON: read whole as readBytes does, then parsed (a body that is not JSON is OTHER). */
async function readJson(response: Response, what: string): Promise<Answer> {
  const text = new TextDecoder().decode(await readBytes(response, what));
  try {
    return JSON.parse(text) as Answer;
  } catch {
    throw new OtherError(`${what}: the answer is not JSON (HTTP ${response.status}): ${text.slice(0, 100)}`);
  }
}

/** Rejects with the signal's reason when it aborts. */
function rejectOnAbort(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) =>
    signal.addEventListener("abort", () => reject(signal.reason), { once: true }),
  );
}
