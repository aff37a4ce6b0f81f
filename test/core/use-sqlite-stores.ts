// Imported first by store-sqlite.test.ts: every newStore() after it uses SQLite.

import { vi } from "vitest";
import { useSqliteStores } from "./store-factory";

useSqliteStores();
// Every read is a query here: the property tests take several times as long as in memory.
vi.setConfig({ testTimeout: 120_000 });
