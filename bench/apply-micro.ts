// `npx tsx bench/apply-micro.ts`: the CPU of one replica's apply of a write,
// in Node over node:sqlite (the SQLite store backend, as an acceptor runs it),
// and of the batch encoding, with the SQLite statements each write runs. It
// isolates the part of a write that every one of the five replicas repeats.

import { DatabaseSync } from "node:sqlite";
import { parseArgs } from "node:util";
import { type SqlExec, SqliteStoreBackend } from "../acceptors/sqlite-store-backend";
import { decodeBatch, encodeBatch, type Mutation } from "../core/mutation";
import { Store } from "../core/store";

const { values } = parseArgs({
  options: {
    writes: { type: "string", default: "20000" },
    batch: { type: "string", default: "1" },
    paths: { type: "string", default: "64" },
    bytes: { type: "string", default: "64" },
    timed: { type: "boolean", default: false },
  },
});
/** Without --timed, only the total is timed (timing each statement costs about a microsecond of its own). */
const timed = values.timed === true;
const writes = Number(values.writes);
const batch = Number(values.batch);
const paths = Number(values.paths);
const bytes = Number(values.bytes);

const db = new DatabaseSync(":memory:");
const statements = new Map<string, ReturnType<DatabaseSync["prepare"]>>();
const counts = new Map<string, number>();
let sqlMs = 0;
const sql: SqlExec = {
  exec(query, ...bindings) {
    const t = timed ? performance.now() : 0;
    let statement = statements.get(query);
    if (statement === undefined) {
      statement = db.prepare(query);
      statements.set(query, statement);
    }
    const rows = statement.all(
      ...bindings.map((v) => (v instanceof ArrayBuffer ? new Uint8Array(v) : v)),
    ) as Record<string, unknown>[];
    if (timed) sqlMs += performance.now() - t;
    counts.set(query, (counts.get(query) ?? 0) + 1);
    return { toArray: () => rows };
  },
};
const store = new Store({ backend: new SqliteStoreBackend(sql) });
const value = new Uint8Array(bytes).fill(120);
let n = 0;
function nextBatch(): Mutation[] {
  const out: Mutation[] = [];
  for (let i = 0; i < batch; i++, n++) {
    out.push({ op: "set", id: `c${n % paths}-${n}`, path: `/bench/k${n % paths}`, rev: -1, value });
  }
  return out;
}
// Warm: past the history window, so that every write also forgets one.
for (let i = 0; i < 3000 / batch; i++) store.apply(nextBatch());
counts.clear();
sqlMs = 0;
let encodeMs = 0;
const t0 = performance.now();
for (let i = 0; i < writes / batch; i++) {
  const te = performance.now();
  const decoded = decodeBatch(encodeBatch(nextBatch()));
  encodeMs += performance.now() - te;
  db.exec("BEGIN");
  store.apply(decoded);
  db.exec("COMMIT");
}
const total = performance.now() - t0;
const per = (ms: number) => ((ms / writes) * 1000).toFixed(1);
console.log(`writes ${writes}, batch ${batch}, ${paths} paths, ${bytes}-byte values`);
console.log(
  timed
    ? `total ${per(total)} µs/write: sqlite exec ${per(sqlMs)}, encode+decode ${per(encodeMs)}, ` +
        `store JS ${per(total - sqlMs - encodeMs)} µs/write`
    : `total ${per(total)} µs/write (encode+decode ${per(encodeMs)}; --timed splits out SQLite)`,
);
let all = 0;
for (const c of counts.values()) all += c;
console.log(`statements per write: ${(all / writes).toFixed(2)}`);
for (const [q, c] of [...counts].sort((a, b) => b[1] - a[1])) {
  console.log(`${(c / writes).toFixed(2)}  ${q.replace(/\s+/g, " ").slice(0, 90)}`);
}
