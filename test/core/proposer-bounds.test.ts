// Regression: a proposer whose view of the log is old (an isolate that led long
// ago) once answered a read barrier far ahead by filling every slot up to it with
// no-ops in one accept message (500,000 slots ≈ 13 MiB). The fill is now bounded
// per accept, and the stale ballot's first small accept sends it back to phase 1.

import { describe, expect, it } from "vitest";
import { batchBytesMax, batchMutationsMax, noopFillSlotsMax } from "../../core/limits";
import { encodeBatch, encodedSize, type Mutation, type MutationOutcome } from "../../core/mutation";
import type { ProposerMessage } from "../../core/paxos/messages";
import { Proposer } from "../../core/paxos/proposer";
import { Replica } from "../../core/replica";
import { MemoryStorage } from "../sim/memory-storage";

const names = ["a0", "a1", "a2"];

function cluster() {
  const replicas = new Map(names.map((n) => [n, new Replica(new MemoryStorage())]));
  const proposer = (id: string) =>
    new Proposer<Mutation, MutationOutcome>({
      id,
      acceptors: names,
      random: () => 0.5,
      pack: encodeBatch,
      sizeOf: encodedSize,
      batchCommandsMax: batchMutationsMax,
      batchBytesMax,
      retryMs: 100,
      backoffMs: 10,
      backoffMsMax: 100,
    });
  const answer = (to: string, message: ProposerMessage) => {
    const replica = replicas.get(to) as Replica;
    if (message.type === "prepare") return replica.prepare(message);
    if (message.type === "accept") return replica.accept(message);
    return replica.commit(message);
  };
  /** Delivers everything until quiet for a while; returns the largest accept sent, in entries. */
  const run = (p: Proposer<Mutation, MutationOutcome>, start: number) => {
    let now = start;
    let largestAccept = 0;
    let idle = 0;
    for (let round = 0; round < 10_000 && idle < 20; round++) {
      const out = p.takeMessages();
      if (out.length === 0) {
        idle++;
        now += 200;
        p.tick(now);
        continue;
      }
      idle = 0;
      for (const { to, message } of out) {
        if (message.type === "accept") largestAccept = Math.max(largestAccept, message.entries.length);
        p.receive(to, answer(to, message), now);
      }
    }
    p.takeCompletions();
    return { largestAccept, now };
  };
  return { replicas, proposer, run };
}

describe("a proposer with an old view", () => {
  it("fills a large gap below a read barrier in bounded accepts, after learning the chosen prefix", () => {
    const { replicas, proposer, run } = cluster();
    const old = proposer("old");
    old.submit({ op: "nop", id: "first" }, 1_000_000, 0);
    let { now } = run(old, 0);
    // Another proposer decides many slots meanwhile.
    const busy = proposer("busy");
    for (let i = 0; i < 3 * noopFillSlotsMax; i++) {
      busy.submit({ op: "nop", id: `w${i}` }, now + 1_000_000, now);
      now = run(busy, now).now;
    }
    const chosen = Math.min(...[...replicas.values()].map((r) => r.chosenThrough));
    expect(chosen).toBeGreaterThan(2 * noopFillSlotsMax);
    // The old proposer is asked for a barrier far ahead of its view.
    old.sync(chosen + 5, now + 1_000_000, now);
    const { largestAccept } = run(old, now);
    expect(largestAccept).toBeLessThanOrEqual(noopFillSlotsMax);
    for (const replica of replicas.values()) expect(replica.chosenThrough).toBeGreaterThanOrEqual(chosen + 5);
  });
});
