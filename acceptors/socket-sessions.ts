// The sessions each client socket holds (SPEC §6): every frame a client sends
// on a socket, `ping` included, is a keepalive for the sessions it opened or
// attached there. The acceptor that holds the socket forwards those keepalives
// to the session keeper, at most once per session every min(ttl / 4, 1 s): the
// keeper's grace covers that delay. Rows in SQLite, so that a socket woken from
// hibernation still knows its sessions.

import { keepaliveForwardMsMax, socketSessionsMax } from "../core/limits";
import type { KeepaliveAnswer } from "../server/session-keeping";

interface HeldSession {
  ttlMs: number;
  forwardedAtMs: number;
}

export class SocketSessions {
  /** Sessions by socket id. */
  private readonly held = new Map<string, Map<string, HeldSession>>();

  constructor(
    private readonly sql: SqlStorage,
    /** Sends keepalives to the keeper; rejects when it cannot be reached. */
    private readonly forward: (sessions: string[]) => Promise<KeepaliveAnswer[]>,
    private readonly waitUntil: (work: Promise<unknown>) => void,
  ) {
    sql.exec(`CREATE TABLE IF NOT EXISTS socket_sessions (
      socket TEXT NOT NULL, session TEXT NOT NULL, ttl_ms INTEGER NOT NULL, PRIMARY KEY (socket, session))`);
    for (const row of sql.exec<{ socket: string; session: string; ttl_ms: number }>(
      "SELECT socket, session, ttl_ms FROM socket_sessions",
    )) {
      this.remember(row.socket, row.session, row.ttl_ms, Number.NEGATIVE_INFINITY);
    }
  }

  /**
   * The socket holds `session` from now on: its frames keep it alive. The next
   * frame forwards at once: the keeper's lease runs from when it heard of the
   * open or the attach, which may be well before this answer arrived here.
   */
  hold(socket: string, session: string, ttlMs: number): void {
    const perSocket = this.held.get(socket);
    if (!perSocket?.has(session) && (perSocket?.size ?? 0) >= socketSessionsMax) return;
    this.remember(socket, session, ttlMs, Number.NEGATIVE_INFINITY);
    this.sql.exec(
      "INSERT OR REPLACE INTO socket_sessions (socket, session, ttl_ms) VALUES (?, ?, ?)",
      socket,
      session,
      ttlMs,
    );
  }

  /** Whether the socket may take one more session. */
  hasRoom(socket: string): boolean {
    return (this.held.get(socket)?.size ?? 0) < socketSessionsMax;
  }

  /** The session ended (or was found ended): no socket keeps it any more. */
  release(session: string): void {
    for (const perSocket of this.held.values()) perSocket.delete(session);
    this.sql.exec("DELETE FROM socket_sessions WHERE session = ?", session);
  }

  /** The socket closed: its sessions live on until their ttl runs out without a keepalive. */
  forgetSocket(socket: string): void {
    this.held.delete(socket);
    this.sql.exec("DELETE FROM socket_sessions WHERE socket = ?", socket);
  }

  /** A frame arrived on `socket`: forward a keepalive for each of its sessions that is due one. */
  heard(socket: string, nowMs: number): void {
    const perSocket = this.held.get(socket);
    if (!perSocket || perSocket.size === 0) return;
    const due: string[] = [];
    for (const [session, held] of perSocket) {
      const everyMs = Math.min(held.ttlMs / 4, keepaliveForwardMsMax);
      // A clock that went back (nowMs below the last forward) forwards at once: waiting
      // for it to catch up would leave a client that pings steadily without keepalives.
      if (nowMs - held.forwardedAtMs >= everyMs || nowMs < held.forwardedAtMs) {
        held.forwardedAtMs = nowMs;
        due.push(session);
      }
    }
    if (due.length === 0) return;
    this.waitUntil(
      this.forward(due).then(
        (answers) => {
          for (const answer of answers) if (!answer.alive) this.release(answer.session);
        },
        () => {
          // The keeper is unreachable: let the next frame try again at once.
          for (const session of due) {
            const held = perSocket.get(session);
            if (held) held.forwardedAtMs = 0;
          }
        },
      ),
    );
  }

  private remember(socket: string, session: string, ttlMs: number, forwardedAtMs: number): void {
    let perSocket = this.held.get(socket);
    if (!perSocket) {
      perSocket = new Map();
      this.held.set(socket, perSocket);
    }
    perSocket.set(session, { ttlMs, forwardedAtMs });
  }
}
