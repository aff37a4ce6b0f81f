// Client WebSockets (SPEC §3), held by an acceptor Durable Object with the
// Hibernation API. Requests on a socket run through the same Operations as the
// HTTP API; a WATCH is served from this replica, which pushes each event to
// its watchers as soon as it applies the slot that made it.
//
// What outlives hibernation and eviction: each socket's attachment (its id and
// access) and a SQLite row per watch (its glob and first rev). Events are sent
// in the same turn as the apply that made them, so whenever the object is idle
// every watch has had every event up to the store rev; after a wake-up the
// replica replays its log to that same rev and each watch goes on from the
// next one. An eviction that closes the sockets drops their watches; the
// client reconnects and resumes at its last seen rev + 1.

import * as args from "../core/args";
import { DoozerError } from "../core/errors";
import { type FrameId, isFrameId, isVerb, type RequestFrame } from "../core/frames";
import { compileGlob, type Glob } from "../core/glob";
import { toErrorValue } from "../core/reads";
import type { Store, StoreEvent } from "../core/store";
import { decodeValue, encodeValue } from "../core/value-encoding";
import { type Access, accessFor } from "../worker/auth";
import type { Env } from "../worker/env";
import { mutationId, requiredGlob } from "../worker/operations";
import { catchUpMs } from "../worker/reads";
import type { Runtime } from "../worker/runtime";
import type { Fault } from "./fault";

/** Per socket; more is TOO_LARGE. */
export const socketWatchesMax = 1000;
export const socketInflightMax = 1000;

interface Attachment {
  socket: string;
  access: Access | "none";
}

interface LiveWatch {
  ws: WebSocket;
  socket: string;
  id: FrameId;
  glob: Glob;
  nextRev: number;
  base64: boolean;
}

/** What the sockets need from the Durable Object that holds them. */
export interface SocketHost {
  readonly ctx: DurableObjectState;
  readonly env: Env;
  store(): Store;
  runtime(): Runtime;
  fault(): Fault;
  /** Waits (up to `waitMs`) until the replica has applied `slot`, fetching the gap from peers meanwhile. */
  reachSlot(slot: number, waitMs: number): Promise<boolean>;
  /** A watch started: the host follows its peers from now on, so that no event waits for the next write. */
  watchStarted(): void;
}

export class ClientSockets {
  /** Watches by socket id, then by the WATCH frame's id. */
  private readonly watches = new Map<string, Map<string, LiveWatch>>();
  private readonly inflight = new Map<string, number>();

  constructor(private readonly host: SocketHost) {
    host.ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS watches (
      socket TEXT NOT NULL, watch TEXT NOT NULL, glob TEXT NOT NULL, from_rev INTEGER NOT NULL, base64 INTEGER NOT NULL,
      PRIMARY KEY (socket, watch))`);
  }

  /** Whether any watch is running here (the object then keeps following its peers). */
  get watching(): boolean {
    for (const perSocket of this.watches.values()) if (perSocket.size > 0) return true;
    return false;
  }

  /** Takes back the watches of the sockets that survived hibernation; forgets those of closed ones. */
  restore(): void {
    const rows = this.host.ctx.storage.sql
      .exec<{ socket: string; watch: string; glob: string; from_rev: number; base64: number }>(
        `SELECT socket, watch, glob, from_rev, base64 FROM watches`,
      )
      .toArray();
    const next = this.host.store().rev + 1;
    for (const row of rows) {
      const ws = this.host.ctx.getWebSockets(row.socket)[0];
      if (!ws) {
        this.forgetSocket(row.socket);
        continue;
      }
      this.add({
        ws,
        socket: row.socket,
        id: JSON.parse(row.watch) as FrameId,
        glob: compileGlob(row.glob),
        nextRev: Math.max(row.from_rev, next),
        base64: row.base64 === 1,
      });
    }
  }

  /** The upgrade the Worker forwarded, with the access its token gave. */
  accept(request: Request): Response {
    const access = request.headers.get("Doozer-Access") as Attachment["access"] | null;
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    const socket = crypto.randomUUID();
    this.host.ctx.acceptWebSocket(server, [socket]);
    server.serializeAttachment({ socket, access: access ?? "none" } satisfies Attachment);
    return new Response(null, { status: 101, webSocket: client });
  }

  async message(ws: WebSocket, data: string | ArrayBuffer): Promise<void> {
    if (typeof data !== "string") {
      return send(ws, {
        id: null,
        error: { code: "BAD_REQUEST", message: "frames are JSON text; binary frames are refused" },
      });
    }
    let frame: RequestFrame;
    try {
      frame = JSON.parse(data) as RequestFrame;
    } catch {
      return send(ws, { id: null, error: { code: "BAD_REQUEST", message: "the frame is not JSON" } });
    }
    if (typeof frame !== "object" || frame === null || Array.isArray(frame) || !isFrameId(frame.id)) {
      return send(ws, {
        id: null,
        error: {
          code: "BAD_REQUEST",
          message: 'a frame is a JSON object with an "id" (a number or a string)',
        },
      });
    }
    const { socket } = attachment(ws);
    const inflight = this.inflight.get(socket) ?? 0;
    if (inflight >= socketInflightMax) {
      return send(ws, {
        id: frame.id,
        error: {
          code: "TOO_LARGE",
          message: `at most ${socketInflightMax} requests may be in flight on one socket`,
        },
      });
    }
    this.inflight.set(socket, inflight + 1);
    try {
      const answer = await this.handle(ws, frame);
      if (answer) send(ws, { id: frame.id, ...answer });
    } catch (error) {
      send(ws, { id: frame.id, error: toErrorValue(error) });
    } finally {
      this.inflight.set(socket, (this.inflight.get(socket) ?? 1) - 1);
    }
  }

  closed(ws: WebSocket): void {
    const { socket } = attachment(ws);
    this.forgetSocket(socket);
    this.inflight.delete(socket);
  }

  /** Closes every socket: this acceptor is going down (fault switch). */
  closeAll(reason: string): void {
    for (const ws of this.host.ctx.getWebSockets()) {
      this.closed(ws);
      ws.close(1012, reason);
    }
  }

  /** Sends each watcher the events the store applied since the last call. */
  deliver(events: readonly StoreEvent[]): void {
    if (this.watches.size === 0) return;
    const next = this.host.store().rev + 1;
    for (const perSocket of this.watches.values()) {
      for (const watch of perSocket.values()) {
        for (const event of events) this.offer(watch, event);
        watch.nextRev = Math.max(watch.nextRev, next);
      }
    }
  }

  private async handle(ws: WebSocket, frame: RequestFrame): Promise<Record<string, unknown> | undefined> {
    const { verb } = frame;
    if (!isVerb(verb)) throw new DoozerError("UNKNOWN_VERB", `unknown verb ${JSON.stringify(verb)}`);
    const fault = this.host.fault();
    if (fault.mode === "slow") await new Promise((r) => setTimeout(r, fault.delayMs));
    if (verb === "ACCESS") {
      const access = await accessFor(
        typeof frame.token === "string" ? frame.token : undefined,
        this.host.env,
      );
      ws.serializeAttachment({ ...attachment(ws), access } satisfies Attachment);
      return {};
    }
    requireAccess(attachment(ws).access, verb);
    const ops = this.host.runtime().operations;
    const life = this.host.ctx;
    const base64 = args.encoding(frame.encoding) === "base64";
    switch (verb) {
      case "REV":
        return ops.rev(frame, life);
      case "GET": {
        const { path, rev, value, storeRev } = await ops.get(frame, life);
        return { path, rev, ...encodeValue(value, base64), storeRev };
      }
      case "SET":
        return ops.set(frame, frameValue(frame), mutationId(frame.requestId), life);
      case "DEL":
        return ops.del(frame, mutationId(frame.requestId), life);
      case "NOP":
        return ops.nop(mutationId(frame.requestId), life);
      case "GETDIR":
        return ops.getdir(frame, life);
      case "STAT":
        return ops.stat(frame, life);
      case "WALK": {
        const { rev, files } = await ops.walk(frame, life);
        return {
          rev,
          files: files.map((f) => ({ path: f.path, rev: f.rev, ...encodeValue(f.value, base64) })),
        };
      }
      case "WAIT": {
        const event = await ops.wait(frame, life);
        return event ? eventBody(event, base64) : { timeout: true };
      }
      case "WATCH":
        await this.watch(ws, frame, base64);
        return undefined;
      case "CANCEL": {
        if (!isFrameId(frame.watch))
          throw new DoozerError("MISSING_ARG", "watch is required: the id of the WATCH to end");
        this.remove(attachment(ws).socket, frame.watch);
        return {};
      }
    }
  }

  private async watch(ws: WebSocket, frame: RequestFrame, base64: boolean): Promise<void> {
    const glob = compileGlob(requiredGlob(frame.glob));
    const { socket } = attachment(ws);
    const perSocket = this.watches.get(socket);
    if (perSocket?.has(key(frame.id)))
      throw new DoozerError("BAD_REQUEST", `a watch with id ${frame.id} is running`);
    if ((perSocket?.size ?? 0) >= socketWatchesMax) {
      throw new DoozerError("TOO_LARGE", `at most ${socketWatchesMax} watches may run on one socket`);
    }
    const explicit = frame.rev === undefined || frame.rev === null ? undefined : args.waitRev(frame.rev);
    // Bring this replica up to the linearizable point: a watch with no rev starts after it,
    // and a replica that missed commits must not sit on events it has not learnt.
    const runtime = this.host.runtime();
    const caughtUp = runtime.reader.barrier().then((b) => this.host.reachSlot(b.slot, catchUpMs));
    let from: number;
    if (explicit !== undefined) {
      from = explicit;
      caughtUp.catch(() => undefined);
    } else {
      const reached = await caughtUp;
      from = reached ? this.host.store().rev + 1 : (await runtime.operations.rev({}, this.host.ctx)).rev + 1;
    }
    const store = this.host.store();
    if (from < store.oldestRev) {
      throw new DoozerError(
        "TOO_LATE",
        `rev ${from} is older than the history window, which starts at ${store.oldestRev}`,
      );
    }
    const watch: LiveWatch = { ws, socket, id: frame.id, glob, nextRev: from, base64 };
    this.add(watch);
    this.host.ctx.storage.sql.exec(
      `INSERT OR REPLACE INTO watches (socket, watch, glob, from_rev, base64) VALUES (?, ?, ?, ?, ?)`,
      socket,
      key(frame.id),
      glob.source,
      from,
      base64 ? 1 : 0,
    );
    send(ws, { id: frame.id, watching: true });
    this.host.watchStarted();
    for (const event of store.eventsFrom(Math.min(from, store.rev + 1))) this.offer(watch, event);
    watch.nextRev = Math.max(watch.nextRev, store.rev + 1);
  }

  private offer(watch: LiveWatch, event: StoreEvent): void {
    if (event.rev < watch.nextRev || !watch.glob.matches(event.path)) return;
    watch.nextRev = event.rev + 1;
    send(watch.ws, { id: watch.id, event: eventBody(event, watch.base64) });
  }

  private add(watch: LiveWatch): void {
    let perSocket = this.watches.get(watch.socket);
    if (!perSocket) {
      perSocket = new Map();
      this.watches.set(watch.socket, perSocket);
    }
    perSocket.set(key(watch.id), watch);
  }

  private remove(socket: string, id: FrameId): void {
    this.watches.get(socket)?.delete(key(id));
    this.host.ctx.storage.sql.exec(`DELETE FROM watches WHERE socket = ? AND watch = ?`, socket, key(id));
  }

  private forgetSocket(socket: string): void {
    this.watches.delete(socket);
    this.host.ctx.storage.sql.exec(`DELETE FROM watches WHERE socket = ?`, socket);
  }
}

const writeVerbs = new Set(["SET", "DEL", "NOP"]);

function requireAccess(access: Attachment["access"], verb: string): void {
  if (access === "none") throw new DoozerError("UNAUTHORIZED", "send ACCESS with a token first");
  if (access === "read-only" && writeVerbs.has(verb))
    throw new DoozerError("READONLY", "this token may only read");
}

function frameValue(frame: RequestFrame): Uint8Array {
  if (typeof frame.value !== "string") throw new DoozerError("MISSING_ARG", "value is required (a string)");
  const encoding = args.encoding(frame.encoding);
  try {
    return decodeValue(frame.value, encoding);
  } catch {
    throw new DoozerError("BAD_REQUEST", "value is not valid base64");
  }
}

function eventBody(event: StoreEvent, base64: boolean): Record<string, unknown> {
  return { path: event.path, rev: event.rev, ...encodeValue(event.value, base64), op: event.op };
}

function attachment(ws: WebSocket): Attachment {
  return ws.deserializeAttachment() as Attachment;
}

/** Frame ids are numbers or strings; as map keys they keep their type apart (7 is not "7"). */
function key(id: FrameId): string {
  return JSON.stringify(id);
}

function send(ws: WebSocket, frame: unknown): void {
  try {
    ws.send(JSON.stringify(frame));
  } catch {
    // The socket closed meanwhile: its close handler forgets it.
  }
}
