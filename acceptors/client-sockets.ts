// Client WebSockets (SPEC §3), held by an acceptor Durable Object with the
// Hibernation API. This file is socket plumbing: a frame's verb runs through
// the same server/verbs.ts as the HTTP API; a WATCH is served from this
// replica, which pushes each event to its watchers in the turns after it
// applies the slot that made it (./watch-delivery.ts), not in the apply's own.
//
// What outlives hibernation and eviction: each socket's attachment (its id and
// access) and a SQLite row per watch (its glob and first rev). The object does
// not hibernate while a delivery turn is pending, so whenever it is idle every
// watch has had every event up to the store rev; after a wake-up the store is
// at that same rev and each watch goes on from the next one. An eviction that
// closes the sockets drops their watches; the client reconnects and resumes at
// its last seen rev + 1.

import * as args from "../core/args";
import { CodedError } from "../core/errors";
import { type FrameId, isFrameId, isVerb, type RequestFrame } from "../core/frames";
import { compileGlob } from "../core/glob";
import {
  catchUpMs,
  socketInflightMax,
  socketSessionsMax,
  socketWatchesMax,
  watchDeliveryChunk,
} from "../core/limits";
import { toErrorValue } from "../core/reads";
import type { Store } from "../core/store";
import { type Access, accessFor, type Secrets } from "../server/auth";
import type { Fault } from "../server/fault-setting";
import type { Runtime } from "../server/runtime";
import { requiredGlob, writeVerbs } from "../server/verbs";
import { SocketSessions } from "./socket-sessions";
import { type LiveWatch, WatchDelivery } from "./watch-delivery";

interface Attachment {
  socket: string;
  access: Access | "none";
}

/** What the sockets need from the Durable Object that holds them. */
export interface SocketHost {
  readonly ctx: DurableObjectState;
  readonly secrets: Secrets;
  store(): Store;
  runtime(): Runtime;
  fault(): Fault;
  /** Waits (up to `waitMs`) until the replica has applied `slot`, fetching the gap from peers meanwhile. */
  reachSlot(slot: number, waitMs: number): Promise<boolean>;
  /** A watch started: the host follows its peers from now on, so that no event waits for the next write. */
  watchStarted(): void;
}

export class ClientSockets {
  /** The running watches and the turns that send them their events. */
  readonly delivery: WatchDelivery;
  private readonly inflight = new Map<string, number>();

  private readonly sessions: SocketSessions;

  constructor(private readonly host: SocketHost) {
    this.sessions = new SocketSessions(
      host.ctx.storage.sql,
      (ids) => host.runtime().keepalive(ids),
      (work) => host.ctx.waitUntil(work),
    );
    host.ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS watches (
      socket TEXT NOT NULL, watch TEXT NOT NULL, glob TEXT NOT NULL, from_rev INTEGER NOT NULL, base64 INTEGER NOT NULL,
      PRIMARY KEY (socket, watch))`);
    this.delivery = new WatchDelivery(
      {
        store: () => host.store(),
        // A timer, not a microtask: the turn that applied the slot ends, and its answers leave, first.
        later: (work) => void setTimeout(work, 0),
        tooLate: (watch, oldestRev) => this.tooLate(watch, oldestRev),
      },
      watchDeliveryChunk,
    );
  }

  /** Whether any watch is running here (the object then keeps following its peers). */
  get watching(): boolean {
    return this.delivery.watching;
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
      this.delivery.add({
        ws,
        socket: row.socket,
        id: JSON.parse(row.watch) as FrameId,
        idJson: row.watch,
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
    // The heartbeat (SPEC §3): exactly these four bytes, not JSON, answered on any socket, before ACCESS too.
    if (data === "ping") {
      this.heard(ws);
      return ws.send("pong");
    }
    this.heard(ws);
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
    this.sessions.forgetSocket(socket);
    this.inflight.delete(socket);
  }

  /** Closes every socket: this acceptor is going down (fault switch). */
  closeAll(reason: string): void {
    for (const ws of this.host.ctx.getWebSockets()) {
      this.closed(ws);
      ws.close(1012, reason);
    }
  }

  /** The replica applied slots: their events go to the watchers in the turns after this one. */
  applied(): void {
    this.delivery.applied();
  }

  private tooLate(watch: LiveWatch, oldestRev: number): void {
    send(watch.ws, {
      id: watch.id,
      error: {
        code: "TOO_LATE",
        message: `the watch needed rev ${watch.nextRev}, which has left the history window (oldest rev ${oldestRev}); start again from a read`,
      },
    });
    this.remove(watch.socket, watch.id);
  }

  private async handle(ws: WebSocket, frame: RequestFrame): Promise<Record<string, unknown> | undefined> {
    const { verb } = frame;
    if (!isVerb(verb)) throw new CodedError("UNKNOWN_VERB", `unknown verb ${JSON.stringify(verb)}`);
    const fault = this.host.fault();
    if (fault.mode === "slow") await new Promise((r) => setTimeout(r, fault.delayMs));
    if (verb === "ACCESS") {
      const access = await accessFor(
        typeof frame.token === "string" ? frame.token : undefined,
        this.host.secrets,
      );
      ws.serializeAttachment({ ...attachment(ws), access } satisfies Attachment);
      return {};
    }
    requireAccess(attachment(ws).access, verb);
    const base64 = args.encoding(frame.encoding) === "base64";
    switch (verb) {
      case "WATCH":
        await this.watch(ws, frame, base64);
        return undefined;
      case "CANCEL": {
        if (!isFrameId(frame.watch))
          throw new CodedError("MISSING_ARG", "watch is required: the id of the WATCH to end");
        this.remove(attachment(ws).socket, frame.watch);
        return {};
      }
      case "SESSION":
        return this.session(ws, frame);
      case "KEEPALIVE":
      case "ENDSESSION":
        try {
          return await this.host.runtime().verbs.run(verb, frame, this.host.ctx);
        } catch (error) {
          if (error instanceof CodedError && error.code === "NOSESSION" && typeof frame.session === "string")
            this.sessions.release(frame.session);
          throw error;
        } finally {
          if (verb === "ENDSESSION" && typeof frame.session === "string")
            this.sessions.release(frame.session);
        }
      default:
        // Where the caller is comes from the platform, never from a frame: this acceptor's reader starts at home.
        return this.host.runtime().verbs.run(verb, { ...frame, origin: undefined }, this.host.ctx);
    }
  }

  /** SESSION opens a session (with `ttl`) or attaches an open one (with `session`) to this socket. */
  private async session(ws: WebSocket, frame: RequestFrame): Promise<Record<string, unknown>> {
    const { socket } = attachment(ws);
    if (!this.sessions.hasRoom(socket))
      throw new CodedError("TOO_LARGE", `at most ${socketSessionsMax} sessions may be held by one socket`);
    const verbs = this.host.runtime().verbs;
    const attaching = frame.session !== undefined && frame.session !== null;
    const answer = attaching ? await verbs.keepAlive(frame) : await verbs.openSession(frame, this.host.ctx);
    this.sessions.hold(socket, answer.session, answer.ttl);
    return answer;
  }

  /** Any frame on a socket is a keepalive for the sessions it holds (SPEC §6). */
  private heard(ws: WebSocket): void {
    this.sessions.heard(attachment(ws).socket, Date.now());
  }

  private async watch(ws: WebSocket, frame: RequestFrame, base64: boolean): Promise<void> {
    const glob = compileGlob(requiredGlob(frame.glob));
    const { socket } = attachment(ws);
    if (this.delivery.get(socket, key(frame.id)))
      throw new CodedError("BAD_REQUEST", `a watch with id ${frame.id} is running`);
    if (this.delivery.count(socket) >= socketWatchesMax) {
      throw new CodedError("TOO_LARGE", `at most ${socketWatchesMax} watches may run on one socket`);
    }
    const explicit = frame.rev === undefined || frame.rev === null ? undefined : args.waitRev(frame.rev);
    // Bring this replica up to the linearizable point: a watch with no rev starts after it,
    // and a replica that missed commits must not sit on events it has not learnt.
    const runtime = this.host.runtime();
    const caughtUp = runtime.reader
      .barrier(this.host.ctx)
      .then((b) => this.host.reachSlot(b.slot, catchUpMs));
    let from: number;
    if (explicit !== undefined) {
      from = explicit;
      caughtUp.catch(() => undefined);
    } else {
      const reached = await caughtUp;
      from = reached ? this.host.store().rev + 1 : (await runtime.verbs.rev({}, this.host.ctx)).rev + 1;
    }
    const store = this.host.store();
    if (from < store.oldestEventRev) {
      throw new CodedError(
        "TOO_LATE",
        `rev ${from} is older than the history window, which starts at ${store.oldestEventRev}`,
      );
    }
    const watch: LiveWatch = { ws, socket, id: frame.id, idJson: key(frame.id), glob, nextRev: from, base64 };
    this.delivery.add(watch);
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
    this.delivery.backlog(watch);
  }

  private remove(socket: string, id: FrameId): void {
    this.delivery.remove(socket, key(id));
    this.host.ctx.storage.sql.exec(`DELETE FROM watches WHERE socket = ? AND watch = ?`, socket, key(id));
  }

  private forgetSocket(socket: string): void {
    this.delivery.forgetSocket(socket);
    this.host.ctx.storage.sql.exec(`DELETE FROM watches WHERE socket = ?`, socket);
  }
}

function requireAccess(access: Attachment["access"], verb: string): void {
  if (access === "none") throw new CodedError("UNAUTHORIZED", "send ACCESS with a token first");
  if (access === "read-only" && writeVerbs.has(verb))
    throw new CodedError("READONLY", "this token may only read");
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
