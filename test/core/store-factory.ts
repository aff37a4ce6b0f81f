// The store tests run once over the in-memory backend and once over the
// SQLite one (store-sqlite.test.ts), so that both keep exactly the same rules.

import { SqliteStoreBackend } from "../../acceptors/sqlite-store-backend";
import { Store, type StoreOptions } from "../../core/store";
import { nodeSql } from "./node-sql";

let backendKind: "memory" | "sqlite" = "memory";

export function useSqliteStores(): void {
  backendKind = "sqlite";
}

export function newStore(options: StoreOptions = {}): Store {
  if (backendKind === "memory") return new Store(options);
  // A small cache, so that the tests read values back from SQLite, not from memory.
  return new Store({ ...options, backend: new SqliteStoreBackend(nodeSql(), 64) });
}
