// The WebSocket transport (SPEC §3): many calls in flight on one socket,
// answers matched by id, watches streamed. It reconnects by itself with
// backoff and jitter; after a reconnect it sends ACCESS first (when it has a
// token), then attaches every session it holds, then every call still
// unanswered (a write carries its request id, so sending it again applies it
// once), then every watch from its next rev.
//
// Heartbeat: every interval the socket sends the text frame `ping`, which the
// server answers `pong` (SPEC §3). A socket that has heard nothing for two
// intervals is dead (a half-open TCP connection never closes by itself): it
// is dropped and a new one made. The pings are also what keeps the sessions
// the socket holds alive, so the interval shrinks to a third of the shortest
// ttl among them.
//
// Connection states: idle → connecting → authenticating → open → (lost →
// connecting …) | closed. Uses the platform's WebSocket (browsers, Workers,
// Node >= 22, Deno, Bun).

import type { FrameId } from "../core/frames";
import { bytesToBase64 } from "../core/value-encoding";
import { type BackoffOptions, backoffDelay, defaultBackoff } from "./backoff";
import { ConnectionError, DoozerError, errorFromAnswer, isRetryable, NoSessionError } from "./errors";
import { Lease, type SessionSink } from "./lease";
import { freshRequestId } from "./request-id";
import {
  type Answer,
  type Call,
  decodeAnswerValue,
  type HeldSession,
  type Subscription,
  sessionField,
  type Transport,
  type WatchSink,
  type WireEvent,
} from "./transport";

/** What the transport needs of a socket: the platform's WebSocket has it, and so can a test's fake. */
export interface SocketLike {
  send(data: string): void;
  close(code?: number, reason?: string): void;
  /** "message" events are MessageEvents. */
  addEventListener(type: "open" | "message" | "close" | "error", listener: (event: Event) => void): void;
}

export interface WebSocketTransportOptions {
  token?: string;
  backoff?: BackoffOptions;
  /** A call unanswered for this long (plus what the server may hold it) fails with ConnectionError. */
  callTimeoutMs?: number;
  /** How often a `ping` goes out, at most (default 5,000); a socket silent for two intervals is dead. */
  heartbeatIntervalMs?: number;
  /** Makes a socket; the platform's WebSocket by default. */
  createSocket?: (url: string) => SocketLike;
}

export const defaultHeartbeatIntervalMs = 5_000;

/** Failed attempts in a row to open a socket before the pending calls fail with ConnectionError. */
const connectAttemptsMax = 3;

type State = "idle" | "connecting" | "authenticating" | "open" | "lost" | "closed";

interface PendingCall {
  frame: Record<string, unknown>;
  resolve(answer: Answer): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
  sent: boolean;
  /** When it was last transmitted: a session verb's answer confirms the session from then on. */
  sentAtMs: number;
  /** ACCESS and SESSION attaches belong to one socket: lost with it, never sent on the next. */
  perSocket: boolean;
  /** Runs when a successful answer arrives, before the caller sees it. */
  answered?: (answer: Answer, sentAtMs: number) => void;
}

interface LiveWatch {
  glob: string;
  nextRev: number;
  sink: WatchSink;
}

interface SocketSession {
  lease: Lease;
  /** Whether the current socket holds it: then every answered ping confirms it. */
  attached: boolean;
}

export class WebSocketTransport implements Transport {
  private state: State = "idle";
  private socket: SocketLike | undefined;
  private nextId = 1;
  /** Failed attempts to open a socket since the last one opened. */
  private attempts = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private heartbeatTimer: ReturnType<typeof setTimeout> | undefined;
  private watchdogTimer: ReturnType<typeof setTimeout> | undefined;
  /** When the current socket last delivered anything (or was made). */
  private heardAtMs = 0;
  /** Send times of the pings on the current socket not yet answered, oldest first. */
  private pingsSentAtMs: number[] = [];
  private readonly calls = new Map<FrameId, PendingCall>();
  private readonly watches = new Map<FrameId, LiveWatch>();
  private readonly sessions = new Map<string, SocketSession>();
  private readonly backoff: BackoffOptions;
  private readonly callTimeoutMs: number;
  private readonly heartbeatIntervalMs: number;
  private readonly createSocket: (url: string) => SocketLike;

  constructor(
    private readonly url: string,
    private readonly options: WebSocketTransportOptions = {},
  ) {
    this.backoff = options.backoff ?? defaultBackoff;
    this.callTimeoutMs = options.callTimeoutMs ?? 60_000;
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? defaultHeartbeatIntervalMs;
    this.createSocket = options.createSocket ?? ((url) => new WebSocket(url));
  }

  call(call: Call): Promise<Answer> {
    const frame: Record<string, unknown> = { verb: call.verb, encoding: "base64" };
    for (const [name, value] of Object.entries(call.args)) {
      if (value === undefined) continue;
      frame[name] = value instanceof Uint8Array ? bytesToBase64(value) : value;
    }
    if (call.requestId) frame.requestId = call.requestId;
    return this.send(frame, call.holdMs ?? 0);
  }

  watch(glob: string, fromRev: number, sink: WatchSink): Subscription {
    const id = this.nextId++;
    this.watches.set(id, { glob, nextRev: fromRev, sink });
    if (this.state === "open") this.sendWatch(id);
    else this.connect();
    return {
      cancel: () => {
        if (!this.watches.delete(id)) return;
        if (this.state === "open") void this.send({ verb: "CANCEL", watch: id }, 0).catch(() => undefined);
      },
    };
  }

  async openSession(ttlMs: number | undefined, sink: SessionSink, requestId: string): Promise<HeldSession> {
    let lease: Lease | undefined;
    // The session is held from its answer on: a ping sent after it keeps it alive.
    const answer = await this.send({ verb: "SESSION", ttl: ttlMs, requestId }, 0, {
      answered: (a, sentAtMs) => {
        lease = this.hold(String(a.session), Number(a.ttl), sentAtMs, sink);
      },
    });
    const held = lease as Lease;
    const endId = freshRequestId();
    return {
      id: held.id,
      ttlMs: held.ttlMs,
      rev: Number(answer.rev),
      keepAlive: async () => {
        try {
          await this.send({ verb: "KEEPALIVE", session: held.id }, 0, {
            answered: (_, sentAtMs) => held.confirm(sentAtMs),
          });
        } catch (error) {
          if (error instanceof NoSessionError) held.lose(error);
          throw error;
        }
      },
      end: async () => {
        try {
          return Number((await this.send({ verb: "ENDSESSION", session: held.id, requestId: endId }, 0)).rev);
        } finally {
          held.stop();
        }
      },
    };
  }

  close(): void {
    this.state = "closed";
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.heartbeatTimer);
    clearTimeout(this.watchdogTimer);
    this.socket?.close(1000, "client closed");
    // Calls fail; watches simply finish, as the client asked; sessions are no longer kept alive.
    const error = new ConnectionError("the client was closed");
    this.fail(error, undefined);
    for (const session of [...this.sessions.values()]) session.lease.lose(error);
  }

  /** Ends every call with `error`, and every watch with `watchError` (undefined: they simply finish). */
  private fail(error: Error, watchError: Error | undefined): void {
    for (const call of this.calls.values()) {
      clearTimeout(call.timer);
      call.reject(error);
    }
    this.calls.clear();
    for (const watch of this.watches.values()) watch.sink.end(watchError);
    this.watches.clear();
  }

  /** Test hook and resilience aid: drops the current socket as a network failure would. */
  dropConnection(): void {
    this.socket?.close(4000, "dropped by the client");
  }

  private hold(id: string, ttlMs: number, sentAtMs: number, sink: SessionSink): Lease {
    const lease = new Lease(id, ttlMs, sentAtMs, sink, () => this.sessions.delete(id));
    this.sessions.set(id, { lease, attached: true });
    // Its ttl may want pings sooner than the beat now scheduled.
    if (this.socket) this.scheduleBeat(this.socket);
    return lease;
  }

  private send(
    body: Record<string, unknown>,
    holdMs: number,
    hooks: { answered?: PendingCall["answered"]; perSocket?: boolean } = {},
  ): Promise<Answer> {
    if (this.state === "closed") return Promise.reject(new ConnectionError("the client is closed"));
    const id = this.nextId++;
    const frame = { id, ...body };
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.calls.delete(id);
        reject(
          new ConnectionError(`no answer to ${String(body.verb)} within ${this.callTimeoutMs + holdMs} ms`),
        );
      }, this.callTimeoutMs + holdMs);
      const pending: PendingCall = {
        frame,
        resolve,
        reject,
        timer,
        sent: false,
        sentAtMs: 0,
        perSocket: hooks.perSocket ?? body.verb === "ACCESS",
        answered: hooks.answered,
      };
      this.calls.set(id, pending);
      if (this.state === "open" || (this.state === "authenticating" && body.verb === "ACCESS")) {
        this.transmit(pending);
      } else {
        this.connect();
      }
    });
  }

  private transmit(call: PendingCall): void {
    call.sent = true;
    call.sentAtMs = Date.now();
    this.socket?.send(JSON.stringify(call.frame));
  }

  private connect(): void {
    if (this.state !== "idle" && this.state !== "lost") return;
    if (this.options.createSocket === undefined && typeof WebSocket !== "function") {
      // Node 20 and older have no WebSocket: say so instead of reconnecting forever.
      const error = new DoozerError(
        "OTHER",
        "this runtime has no WebSocket (Node >= 22 has one); use the HTTP transport",
      );
      this.fail(error, error);
      for (const session of [...this.sessions.values()]) session.lease.lose(error);
      return;
    }
    this.state = "connecting";
    let socket: SocketLike;
    try {
      socket = this.createSocket(this.url);
    } catch {
      this.lose();
      return;
    }
    this.socket = socket;
    // A connection that never opens is dead too: the heartbeat counts from now.
    this.heardAtMs = Date.now();
    this.pingsSentAtMs = [];
    this.scheduleBeat(socket);
    socket.addEventListener("open", () => void this.opened(socket));
    socket.addEventListener("message", (event) => this.received(socket, (event as MessageEvent).data));
    socket.addEventListener("close", () => {
      if (this.socket === socket) this.lose();
    });
    socket.addEventListener("error", () => {
      if (this.socket === socket) socket.close();
    });
  }

  /** The heartbeat's interval: the default, or a third of the shortest ttl of a session it holds. */
  private beatIntervalMs(): number {
    let ms = this.heartbeatIntervalMs;
    for (const { lease } of this.sessions.values()) ms = Math.min(ms, lease.ttlMs / 3);
    return ms;
  }

  /** Sends a ping every interval, and keeps a watchdog at two intervals after the socket was last heard. */
  private scheduleBeat(socket: SocketLike): void {
    clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = setTimeout(() => this.beat(socket), this.beatIntervalMs());
    this.scheduleWatchdog(socket);
  }

  private scheduleWatchdog(socket: SocketLike): void {
    clearTimeout(this.watchdogTimer);
    const silenceMaxMs = 2 * this.beatIntervalMs();
    this.watchdogTimer = setTimeout(
      () => {
        if (this.socket !== socket) return;
        // Heard since this was set: look again two intervals after that.
        if (Date.now() - this.heardAtMs < silenceMaxMs) return this.scheduleWatchdog(socket);
        // Its close handshake would wait on the same silence: forget it first, then close it.
        this.socket = undefined;
        socket.close(4001, `nothing heard for ${silenceMaxMs} ms`);
        this.lose();
      },
      Math.max(0, this.heardAtMs + silenceMaxMs - Date.now()),
    );
  }

  private beat(socket: SocketLike): void {
    if (this.socket !== socket) return;
    if (this.state === "open" || this.state === "authenticating") {
      this.pingsSentAtMs.push(Date.now());
      socket.send("ping");
    }
    this.heartbeatTimer = setTimeout(() => this.beat(socket), this.beatIntervalMs());
  }

  private async opened(socket: SocketLike): Promise<void> {
    if (this.socket !== socket) return;
    this.state = "authenticating";
    this.heardAtMs = Date.now();
    if (this.options.token !== undefined) {
      try {
        await this.send({ verb: "ACCESS", token: this.options.token }, 0);
      } catch (error) {
        if (isRetryable(error)) return; // Lost while authenticating: the reconnect retries.
        // A wrong token fails every call: tell them all, and stop.
        this.fail(error as Error, error as Error);
        for (const session of [...this.sessions.values()]) session.lease.lose(error as Error);
        this.state = "lost";
        socket.close(1000, "unauthorized");
        return;
      }
    }
    if (this.socket !== socket) return;
    this.state = "open";
    this.attempts = 0;
    for (const [id, session] of this.sessions) this.attach(id, session);
    for (const call of this.calls.values()) if (!call.sent) this.transmit(call);
    for (const id of this.watches.keys()) this.sendWatch(id);
  }

  /** Attaches a session this transport held on a socket that is gone to the new one. */
  private attach(id: string, session: SocketSession): void {
    this.send({ verb: "SESSION", session: id }, 0, {
      perSocket: true,
      answered: (_, sentAtMs) => {
        session.attached = true;
        session.lease.confirm(sentAtMs);
      },
    }).catch((error: unknown) => {
      // A lost socket tries again on the next; the lease says when it is too late.
      if (error instanceof NoSessionError) session.lease.lose(error);
    });
  }

  private sendWatch(id: FrameId): void {
    const watch = this.watches.get(id);
    if (!watch) return;
    this.socket?.send(
      JSON.stringify({ id, verb: "WATCH", glob: watch.glob, rev: watch.nextRev, encoding: "base64" }),
    );
  }

  private received(socket: SocketLike, data: unknown): void {
    if (typeof data !== "string") return;
    if (socket === this.socket) {
      this.heardAtMs = Date.now();
      if (data === "pong") {
        const sentAtMs = this.pingsSentAtMs.shift();
        if (sentAtMs === undefined) return;
        for (const session of this.sessions.values()) {
          if (session.attached) session.lease.confirm(sentAtMs);
        }
        return;
      }
    }
    let frame: Record<string, unknown>;
    try {
      frame = JSON.parse(data) as Record<string, unknown>;
    } catch {
      return;
    }
    const id = frame.id as FrameId;
    const watch = this.watches.get(id);
    if (watch) {
      if (frame.event) {
        const event = frame.event as WireEvent & { encoding?: string };
        if (event.rev < watch.nextRev) return; // Sent before a resume: already delivered.
        watch.nextRev = event.rev + 1;
        watch.sink.event({
          path: event.path,
          rev: event.rev,
          op: event.op,
          value: decodeAnswerValue(event),
          ...sessionField(event),
        });
      } else if (frame.error) {
        this.watches.delete(id);
        watch.sink.end(errorFromAnswer(frame.error as Record<string, unknown>));
      }
      return;
    }
    const call = this.calls.get(id);
    if (!call) return;
    this.calls.delete(id);
    clearTimeout(call.timer);
    if (frame.error) call.reject(errorFromAnswer(frame.error as Record<string, unknown>));
    else {
      const { id: _id, ...answer } = frame;
      call.answered?.(answer, call.sentAtMs);
      call.resolve(answer);
    }
  }

  /** The socket is gone: unanswered calls wait for the next socket, which comes after a backoff. */
  private lose(): void {
    if (this.state === "closed") return;
    this.state = "lost";
    this.socket = undefined;
    clearTimeout(this.heartbeatTimer);
    clearTimeout(this.watchdogTimer);
    for (const session of this.sessions.values()) session.attached = false;
    for (const call of this.calls.values()) call.sent = false;
    // ACCESS and attaches belong to the socket that was lost; a new one sends its own.
    for (const [id, call] of this.calls) {
      if (call.perSocket) {
        clearTimeout(call.timer);
        this.calls.delete(id);
        call.reject(new ConnectionError("the connection was lost before the answer"));
      }
    }
    const keepTrying = () => this.watches.size > 0 || this.sessions.size > 0;
    if (this.calls.size === 0 && !keepTrying()) {
      this.state = "idle";
      return;
    }
    if (this.attempts + 1 >= connectAttemptsMax) {
      // The address does not answer at all: fail the calls now rather than at their timeouts.
      // Watches and sessions keep trying; the client's retry policy decides whether the calls go again.
      const error = new ConnectionError(
        `${this.url} did not accept a connection in ${connectAttemptsMax} attempts`,
      );
      for (const call of this.calls.values()) {
        clearTimeout(call.timer);
        call.reject(error);
      }
      this.calls.clear();
      this.attempts = 0;
      if (!keepTrying()) {
        this.state = "idle";
        return;
      }
    }
    const delay = backoffDelay(this.attempts++, this.backoff);
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }
}
