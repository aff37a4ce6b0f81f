// The WebSocket transport (SPEC §3): many calls in flight on one socket,
// answers matched by id, watches streamed. It reconnects by itself with
// backoff and jitter; after a reconnect it sends ACCESS first (when it has a
// token), then every call still unanswered (a write carries its request id, so
// sending it again applies it once), then every watch from its next rev.
//
// Connection states: idle → connecting → authenticating → open → (lost →
// connecting …) | closed. Uses the platform's WebSocket (browsers, Workers,
// Node >= 22, Deno, Bun).

import type { FrameId } from "../core/frames";
import { bytesToBase64 } from "../core/value-encoding";
import { type BackoffOptions, backoffDelay, defaultBackoff } from "./backoff";
import { ConnectionError, DoozerError, errorFromAnswer } from "./errors";
import {
  type Answer,
  type Call,
  decodeAnswerValue,
  type Subscription,
  type Transport,
  type WatchSink,
  type WireEvent,
} from "./transport";

export interface WebSocketTransportOptions {
  token?: string;
  backoff?: BackoffOptions;
  /** A call unanswered for this long (plus what the server may hold it) fails with ConnectionError. */
  callTimeoutMs?: number;
}

/** Failed attempts in a row to open a socket before the pending calls fail with ConnectionError. */
const connectAttemptsMax = 3;

type State = "idle" | "connecting" | "authenticating" | "open" | "lost" | "closed";

interface PendingCall {
  frame: Record<string, unknown>;
  resolve(answer: Answer): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
  sent: boolean;
}

interface LiveWatch {
  glob: string;
  nextRev: number;
  sink: WatchSink;
}

export class WebSocketTransport implements Transport {
  private state: State = "idle";
  private socket: WebSocket | undefined;
  private nextId = 1;
  /** Failed attempts to open a socket since the last one opened. */
  private attempts = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly calls = new Map<FrameId, PendingCall>();
  private readonly watches = new Map<FrameId, LiveWatch>();
  private readonly backoff: BackoffOptions;
  private readonly callTimeoutMs: number;

  constructor(
    private readonly url: string,
    private readonly options: WebSocketTransportOptions = {},
  ) {
    this.backoff = options.backoff ?? defaultBackoff;
    this.callTimeoutMs = options.callTimeoutMs ?? 60_000;
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

  close(): void {
    this.state = "closed";
    clearTimeout(this.reconnectTimer);
    this.socket?.close(1000, "client closed");
    // Calls fail; watches simply finish, as the client asked.
    this.fail(new ConnectionError("the client was closed"), undefined);
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

  private send(body: Record<string, unknown>, holdMs: number): Promise<Answer> {
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
      const pending: PendingCall = { frame, resolve, reject, timer, sent: false };
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
    this.socket?.send(JSON.stringify(call.frame));
  }

  private connect(): void {
    if (this.state !== "idle" && this.state !== "lost") return;
    if (typeof WebSocket !== "function") {
      // Node 20 and older have no WebSocket: say so instead of reconnecting forever.
      const error = new DoozerError(
        "OTHER",
        "this runtime has no WebSocket (Node >= 22 has one); use the HTTP transport",
      );
      this.fail(error, error);
      return;
    }
    this.state = "connecting";
    let socket: WebSocket;
    try {
      socket = new WebSocket(this.url);
    } catch {
      this.lose();
      return;
    }
    this.socket = socket;
    socket.addEventListener("open", () => void this.opened(socket));
    socket.addEventListener("message", (event) => this.received(event.data));
    socket.addEventListener("close", () => {
      if (this.socket === socket) this.lose();
    });
    socket.addEventListener("error", () => {
      if (this.socket === socket) socket.close();
    });
  }

  private async opened(socket: WebSocket): Promise<void> {
    if (this.socket !== socket) return;
    this.state = "authenticating";
    if (this.options.token !== undefined) {
      try {
        await this.send({ verb: "ACCESS", token: this.options.token }, 0);
      } catch (error) {
        if (error instanceof ConnectionError) return; // Lost while authenticating: the reconnect retries.
        // A wrong token fails every call: tell them all, and stop.
        this.fail(error as Error, error as Error);
        this.state = "lost";
        socket.close(1000, "unauthorized");
        return;
      }
    }
    if (this.socket !== socket) return;
    this.state = "open";
    this.attempts = 0;
    for (const call of this.calls.values()) this.transmit(call);
    for (const id of this.watches.keys()) this.sendWatch(id);
  }

  private sendWatch(id: FrameId): void {
    const watch = this.watches.get(id);
    if (!watch) return;
    this.socket?.send(
      JSON.stringify({ id, verb: "WATCH", glob: watch.glob, rev: watch.nextRev, encoding: "base64" }),
    );
  }

  private received(data: unknown): void {
    if (typeof data !== "string") return;
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
        watch.sink.event({ path: event.path, rev: event.rev, op: event.op, value: decodeAnswerValue(event) });
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
      call.resolve(answer);
    }
  }

  /** The socket is gone: unanswered calls wait for the next socket, which comes after a backoff. */
  private lose(): void {
    if (this.state === "closed") return;
    this.state = "lost";
    this.socket = undefined;
    for (const call of this.calls.values()) call.sent = false;
    // ACCESS belongs to the socket that was lost; a new one sends its own.
    for (const [id, call] of this.calls) {
      if (call.frame.verb === "ACCESS") {
        clearTimeout(call.timer);
        this.calls.delete(id);
        call.reject(new ConnectionError("the connection was lost while authenticating"));
      }
    }
    if (this.calls.size === 0 && this.watches.size === 0) {
      this.state = "idle";
      return;
    }
    if (this.attempts + 1 >= connectAttemptsMax) {
      // The address does not answer at all: fail the calls now rather than at their timeouts.
      // Watches keep trying; the client's retry policy decides whether the calls go again.
      const error = new ConnectionError(
        `${this.url} did not accept a connection in ${connectAttemptsMax} attempts`,
      );
      for (const call of this.calls.values()) {
        clearTimeout(call.timer);
        call.reject(error);
      }
      this.calls.clear();
      this.attempts = 0;
      if (this.watches.size === 0) {
        this.state = "idle";
        return;
      }
    }
    const delay = backoffDelay(this.attempts++, this.backoff);
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }
}
