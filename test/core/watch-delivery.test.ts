// Watch delivery off the write's path (acceptors/watch-delivery.ts), turn by
// turn with a fake scheduler: nothing is sent in the apply's turn, a round
// serves `chunk` watches a turn, and each watch gets every event once, in rev
// order, whatever is applied, added or cancelled between turns; one that fell
// out of the history window ends TOO_LATE.

import { describe, expect, it } from "vitest";
import { type LiveWatch, WatchDelivery } from "../../acceptors/watch-delivery";
import { compileGlob } from "../../core/glob";
import type { Mutation } from "../../core/mutation";
import { Store } from "../../core/store";

const set = (path: string, value: string): Mutation => ({
  op: "set",
  id: "",
  path,
  rev: -1,
  value: new TextEncoder().encode(value),
});

function setup(chunk: number, historyRevs?: number) {
  const store = new Store(historyRevs === undefined ? {} : { historyRevs });
  const turns: (() => void)[] = [];
  const tooLate: LiveWatch[] = [];
  const frames = new Map<string, { rev: number; path: string; value: string }[]>();
  const delivery = new WatchDelivery(
    {
      store: () => store,
      later: (work) => void turns.push(work),
      tooLate: (watch) => {
        tooLate.push(watch);
        delivery.remove(watch.socket, watch.idJson);
      },
    },
    chunk,
  );
  let next = 1;
  const watch = (glob: string, from = store.rev + 1, socket = "s"): LiveWatch => {
    const id = next++;
    const key = `${socket}/${id}`;
    frames.set(key, []);
    const ws = {
      send: (text: string) => {
        const frame = JSON.parse(text) as { id: number; event: { rev: number; path: string; value: string } };
        expect(frame.id).toBe(id);
        frames.get(key)?.push(frame.event);
      },
    } as unknown as WebSocket;
    const live: LiveWatch = {
      ws,
      socket,
      id,
      idJson: JSON.stringify(id),
      glob: compileGlob(glob),
      nextRev: from,
      base64: false,
    };
    delivery.add(live);
    delivery.backlog(live);
    return live;
  };
  const write = (path: string, value = "v") => {
    store.apply([set(path, value)]);
    delivery.applied();
    return store.rev;
  };
  /** Runs the turns queued so far (not those they queue); how many. */
  const turn = () => {
    const now = turns.splice(0);
    for (const work of now) work();
    return now.length;
  };
  const drain = () => {
    while (turn() > 0);
  };
  const revs = (w: LiveWatch) => (frames.get(`${w.socket}/${w.id}`) ?? []).map((e) => e.rev);
  return { store, delivery, watch, write, turn, drain, revs, tooLate, frames };
}

describe("watch delivery", () => {
  it("sends nothing in the apply's turn, then `chunk` watches a turn, every event once in rev order", () => {
    const t = setup(3);
    const watches = Array.from({ length: 10 }, () => t.watch("/a/**"));
    const r1 = t.write("/a/1");
    const r2 = t.write("/a/2");
    t.write("/b/other");
    expect(watches.flatMap(t.revs)).toEqual([]);
    t.turn();
    expect(watches.map((w) => t.revs(w).length)).toEqual([2, 2, 2, 0, 0, 0, 0, 0, 0, 0]);
    // A write in the middle of a round: the round goes on to its own end rev, the next round takes it.
    const r3 = t.write("/a/3");
    // A watch added in the middle of a round, from r2: its backlog now, nothing twice later.
    const late = t.watch("/a/**", r2);
    expect(t.revs(late)).toEqual([r2, r3]);
    // A watch cancelled before its turn in the round gets nothing more.
    const cancelled = watches[9] as LiveWatch;
    t.delivery.remove(cancelled.socket, cancelled.idJson);
    t.drain();
    for (const w of watches.slice(0, 9)) expect(t.revs(w)).toEqual([r1, r2, r3]);
    expect(t.revs(cancelled)).toEqual([]);
    expect(t.revs(late)).toEqual([r2, r3]);
    expect(t.delivery.idle).toBe(true);
    expect(t.frames.get("s/1")?.[0]).toEqual({ path: "/a/1", rev: r1, value: "v", op: "set" });
  });

  it("ends a watch TOO_LATE when its next rev has left the history window before its round", () => {
    const t = setup(2048, 4);
    const behind = t.watch("/a/**");
    for (let i = 0; i < 10; i++) t.write(`/a/${i}`);
    // A watch that starts inside the window, in the same gap, is served.
    const inside = t.watch("/a/**", t.store.oldestEventRev);
    t.drain();
    expect(t.tooLate).toEqual([behind]);
    expect(t.revs(behind)).toEqual([]);
    expect(t.revs(inside).at(-1)).toBe(t.store.rev);
    const next = t.write("/a/next");
    t.drain();
    expect(t.revs(inside).at(-1)).toBe(next);
  });

  it("holds every send while held, and sends them all once released", () => {
    const t = setup(1);
    const a = t.watch("/x/**");
    const b = t.watch("/x/**", 1, "other");
    t.delivery.hold(true);
    const r = t.write("/x/1");
    t.drain();
    expect([t.revs(a), t.revs(b)]).toEqual([[], []]);
    t.delivery.hold(false);
    t.drain();
    expect([t.revs(a), t.revs(b)]).toEqual([[r], [r]]);
  });
});
