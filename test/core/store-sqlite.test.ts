// The store's own tests, property tests included, over the SQLite backend
// (node:sqlite standing in for the Durable Object's SQLite).

import "./use-sqlite-stores";
import "./store.test";
import "./sessions.test";
import "./txn.test";
