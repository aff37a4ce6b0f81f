// The client library against the real local cluster (wrangler dev), over its
// three transports: WebSocket, HTTP, and a service binding (the HTTP transport
// over a binding's fetch, as a Worker would use it).

import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConnectionError } from "../../client/errors";
import {
  type Client,
  connect,
  IsDirError,
  NoEntError,
  NotDirError,
  RevMismatchError,
  TooLateError,
} from "../../client/index";
import type { WebSocketTransport } from "../../client/websocket-transport";
import { useLocalCluster } from "./use-local-cluster";

const localCluster = useLocalCluster();

const transports: Record<string, () => Client> = {
  websocket: () => connect(localCluster().url, { transport: "websocket" }),
  http: () => connect(localCluster().url),
  binding: () => connect({ fetch: (request) => fetch(rebase(request, localCluster().url)) }),
};

/** A request to the binding's placeholder host, sent to the local cluster instead. */
function rebase(request: Request, base: string): Request {
  const url = new URL(request.url);
  return new Request(`${base}${url.pathname}${url.search}`, request);
}

let counter = 0;
const fresh = (name: string) => `/client${++counter}x${Date.now().toString(36)}/${name}`;

describe.each(Object.keys(transports))("the client over %s", (name) => {
  let client: Client;

  beforeAll(() => {
    client = (transports[name] as () => Client)();
  });

  afterAll(() => client.close());

  it("sets, gets and compares-and-sets", async () => {
    const path = fresh("color");
    const rev = await client.set(path, 0, "blue");
    const file = await client.get(path);
    expect([file.value.text(), file.rev]).toEqual(["blue", rev]);
    expect(file.storeRev).toBeGreaterThanOrEqual(rev);
    const error = await client.set(path, 0, "red").catch((e) => e);
    expect(error).toBeInstanceOf(RevMismatchError);
    expect(error.rev).toBe(rev);
    expect(typeof error.storeRev).toBe("number");
    const next = await client.set(path, rev, "red");
    expect(next).toBeGreaterThan(rev);
    expect((await client.get(path, { rev })).value.text()).toBe("blue");
  });

  it("keeps binary values byte for byte", async () => {
    const path = fresh("bin");
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
    await client.set(path, 0, bytes);
    expect([...(await client.get(path)).value]).toEqual([...bytes]);
    const walked = [];
    for await (const f of client.walk(path)) walked.push([...f.value]);
    expect(walked).toEqual([[...bytes]]);
  });

  it("throws one error class per code", async () => {
    const dir = fresh("d");
    await client.set(`${dir}/f`, 0, "x");
    await expect(client.get(fresh("missing"))).rejects.toBeInstanceOf(NoEntError);
    await expect(client.get(dir)).rejects.toBeInstanceOf(IsDirError);
    await expect(client.set(`${dir}/f/g`, 0, "x")).rejects.toBeInstanceOf(NotDirError);
    await expect(client.get("/bad path")).rejects.toMatchObject({ code: "BAD_PATH" });
  });

  it("deletes, stats, lists and walks", async () => {
    const dir = fresh("tree");
    for (const n of ["b", "a", "c/d", "e"]) await client.set(`${dir}/${n}`, 0, n);
    expect((await client.getdir(dir)).entries).toEqual(["a", "b", "c", "e"]);
    expect(await client.stat(`${dir}/a`)).toMatchObject({ len: 1 });
    expect(await client.stat(`${dir}/c`)).toMatchObject({ len: 1, rev: -2 });
    expect(await client.stat(`${dir}/zz`)).toMatchObject({ len: 0, rev: 0 });
    const walked = [];
    for await (const f of client.walk(`${dir}/**`, { pageSize: 2 })) walked.push(f.path.slice(dir.length));
    expect(walked).toEqual(["/a", "/b", "/c/d", "/e"]);
    const delRev = await client.del(`${dir}/c/d`, -1);
    expect(delRev).toBeGreaterThan(0);
    expect((await client.getdir(dir)).entries).toEqual(["a", "b", "e"]);
    const before = await client.rev();
    expect(await client.nop()).toBe(before + 1);
  });

  it("waits and watches", async () => {
    const dir = fresh("w");
    const first = await client.set(`${dir}/x`, 0, "1");
    const found = await client.wait(`${dir}/*`, first);
    expect(found).toMatchObject({ path: `${dir}/x`, rev: first, op: "set" });
    expect(await client.wait(`${dir}/*`, first + 1000, { timeoutMs: 100 })).toBeUndefined();
    const watch = client.watch(`${dir}/**`);
    await new Promise((r) => setTimeout(r, 100));
    const a = await client.set(`${dir}/y`, 0, "2");
    const b = await client.del(`${dir}/x`, -1);
    const seen = [];
    for await (const event of watch) {
      seen.push([event.rev, event.op, event.path.slice(dir.length), event.value.text()]);
      if (seen.length === 2) break;
    }
    expect(seen).toEqual([
      [a, "set", "/y", "2"],
      [b, "del", "/x", ""],
    ]);
  });

  it("locks, elects a leader and follows a config value", async () => {
    const lockPath = fresh("lock");
    const held = await client.lock(lockPath, { owner: "one" });
    let secondHeld = false;
    const second = client.lock(lockPath, { owner: "two" }).then((l) => {
      secondHeld = true;
      return l;
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(secondHeld).toBe(false);
    await held.release();
    const next = await second;
    expect((await client.get(lockPath)).value.text()).toBe("two");
    await next.release();

    const leaderPath = fresh("leader");
    const leadership = await client.electLeader(leaderPath, "node-a");
    expect((await client.get(leaderPath)).value.text()).toBe("node-a");
    await leadership.resign();
    await expect(client.get(leaderPath)).rejects.toBeInstanceOf(NoEntError);

    const configPath = fresh("config");
    await client.set(configPath, 0, "v1");
    const config = await client.config(configPath);
    expect(config.value?.text()).toBe("v1");
    await client.set(configPath, -1, "v2");
    await client.del(configPath, -1);
    const changes = [];
    for await (const value of config.changes) {
      changes.push(value?.text());
      if (changes.length === 2) break;
    }
    config.close();
    expect(changes).toEqual(["v2", undefined]);
  });
});

describe("a watch across dropped connections", () => {
  it("sees exactly the store's history for its glob: 1,000 writes by 4 writers, the socket dropped over and over", async () => {
    const dir = fresh("gapless");
    const watcher = connect(localCluster().url, { transport: "websocket" });
    const from = (await watcher.rev()) + 1;
    const watch = watcher.watch(`${dir}/**`, { from });
    const transport = watcher.transport as WebSocketTransport;
    let writing = true;
    const dropper = (async () => {
      let drops = 0;
      while (writing && drops < 200) {
        await new Promise((r) => setTimeout(r, 25 + Math.random() * 50));
        transport.dropConnection();
        drops++;
      }
      return drops;
    })();
    const writers = Array.from({ length: 4 }, () => connect(localCluster().url));
    const acknowledged: [number, string, string][] = [];
    await Promise.all(
      writers.map(async (w, i) => {
        for (let n = 0; n < 250; n++) {
          const path = `${dir}/w${i}/k${n % 7}`;
          const value = `${i}.${n}`;
          acknowledged.push([await w.set(path, -1, value), path, value]);
        }
      }),
    );
    writing = false;
    const drops = await dropper;
    const seen: [number, string, string][] = [];
    for await (const event of watch) {
      seen.push([event.rev, event.path, event.value.text()]);
      if (seen.length === acknowledged.length) break;
    }
    acknowledged.sort((a, b) => a[0] - b[0]);
    expect(drops).toBeGreaterThan(3);
    expect(seen).toEqual(acknowledged);
    for (const w of writers) w.close();
    watcher.close();
  }, 120_000);

  it("ends with TooLateError when it cannot resume inside the history window", async () => {
    const dir = fresh("late");
    const partitioned = { on: false };
    const client = connect(
      {
        fetch: (request) =>
          partitioned.on
            ? Promise.reject(new Error("partitioned"))
            : fetch(rebase(request, localCluster().url)),
      },
      { attempts: 1 },
    );
    // Over one WebSocket, the flood of nops below rides in large batches.
    const writer = connect(localCluster().url, { transport: "websocket" });
    const first = await writer.set(`${dir}/a`, 0, "1");
    const watch = client.watch(`${dir}/*`, { from: first });
    const events = watch[Symbol.asyncIterator]();
    expect((await events.next()).value).toMatchObject({ rev: first });
    partitioned.on = true;
    // More than the 2,000-rev window passes while the watcher is cut off.
    const nops = Array.from({ length: 2100 }, () => writer.nop());
    await Promise.all(nops);
    partitioned.on = false;
    await expect(events.next()).rejects.toBeInstanceOf(TooLateError);
    // A fresh watch from that old rev is too late too.
    const again = client.watch(`${dir}/*`, { from: first })[Symbol.asyncIterator]();
    await expect(again.next()).rejects.toBeInstanceOf(TooLateError);
    client.close();
    writer.close();
  }, 120_000);
});

describe("safe retries", () => {
  it("a write whose request or answer is lost, retried, applies exactly once (any drop points)", async () => {
    const writer = connect(localCluster().url);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom("request", "answer"), { minLength: 0, maxLength: 3 }),
        async (drops) => {
          const plan = [...drops];
          const flaky = connect(
            {
              fetch: async (request) => {
                const drop = plan.shift();
                if (drop === "request") throw new Error("request lost");
                const response = await fetch(rebase(request, localCluster().url));
                if (drop === "answer") {
                  await response.body?.cancel();
                  throw new Error("answer lost");
                }
                return response;
              },
            },
            { attempts: 5, backoff: { minDelayMs: 1, maxDelayMs: 5 } },
          );
          const path = fresh("retry");
          const before = await writer.rev();
          const rev = await flaky.set(path, 0, "once");
          expect(await writer.rev()).toBe(before + 1);
          expect((await writer.get(path)).rev).toBe(rev);
          flaky.close();
        },
      ),
      { numRuns: 25 },
    );
    writer.close();
  }, 120_000);

  it("a write in flight when the socket drops is sent again on the new socket and applies once", async () => {
    const client = connect(localCluster().url, { transport: "websocket" });
    const writer = connect(localCluster().url);
    await client.rev();
    const transport = client.transport as WebSocketTransport;
    for (let i = 0; i < 20; i++) {
      const path = fresh("inflight");
      const before = await writer.rev();
      const pending = client.set(path, 0, "x");
      transport.dropConnection();
      const rev = await pending;
      expect(await writer.rev()).toBe(before + 1);
      expect((await writer.get(path)).rev).toBe(rev);
    }
    client.close();
    writer.close();
  }, 120_000);

  it("a closed client fails its calls with ConnectionError", async () => {
    const client = connect(localCluster().url, { transport: "websocket" });
    client.close();
    await expect(client.rev()).rejects.toBeInstanceOf(ConnectionError);
  });
});
