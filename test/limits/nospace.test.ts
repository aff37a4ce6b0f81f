// NOSPACE (SPEC §8): live data (paths and values) is bounded by
// DOOZER_STORE_BYTES_MAX. This project runs the real Worker and acceptors with
// a small limit (vitest.config.ts, project "limits"), so the edge is reachable.

import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { api, del, freshPath, json, put, storeRev } from "../integration/helpers";

const storeBytesMax = Number((env as { DOOZER_STORE_BYTES_MAX?: string }).DOOZER_STORE_BYTES_MAX);
const chunk = "n".repeat(900 * 1024);

interface ErrorBody {
  error: { code: string; message: string; storeRev?: number; op?: number; path?: string };
}

/** Fills the store with 900 KiB files until the next one would not fit; returns their paths. */
async function fill(): Promise<string[]> {
  const paths: string[] = [];
  for (let i = 0; i < Math.ceil(storeBytesMax / chunk.length) + 2; i++) {
    const path = freshPath("big");
    const response = await put(path, -1, chunk);
    if (response.status !== 200) {
      expect(response.status).toBe(507);
      return paths;
    }
    await response.body?.cancel();
    paths.push(path);
  }
  throw new Error(`the store took more than ${storeBytesMax} bytes without NOSPACE`);
}

describe("a store at its size limit", () => {
  it("refuses a growing write with NOSPACE (507), which consumes its rev, and keeps every write that does not grow it", async () => {
    expect(storeBytesMax).toBeGreaterThan(0);
    expect(storeBytesMax).toBeLessThanOrEqual(8 * 1024 * 1024);
    const paths = await fill();
    expect(paths.length).toBeGreaterThan(0);
    const before = await storeRev();
    const refused = await put(freshPath("more"), 0, chunk);
    const body = await json<ErrorBody>(refused);
    expect(refused.status).toBe(507);
    expect(body.error.code).toBe("NOSPACE");
    expect(body.error.storeRev).toBe(before + 1);
    expect(await storeRev()).toBe(before + 1);

    // Same size, smaller, a delete and a NOP always work.
    const first = paths[0] as string;
    expect((await put(first, -1, chunk)).status).toBe(200);
    expect((await put(first, -1, "small")).status).toBe(200);
    expect((await api("/v1/nop", { method: "POST" })).status).toBe(200);
    for (const path of paths) expect((await del(path, -1)).status).toBe(200);
    // With room again, the refused write goes through.
    expect((await put(freshPath("more"), 0, chunk)).status).toBe(200);
  });

  it("fails a transaction whose net change would pass the limit, with error.op = its last op, and changes nothing", async () => {
    const paths = await fill();
    const before = await storeRev();
    const a = freshPath("txn");
    const response = await api("/v1/txn", {
      method: "POST",
      body: JSON.stringify({
        ops: [
          { op: "set", path: a, rev: 0, value: "" },
          { op: "set", path: `${a}x`, rev: 0, value: chunk },
        ],
      }),
    });
    const body = await json<ErrorBody>(response);
    expect(response.status).toBe(507);
    expect(body.error).toMatchObject({ code: "NOSPACE", op: 1, storeRev: before + 1 });
    expect((await api(`/v1/stat${a}`).then((r) => json<{ rev: number }>(r))).rev).toBe(0);
    // A transaction that frees as much as it adds is fine at the limit.
    const freeing = await api("/v1/txn", {
      method: "POST",
      body: JSON.stringify({
        ops: [
          { op: "del", path: paths[0], rev: -1 },
          { op: "set", path: a, rev: 0, value: chunk },
        ],
      }),
    });
    expect(freeing.status).toBe(200);
    await freeing.body?.cancel();
  });
});
