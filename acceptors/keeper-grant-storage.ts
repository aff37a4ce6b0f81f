// Where an acceptor keeps its grants of the session keeper's role across
// restarts (core/keeper-lease.ts, KeeperGrants): the last grantee, and the
// heard mark of each session, as the grantor's clamped time when it was set,
// with that clock's last stored reading so that a restart can tell each
// mark's age (the time the object was down counts as none: marks look newer,
// and a session may end late, never early).

import type { StoredGrants } from "../core/keeper-lease";
import type { SqliteStorage } from "./sqlite-storage";

export class KeeperGrantStorage {
  constructor(
    private readonly sql: SqlStorage,
    private readonly storage: SqliteStorage,
  ) {
    sql.exec(`CREATE TABLE IF NOT EXISTS keeper_heard (session TEXT PRIMARY KEY, at_ms REAL NOT NULL)`);
  }

  load(): StoredGrants {
    const lastGrantee = this.storage.getMeta("keeper-grantee");
    const clock = Number(this.storage.getMeta("keeper-clock") ?? 0);
    const heard = this.sql
      .exec<{ session: string; at_ms: number }>(`SELECT session, at_ms FROM keeper_heard`)
      .toArray()
      .map((row): [string, number] => [row.session, Math.max(clock - row.at_ms, 0)]);
    return { ...(lastGrantee === undefined ? {} : { lastGrantee }), heard };
  }

  /** A grant to `candidate` that marked `heard` at the grantor's time `clockMs`. */
  granted(candidate: string, heard: readonly string[], clockMs: number): void {
    this.storage.atomically(() => {
      if (this.storage.getMeta("keeper-grantee") !== candidate)
        this.storage.setMeta("keeper-grantee", candidate);
      if (heard.length === 0) return;
      for (const session of heard) {
        this.sql.exec(
          `INSERT INTO keeper_heard (session, at_ms) VALUES (?, ?)
           ON CONFLICT (session) DO UPDATE SET at_ms = excluded.at_ms`,
          session,
          clockMs,
        );
      }
      this.storage.setMeta("keeper-clock", String(clockMs));
    });
  }

  forget(sessions: readonly string[]): void {
    if (sessions.length === 0) return;
    this.storage.atomically(() => {
      for (const session of sessions) this.sql.exec(`DELETE FROM keeper_heard WHERE session = ?`, session);
    });
  }
}
