// A fake doozer-edge WebSocket endpoint for the WebSocket transport: sockets
// that open after a tick, answer `ping` with `pong`, and answer JSON frames
// with a handler the test gives. A socket can be made silent (a half-open
// connection: it takes frames and answers nothing, and its close never
// completes), and the server can refuse new connections.

import type { SocketLike } from "../../client/websocket-transport";

export type Frame = Record<string, unknown>;
/** Answers a request frame (without its id), or undefined for no answer. */
export type Handler = (frame: Frame, socket: FakeSocket) => Frame | undefined;

export class FakeSocket implements SocketLike {
  /** Every frame the client sent, as sent. */
  readonly sent: string[] = [];
  silent = false;
  closed = false;
  private readonly listeners = new Map<string, ((event: Event) => void)[]>();

  constructor(private readonly server: FakeServer) {}

  addEventListener(type: string, listener: (event: Event) => void): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }

  send(data: string): void {
    // As the platform's: a frame sent on a closing or closed socket goes nowhere.
    if (this.closed) return;
    this.sent.push(data);
    if (!this.silent) this.server.receive(this, data);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.silent) setTimeout(() => this.emit("close"), 0);
  }

  /** Frames the client sent that were JSON, parsed. */
  frames(): Frame[] {
    return this.sent.filter((s) => s !== "ping").map((s) => JSON.parse(s) as Frame);
  }

  /** Sends the client a frame, as the server would. */
  push(frame: Frame | string): void {
    this.emit("message", typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  /** Drops the connection from the server's side. */
  drop(): void {
    this.closed = true;
    this.emit("close");
  }

  emit(type: string, data?: string): void {
    const event = type === "message" ? new MessageEvent("message", { data }) : new Event(type);
    for (const listener of this.listeners.get(type) ?? []) listener(event);
  }
}

export class FakeServer {
  readonly sockets: FakeSocket[] = [];
  /** New connections fail (they close without opening). */
  refusing = false;
  /** Open sessions and their ttl, as the server knows them. */
  readonly sessions = new Map<string, number>();
  private nextSession = 1;

  constructor(private readonly handler: Handler = () => undefined) {}

  readonly createSocket = (_url: string): SocketLike => {
    const socket = new FakeSocket(this);
    this.sockets.push(socket);
    setTimeout(() => (this.refusing ? socket.drop() : socket.emit("open")), 0);
    return socket;
  };

  get last(): FakeSocket {
    const socket = this.sockets.at(-1);
    if (!socket) throw new Error("no socket yet");
    return socket;
  }

  receive(socket: FakeSocket, data: string): void {
    if (data === "ping") {
      setTimeout(() => socket.closed || socket.silent || socket.push("pong"), 0);
      return;
    }
    const { id, ...frame } = JSON.parse(data) as Frame;
    const answer = this.handler(frame, socket) ?? this.sessionAnswer(frame);
    if (answer) setTimeout(() => socket.closed || socket.silent || socket.push({ id, ...answer }), 0);
  }

  private sessionAnswer(frame: Frame): Frame | undefined {
    const id = frame.session as string | undefined;
    const gone = { error: { code: "NOSESSION", message: `no session ${id}` } };
    switch (frame.verb) {
      case "SESSION": {
        if (id !== undefined)
          return this.sessions.has(id) ? { session: id, ttl: this.sessions.get(id) } : gone;
        const session = `S${this.nextSession++}`;
        const ttl = (frame.ttl as number | undefined) ?? 15_000;
        this.sessions.set(session, ttl);
        return { session, ttl, rev: 10 };
      }
      case "KEEPALIVE":
        return id !== undefined && this.sessions.has(id) ? { session: id, ttl: this.sessions.get(id) } : gone;
      case "ENDSESSION":
        return id !== undefined && this.sessions.delete(id) ? { session: id, rev: 11 } : gone;
      case "WATCH":
        return { watching: true };
      case "ACCESS":
        return {};
      case "REV":
        return { rev: 7 };
      default:
        return undefined;
    }
  }
}
