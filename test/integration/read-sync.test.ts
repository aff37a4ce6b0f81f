// A linearizable read whose barrier sits above a hole (a slot a majority
// accepted and nobody committed) must have a proposer finish the log. On the
// leader route it asks the leader acceptor, whose proposer holds the ballot,
// instead of running phase 1 in the Worker and taking the ballot from it.

import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import type { AcceptorObject } from "../../acceptors/acceptor-object";
import { encodeBatch } from "../../core/mutation";
import type { Ballot } from "../../core/paxos/ballot";
import type { AcceptorStatus } from "../../server/acceptor-rpc";
import type { Env } from "../../worker/env";
import worker from "../../worker/index";
import { base, freshPath, healAll, json, setFault, text } from "./helpers";

const names = ["acceptor-0", "acceptor-1", "acceptor-2", "acceptor-3", "acceptor-4"];

function isolate(): Env {
  return { ...(env as unknown as Env), DOOZER_WRITE_ROUTE: "leader" };
}

async function call(e: Env, path: string, init?: RequestInit): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await worker.fetch(new Request(`${base}${path}`, init), e, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

function acceptor(name: string): DurableObjectStub<AcceptorObject> {
  return (env as unknown as Env).ACCEPTOR.getByName(name);
}

async function status(name: string): Promise<AcceptorStatus> {
  const reply = (await acceptor(name).status()) as AcceptorStatus;
  if (!("promised" in reply)) throw new Error(`${name} did not answer its status`);
  return reply;
}

/**
 * Leaves a hole above the log: the next slot accepted by a majority (not the
 * leader) at the ballot the leader holds, with the very no-op its proposer
 * fills holes with, and committed nowhere. So a read barrier lands on it, no
 * replica can reach it, and only a sync can; and the leader finishing it at
 * its own ballot re-proposes the same value, as Paxos requires.
 */
async function leaveHole(ballot: Ballot): Promise<number> {
  const statuses = await Promise.all(names.map(status));
  const slot = Math.max(...statuses.map((s) => s.maxAccepted)) + 1;
  for (const name of ["acceptor-0", "acceptor-2", "acceptor-3"]) {
    const reply = await acceptor(name).accept({
      type: "accept",
      ballot,
      entries: [{ slot, value: encodeBatch([]) }],
    });
    expect(reply).toMatchObject({ type: "accepted" });
  }
  return slot;
}

const ballotText = (b: Ballot) => `${b.round}.${b.proposer}`;

afterEach(async () => {
  await healAll();
});

describe("a read barrier above a hole, on the leader route", () => {
  it("has the leader finish the log: the promised ballot stays the leader's", async () => {
    const e = isolate();
    const path = freshPath();
    // A write through the leader: it holds its ballot at every acceptor it reached.
    const put = await call(e, `/v1/files${path}?rev=0`, { method: "PUT", body: "before" });
    expect(put.status).toBe(200);
    const leaderBallot = (await status("acceptor-1")).promised;
    const hole = await leaveHole(leaderBallot);

    const before = await json<{ proposer: { prepareRounds: number }; reader: { syncs: number } }>(
      await call(e, "/v1/stats"),
    );
    const read = await call(e, `/v1/files${path}`);
    expect(read.status).toBe(200);
    expect(await text(read)).toBe("before");

    const after = await json<{ proposer: { prepareRounds: number }; reader: { syncs: number } }>(
      await call(e, "/v1/stats"),
    );
    // The read did need a sync, and this isolate's proposer ran no phase 1 for it.
    expect(after.reader.syncs).toBeGreaterThan(before.reader.syncs);
    expect(after.proposer.prepareRounds).toBe(before.proposer.prepareRounds);
    for (const name of names) {
      const s = await status(name);
      expect(ballotText(s.promised), name).toBe(ballotText(leaderBallot));
    }
    // The hole is chosen now (finished by the leader), at a majority at least.
    const finished = (await Promise.all(names.map(status))).filter((s) => s.chosenThrough >= hole);
    expect(finished.length).toBeGreaterThanOrEqual(3);
    // And the leader's next write needs no phase 1 either: it kept its ballot.
    const next = await call(e, `/v1/files${path}?rev=-1`, { method: "PUT", body: "after" });
    expect(next.status).toBe(200);
    expect(ballotText((await status("acceptor-1")).promised)).toBe(ballotText(leaderBallot));
  });

  it("falls back to the isolate's own proposer when the leader is down", async () => {
    const e = isolate();
    const path = freshPath();
    expect((await call(e, `/v1/files${path}?rev=0`, { method: "PUT", body: "kept" })).status).toBe(200);
    const leaderBallot = (await status("acceptor-1")).promised;
    await leaveHole(leaderBallot);
    await setFault("acceptor-1", "down");

    const read = await call(e, `/v1/files${path}`);
    expect(read.status).toBe(200);
    expect(await text(read)).toBe("kept");
    // This isolate ran phase 1 itself, so the ballot moved on from the leader's.
    const promised = (await status("acceptor-0")).promised;
    expect(ballotText(promised)).not.toBe(ballotText(leaderBallot));
  });
});
