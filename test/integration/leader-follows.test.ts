// The leader follows the writers (server/leader-role.ts), in workerd: writes
// that say they come from apac (the Doozer-Test-Origin header, honoured with
// the fault switch on) move the leader role there through a leader-move
// decided by Paxos; writes from enam move it back. This project runs with a
// window of 10 writes and a tenure of 300 ms (vitest.config.ts), so a move
// takes a few writes and a short wait, not 50 writes and 10 s.

import { describe, expect, it } from "vitest";
import { api, freshPath, json, sleep, text } from "./helpers";

interface Cluster {
  leader: { acceptor: string; term: number };
  acceptors: { id: string; rev: number | null }[];
}

const cluster = async () => json<Cluster>(await api("/v1/cluster"));

/** Unconditional writes from `region`, one at a time; each must succeed. */
async function writeFrom(region: string, count: number): Promise<string> {
  const path = freshPath("follow");
  for (let i = 0; i < count; i++) {
    const response = await api(`/v1/files${path}?rev=-1`, {
      method: "PUT",
      body: `${region} ${i}`,
      headers: { "Doozer-Test-Origin": region },
    });
    expect(response.status, await response.clone().text()).toBe(200);
  }
  return path;
}

/** Writes from `region` until the cluster reports `acceptor` as the leader. */
async function writeUntilLeader(region: string, acceptor: string): Promise<Cluster["leader"]> {
  for (let round = 0; round < 20; round++) {
    await writeFrom(region, 5);
    const { leader } = await cluster();
    if (leader.acceptor === acceptor) return leader;
    await sleep(100);
  }
  throw new Error(`the leader never moved to ${acceptor}: ${JSON.stringify((await cluster()).leader)}`);
}

describe("the leader follows the writers", () => {
  it("moves to apac after writes from apac, keeps deciding writes there, and moves back for writes from enam", async () => {
    const start = (await cluster()).leader;
    expect(start.acceptor).toBe("acceptor-1");
    await sleep(350); // the tenure of the current term

    const moved = await writeUntilLeader("apac", "acceptor-3");
    expect(moved.term).toBe(start.term + 1);

    // Writes after the move are decided at the new leader (the Worker follows the redirect).
    const before = await json<{ leader: { id: string; commandsDecided: number } }>(await api("/v1/stats"));
    const path = await writeFrom("apac", 3);
    expect(await text(await api(`/v1/files${path}`))).toBe("apac 2");
    const after = await json<{ leader: { id: string; commandsDecided: number } }>(await api("/v1/stats"));
    expect(after.leader.id).toBe("acceptor-3");
    if (before.leader.id === "acceptor-3")
      expect(after.leader.commandsDecided - before.leader.commandsDecided).toBeGreaterThanOrEqual(3);

    // Every replica that has caught up agrees on the leader of the term.
    await sleep(350);
    const back = await writeUntilLeader("enam", "acceptor-1");
    expect(back.term).toBe(moved.term + 1);
    expect(await text(await api(`/v1/files${await writeFrom("enam", 2)}`))).toBe("enam 1");
  });

  it("does not move for writes with no origin, or from where the leader already serves best", async () => {
    const { leader } = await cluster();
    await sleep(350);
    const path = freshPath("still");
    for (let i = 0; i < 15; i++) await api(`/v1/files${path}?rev=-1`, { method: "PUT", body: `${i}` });
    await writeFrom("wnam", 15); // enam (68 + 78 ms) serves wnam better than wnam itself (1 + 140 ms)
    expect((await cluster()).leader).toEqual(leader);
  });
});
