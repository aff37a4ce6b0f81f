// `npx tsx bench/replica-micro.ts`: what one acceptor's replica spends per
// write on the Paxos path, in Node over node:sqlite: the accept of a slot of
// `--batch` writes (its log row and promise), then its commit (the chosen
// row, the decode, the store's apply, the log trim), each in a transaction
// as the Durable Object runs them. Every write goes through all five
// acceptors, so five times this is what a write costs the local thread in
// storage and apply (the Worker, HTTP and RPC come on top).

import { DatabaseSync } from "node:sqlite";
import { parseArgs } from "node:util";
import { SqliteStorage } from "../acceptors/sqlite-storage";
import { encodeBatch, type Mutation } from "../core/mutation";
import { Replica } from "../core/replica";
import { nodeDurableStorage } from "../test/core/node-sql";

const { values } = parseArgs({
  options: {
    writes: { type: "string", default: "20000" },
    batch: { type: "string", default: "10" },
    paths: { type: "string", default: "64" },
  },
});
const writes = Number(values.writes);
const batch = Number(values.batch);
const paths = Number(values.paths);

const storage = nodeDurableStorage(new DatabaseSync(":memory:"));
let executed = 0;
// Counted as they run: the statements are what the change to the store set out to cut.
const exec = storage.sql.exec.bind(storage.sql);
storage.sql.exec = ((query: string, ...bindings: unknown[]) => {
  executed++;
  return exec(query, ...(bindings as never[]));
}) as typeof storage.sql.exec;
const replica = new Replica(new SqliteStorage(storage));
const ballot = { round: 1, proposer: "bench" };
const value = new Uint8Array(64).fill(120);
let n = 0;
let slot = 0;
function step(): void {
  const mutations: Mutation[] = [];
  for (let i = 0; i < batch; i++, n++) {
    mutations.push({ op: "set", id: `c${n % paths}-${n}`, path: `/bench/k${n % paths}`, rev: -1, value });
  }
  slot++;
  const entry = { slot, ballot, value: encodeBatch(mutations) };
  replica.accept({ type: "accept", ballot, entries: [entry] });
  replica.commit({ type: "commit", entries: [{ slot, ballot }], outcomeSlot: slot });
}
replica.prepare({ type: "prepare", ballot, fromSlot: 1 } as never);
for (let i = 0; i < 3000 / batch; i++) step();
executed = 0;
const t0 = performance.now();
for (let i = 0; i < writes / batch; i++) step();
const total = performance.now() - t0;
if (replica.store.rev !== n) throw new Error(`applied ${replica.store.rev} of ${n} writes`);
console.log(`writes ${writes}, ${batch} a slot, ${paths} paths, 64-byte values, one replica`);
console.log(
  `${((total / writes) * 1000).toFixed(1)} µs and ${(executed / writes).toFixed(2)} SQLite statements per write`,
);
