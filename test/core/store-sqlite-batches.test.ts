// The SQLite backend reads a batch's mutation ids at once and keeps what it
// read or wrote in memory (the newest version of each path, the queue of
// versions written, the floors of its windows). Random batches over both
// backends must answer alike, retries within a batch and ids forgotten past
// a small dedup window included, and a backend opened anew on the same
// database must go on alike.

import { DatabaseSync } from "node:sqlite";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SqliteStoreBackend } from "../../acceptors/sqlite-store-backend";
import type { Mutation } from "../../core/mutation";
import { Store } from "../../core/store";
import { nodeSql } from "./node-sql";

const value = (n: number) => new Uint8Array([n % 256]);

const mutation = fc.oneof(
  fc.record({
    op: fc.constant("set" as const),
    id: fc.constantFrom("", "a", "b", "c", "d", "e"),
    path: fc.constantFrom("/x", "/d/y", "/d/z", "/d/e/f"),
    rev: fc.constantFrom(-1, 0),
    value: fc.nat(255).map(value),
  }),
  fc.record({
    op: fc.constant("del" as const),
    id: fc.constantFrom("", "a", "f", "g"),
    path: fc.constantFrom("/x", "/d/y", "/d/z", "/d/e/f"),
    rev: fc.constant(-1),
  }),
);

describe("SqliteStoreBackend: batches, against the memory backend", () => {
  it("answers every batch alike, and alike again after a reopen", () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(mutation, { maxLength: 6 }), { maxLength: 40 }),
        fc.nat(40),
        (batches, reopenAt) => {
          const options = { historyRevs: 3, dedupMax: 2 };
          const memory = new Store(options);
          const db = new DatabaseSync(":memory:");
          let sqlite = new Store({ ...options, backend: new SqliteStoreBackend(nodeSql(db), 64) });
          for (const [i, batch] of batches.entries()) {
            if (i === reopenAt)
              sqlite = new Store({ ...options, backend: new SqliteStoreBackend(nodeSql(db), 64) });
            const expected = memory.apply(batch as Mutation[]);
            expect(sqlite.apply(batch as Mutation[])).toEqual(expected);
            expect(sqlite.rev).toBe(memory.rev);
          }
          for (const path of ["/x", "/d/y", "/d/z", "/d/e/f"]) {
            const read = (store: Store) => {
              try {
                const { rev, value } = store.get(path);
                return { rev, value: [...value] };
              } catch (error) {
                return (error as { code?: string }).code;
              }
            };
            expect(read(sqlite)).toEqual(read(memory));
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
