// Acknowledged writes survive: every acceptor crashing (one after another, and
// all at once), and the local cluster's process stopping and starting again on
// its persisted state (wrangler's --persist-to folder).

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { connect } from "../../client/index";
import { type LocalCluster, startLocalCluster } from "./local-cluster";

const state = mkdtempSync(join(tmpdir(), "doozer-durability-"));
const running: LocalCluster[] = [];

afterAll(async () => {
  for (const c of running) await c.stop();
  rmSync(state, { recursive: true, force: true });
});

async function start(): Promise<LocalCluster> {
  const cluster = await startLocalCluster({}, state);
  running.push(cluster);
  return cluster;
}

async function stop(cluster: LocalCluster): Promise<void> {
  running.splice(running.indexOf(cluster), 1);
  await cluster.stop();
}

async function fault(url: string, acceptor: string, mode: string): Promise<void> {
  const response = await fetch(`${url}/v1/faults`, {
    method: "POST",
    body: JSON.stringify({ acceptor, mode }),
  });
  expect(response.status).toBe(200);
  await response.body?.cancel();
}

/** Writes `count` files under `dir` and returns what each acknowledged write said. */
async function writeMany(
  url: string,
  dir: string,
  count: number,
): Promise<Map<string, { rev: number; value: string }>> {
  const client = connect(url);
  const written = new Map<string, { rev: number; value: string }>();
  for (let i = 0; i < count; i++) {
    const path = `${dir}/f${i}`;
    const value = `value ${i} of ${dir}`;
    written.set(path, { rev: await client.set(path, 0, value), value });
  }
  client.close();
  return written;
}

async function expectAll(url: string, written: Map<string, { rev: number; value: string }>): Promise<void> {
  const client = connect(url);
  for (const [path, { rev, value }] of written) {
    const file = await client.get(path);
    expect([path, file.value.text(), file.rev]).toEqual([path, value, rev]);
  }
  client.close();
}

describe("durability", () => {
  it("keeps every acknowledged write through crashes, one by one and all at once, and a restart of the process", async () => {
    let cluster = await start();
    const before = await writeMany(cluster.url, "/durable/a", 30);

    for (let i = 0; i < 5; i++) {
      await fault(cluster.url, `acceptor-${i}`, "crash");
      const more = await writeMany(cluster.url, `/durable/crash${i}`, 5);
      for (const [k, v] of more) before.set(k, v);
    }
    await expectAll(cluster.url, before);

    await Promise.all([0, 1, 2, 3, 4].map((i) => fault(cluster.url, `acceptor-${i}`, "crash")));
    await expectAll(cluster.url, before);

    await stop(cluster);
    cluster = await start();
    await expectAll(cluster.url, before);
    const after = await writeMany(cluster.url, "/durable/b", 10);
    await expectAll(cluster.url, after);
  }, 120_000);
});
