// Watch delivery off the write's path (issue 15): an acceptor sends its
// watchers their events in turns after the apply, a few watches a turn, and
// each watch still gets every event once, in rev order. No timing is asserted:
// delivery is held on every acceptor (a test hook), the writes are answered
// anyway, and only after it is released do events arrive.

import { env, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import type { AcceptorObject } from "../../acceptors/acceptor-object";
import type { ClientSockets } from "../../acceptors/client-sockets";
import { watchDeliveryChunk } from "../../core/limits";
import type { Env } from "../../worker/env";
import { freshPath, openSocket, sleep, until, write } from "./helpers";

const acceptors = ["acceptor-0", "acceptor-1", "acceptor-2", "acceptor-3", "acceptor-4"];

/** Runs `change` on the watch delivery of every acceptor. */
async function everyDelivery(change: (delivery: ClientSockets["delivery"]) => void): Promise<void> {
  const e = env as unknown as Env;
  for (const name of acceptors) {
    await runInDurableObject(e.ACCEPTOR.getByName(name), (object: AcceptorObject) =>
      change((object as unknown as { sockets: ClientSockets }).sockets.delivery),
    );
  }
}

afterEach(async () => {
  await everyDelivery((delivery) => {
    delivery.hold(false);
    delivery.setChunk(watchDeliveryChunk);
  });
});

describe("watch fan-out", () => {
  it("answers writes while delivery is held; then every watch gets every event once, in rev order", async () => {
    const dir = freshPath("fan").replace(/\/fan$/, "");
    const sockets = [await openSocket(), await openSocket(), await openSocket(), await openSocket()];
    const perSocket = 50;
    const ids: number[][] = [];
    for (const socket of sockets) {
      const mine: number[] = [];
      for (let i = 0; i < perSocket; i++) {
        const answer = await socket.ask({ verb: "WATCH", glob: `${dir}/**` });
        expect(answer.watching).toBe(true);
        mine.push(answer.id as number);
      }
      ids.push(mine);
    }
    const delivered = () => sockets.reduce((n, s) => n + s.frames.filter((f) => "event" in f).length, 0);

    // Nothing can be sent now; a write whose answer waited for its fan-out would not come back.
    // Three watches per turn, so a round spans many turns and writes land in the middle of them.
    await everyDelivery((delivery) => {
      delivery.hold(true);
      delivery.setChunk(3);
    });
    const revs: number[] = [];
    for (let i = 0; i < 3; i++) revs.push(await write(`${dir}/held${i}`, `h${i}`));
    expect(delivered()).toBe(0);

    // A watch started while events are owed gets its backlog at once, and no event twice later.
    const late = await sockets[0]?.ask({ verb: "WATCH", glob: `${dir}/**`, rev: revs[1] });
    expect(late?.watching).toBe(true);
    const lateId = late?.id as number;
    // A watch cancelled while events are owed gets none of them after the CANCEL's answer.
    const cancelled = ids[1]?.shift() as number;
    expect(await sockets[1]?.ask({ verb: "CANCEL", watch: cancelled })).toEqual({
      id: expect.any(Number),
    });
    const cancelledAt = sockets[1]?.frames.length ?? 0;

    await everyDelivery((delivery) => delivery.hold(false));
    // Writes go on while the held events are being delivered, a few watches a turn.
    const writing = (async () => {
      for (let i = 0; i < 8; i++) revs.push(await write(`${dir}/live${i}`, `l${i}`));
    })();
    await writing;

    const watchCount = ids.reduce((n, mine) => n + mine.length, 0);
    await until(
      () =>
        sockets.every((socket, s) => (ids[s] ?? []).every((id) => socket.events(id).length >= revs.length)),
      "every watch to have every event",
      15_000,
    );
    await everyDelivery((delivery) => expect(delivery.idle).toBe(true));
    await sleep(50);
    for (const [s, socket] of sockets.entries()) {
      for (const id of ids[s] ?? []) expect(socket.events(id).map((event) => event.rev)).toEqual(revs);
    }
    expect(watchCount).toBe(4 * perSocket - 1);
    expect(sockets[0]?.events(lateId).map((event) => event.rev)).toEqual(revs.slice(1));
    expect(sockets[1]?.frames.slice(cancelledAt).filter((f) => f.id === cancelled)).toEqual([]);
    // Each event's frame carries the event as the SPEC says: path, rev, value, op.
    expect(sockets[2]?.events(ids[2]?.[0] as number)[0]).toEqual({
      path: `${dir}/held0`,
      rev: revs[0],
      value: "h0",
      op: "set",
    });
    for (const socket of sockets) socket.ws.close();
  });
});
