// node:sqlite behind the shape of a Durable Object's `ctx.storage.sql` and
// `transactionSync`, so that the SQLite store backend and the replica's
// SQLite storage run in the plain-Node core tests.

import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { SqlExec } from "../../acceptors/sqlite-store-backend";

export function nodeSql(
  db = new DatabaseSync(":memory:"),
): SqlExec & { exec(...args: Parameters<SqlExec["exec"]>): Iterable<Record<string, unknown>> } {
  const statements = new Map<string, StatementSync>();
  return {
    exec(query, ...bindings) {
      let statement = statements.get(query);
      if (statement === undefined) {
        statement = db.prepare(query);
        statements.set(query, statement);
      }
      // Run now, as the platform's exec does for a statement that writes; `all` also runs one that returns nothing.
      const rows = statement.all(
        ...bindings.map((value) => (value instanceof ArrayBuffer ? new Uint8Array(value) : value)),
      ) as Record<string, unknown>[];
      return { toArray: () => rows, [Symbol.iterator]: () => rows[Symbol.iterator]() };
    },
  };
}

/** A Durable Object's storage as far as acceptors/sqlite-storage.ts uses it, over one node:sqlite database. */
export function nodeDurableStorage(db = new DatabaseSync(":memory:")): DurableObjectStorage {
  const storage = {
    sql: nodeSql(db),
    transactionSync<T>(work: () => T): T {
      db.exec("BEGIN");
      try {
        const result = work();
        db.exec("COMMIT");
        return result;
      } catch (error) {
        db.exec("ROLLBACK");
        throw error;
      }
    },
  };
  return storage as unknown as DurableObjectStorage;
}
