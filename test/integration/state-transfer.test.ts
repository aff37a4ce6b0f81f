// Log trimming and state transfer on the real Durable Objects (vitest project
// "transfer": DOOZER_LOG_SLOTS_KEPT is small there). An acceptor taken down
// while the others decide more slots than they keep comes back behind their
// trim point: it must take a peer's state, serve correct reads from it, and
// give its watchers every event or TOO_LATE, never a gap; an acceptor that
// crashes halfway through a transfer keeps its old store whole and finishes
// later.

import { env, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import type { AcceptorObject } from "../../acceptors/acceptor-object";
import type { ReadReply } from "../../core/reads";
import type { Replica } from "../../core/replica";
import type { AcceptorRpc, AcceptorStatus, Unavailable } from "../../server/acceptor-rpc";
import type { Env } from "../../worker/env";
import { api, base, freshPath, healAll, setFault, until, write } from "./helpers";

const e = env as unknown as Env;
const kept = Number(e.DOOZER_LOG_SLOTS_KEPT);
const behind = "acceptor-3";

const names = ["acceptor-0", "acceptor-1", "acceptor-2", "acceptor-3", "acceptor-4"];

afterEach(async () => {
  await healAll();
  // A state pinned for a transfer holds its source's log for 30 s after the last chunk: such
  // a log would let the next test catch up by fetching slots. Release them, as time would.
  for (const name of names) {
    await runInDurableObject(e.ACCEPTOR.getByName(name), (object: AcceptorObject) =>
      (object as unknown as { replica: Replica }).replica.tick(Date.now() + 3_600_000),
    );
  }
});

function acceptor(name: string): AcceptorRpc {
  return e.ACCEPTOR.getByName(name) as unknown as AcceptorRpc;
}

async function status(name: string): Promise<AcceptorStatus> {
  const answer = await acceptor(name).status();
  if ("unavailable" in answer) throw new Error(`${name}: ${answer.unavailable}`);
  return answer;
}

/** A read of `name`'s own replica, at its current rev or at `rev`. */
async function readAt(name: string, path: string, rev?: number): Promise<ReadReply> {
  const reply = (await acceptor(name).read({
    query: { op: "get", path },
    timeoutMs: 1000,
    ...(rev === undefined ? {} : { rev }),
  })) as ReadReply | Unavailable;
  if ("unavailable" in reply) throw new Error(`${name}: ${reply.unavailable}`);
  return reply;
}

/** The value a GET answered, as text. */
function textOf(reply: ReadReply): string | undefined {
  if (!reply.ok || !("value" in reply.result)) return undefined;
  return new TextDecoder().decode(reply.result.value as Uint8Array);
}

function historyFloor(name: string): Promise<number> {
  return runInDurableObject(e.ACCEPTOR.getByName(name), (_object: AcceptorObject, state) => {
    const row = state.storage.sql
      .exec<{ value: number }>(`SELECT value FROM store_state WHERE key = 'history_floor'`)
      .toArray()[0];
    return row?.value ?? 0;
  });
}

/** A socket straight to one acceptor (the Worker would pick one at random). */
async function socketTo(name: string) {
  // The access the Worker would have given an open store's client.
  const headers = { Upgrade: "websocket", "Doozer-Access": "read-write" };
  const response = await e.ACCEPTOR.getByName(name).fetch(`${base}/v1/ws`, { headers });
  expect(response.status).toBe(101);
  const ws = response.webSocket as WebSocket;
  ws.accept();
  const frames: Record<string, unknown>[] = [];
  ws.addEventListener("message", (m) => frames.push(JSON.parse(String(m.data)) as Record<string, unknown>));
  return { ws, frames };
}

/** Catches `name` up to the others' chosen slot (a read barrier would do the same), within `ms`. */
async function catchUp(name: string, ms = 20_000): Promise<void> {
  const target = (await status("acceptor-0")).chosenThrough;
  const deadline = Date.now() + ms;
  while ((await status(name)).chosenThrough < target && Date.now() < deadline) {
    await acceptor(name).read({ query: { op: "rev" }, minSlot: target, catchUpMs: 1000, timeoutMs: 1000 });
  }
  expect((await status(name)).chosenThrough).toBeGreaterThanOrEqual(target);
}

describe("an acceptor behind the others' trim point", () => {
  it("catches up by state transfer: its reads are right, its watchers get every event or TOO_LATE", async () => {
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(100);
    const dir = freshPath("dir");
    const firstRev = await write(`${dir}/f0`, "start");
    await catchUp(behind);
    const wasAt = (await status(behind)).chosenThrough;
    await setFault(behind, "down");
    // Every write is a slot of its own: many more than the others keep.
    const written = new Map<number, { path: string; value: string }>();
    const latest = new Map<string, string>();
    for (let i = 0; i < kept * 4; i++) {
      const path = `${dir}/f${i % 7}`;
      const value = `v${i}`;
      written.set(await write(path, value), { path, value });
      latest.set(path, value);
    }
    const others = await status("acceptor-0");
    expect(others.logTrimmedThrough).toBeGreaterThan(wasAt);
    await setFault(behind, "ok");

    // A watch from before the transfer: its events come from the old store, then TOO_LATE, with no gap.
    const old = await socketTo(behind);
    old.ws.send(JSON.stringify({ id: 1, verb: "WATCH", glob: `${dir}/**`, rev: firstRev + 1 }));
    await catchUp(behind);
    await until(() => old.frames.some((f) => f.id === 1 && "error" in f), "the old watch to end", 10_000);
    const ended = old.frames.find((f) => f.id === 1 && "error" in f) as { error: { code: string } };
    expect(ended.error.code).toBe("TOO_LATE");
    const seen = old.frames
      .filter((f) => f.id === 1 && "event" in f)
      .map((f) => f.event as { rev: number; path: string });
    const expected = [...written.keys()].filter((rev) => rev > firstRev).sort((a, b) => a - b);
    expect(seen.map((event) => event.rev)).toEqual(expected.slice(0, seen.length));

    // It installed a peer's state: its history starts there, and its log is trimmed through it.
    const floor = await historyFloor(behind);
    expect(floor).toBeGreaterThan(firstRev);
    expect((await status(behind)).logTrimmedThrough).toBeGreaterThan(wasAt + kept);
    // Below its history yet in the window: it refuses, and the Worker's read goes to a peer that has it.
    await expect(readAt(behind, `${dir}/f0`, firstRev)).rejects.toThrow(/holds no history at rev/);
    expect((await api(`/v1/files${dir}/f0?rev=${firstRev}`)).status).not.toBe(410);
    for (const [path, value] of latest) expect(textOf(await readAt(behind, path))).toBe(value);

    // A watch started now gets every later event.
    const fresh = await socketTo(behind);
    fresh.ws.send(JSON.stringify({ id: 2, verb: "WATCH", glob: `${dir}/**` }));
    await until(() => fresh.frames.some((f) => f.id === 2 && f.watching === true), "the new watch");
    const later: number[] = [];
    for (let i = 0; i < 5; i++) later.push(await write(`${dir}/g${i}`, `w${i}`));
    await until(
      () => fresh.frames.filter((f) => f.id === 2 && "event" in f).length >= 5,
      "five events",
      10_000,
    );
    const events = fresh.frames
      .filter((f) => f.id === 2 && "event" in f)
      .map((f) => (f.event as { rev: number }).rev);
    expect(events).toEqual(later);
    old.ws.close();
    fresh.ws.close();
  });

  it("keeps its old store whole when it crashes halfway through a transfer, and finishes later", async () => {
    const dir = freshPath("big");
    const floorBefore = await historyFloor(behind);
    await write(`${dir}/small`, "before");
    await catchUp(behind);
    const wasAt = (await status(behind)).chosenThrough;
    await setFault(behind, "down");
    // Eight values of a MB make the state more than one chunk (6 MiB).
    for (let i = 0; i < 8; i++) await write(`${dir}/big${i}`, String(i).repeat(1_000_000));
    for (let i = 0; i < kept * 3; i++) await write(`${dir}/small`, `s${i}`);
    // The first chunk, staged as the acceptor's own catch-up would, while it is down (no other catch-up runs).
    const request = await runInDurableObject(e.ACCEPTOR.getByName(behind), (object: AcceptorObject) =>
      (object as unknown as { replica: Replica }).replica.transferRequest(),
    );
    const chunk = await acceptor("acceptor-0").transferState(request);
    if ("unavailable" in chunk) throw new Error(chunk.unavailable);
    const progress = await runInDurableObject(e.ACCEPTOR.getByName(behind), (object: AcceptorObject) =>
      (object as unknown as { replica: Replica }).replica.takeTransferChunk(chunk),
    );
    expect(progress).toBe("more");
    // Up (no write follows to start its catch-up), then crashed: memory lost, SQLite kept.
    await setFault(behind, "ok");
    await setFault(behind, "crash");
    // Back from SQLite: the old store, at the old slot, with the staged chunk beside it.
    const after = await runInDurableObject(e.ACCEPTOR.getByName(behind), (object: AcceptorObject) => {
      const replica = (object as unknown as { replica: Replica }).replica;
      return { slot: replica.chosenThrough, request: replica.transferRequest() };
    });
    expect(after.slot).toBe(wasAt);
    if (chunk.type !== "transfer-chunk") throw new Error(`refused: ${chunk.reason}`);
    expect(after.request.slot).toBe(chunk.slot);
    expect(textOf(await readAt(behind, `${dir}/small`))).toBe("before");
    await catchUp(behind);
    expect(textOf(await readAt(behind, `${dir}/small`))).toBe(`s${kept * 3 - 1}`);
    const big = await readAt(behind, `${dir}/big7`);
    expect(textOf(big)).toBe("7".repeat(1_000_000));
    const staged = await runInDurableObject(
      e.ACCEPTOR.getByName(behind),
      (_object: AcceptorObject, state) => {
        return state.storage.sql
          .exec<{ n: number }>(`SELECT count(*) AS n FROM transfer_staged_paths`)
          .toArray()[0]?.n;
      },
    );
    expect(staged).toBe(0);
    expect(await historyFloor(behind)).toBeGreaterThan(floorBefore);
  });
});
