// The server's view of the acceptors: every failure of a call (no such
// acceptor, a call that throws, an Unavailable answer, no answer in time) is
// that call's rejected promise, and a round's calls share one deadline.

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { parseClusterConfig } from "../../core/cluster-config";
import { AcceptorClient } from "../../server/acceptor-client";
import type { AcceptorRpc } from "../../server/acceptor-rpc";

const config = parseClusterConfig({});

function client(answers: Record<string, () => Promise<unknown>>) {
  const unanswered: AcceptorRpc[] = [];
  const handles = new Map<string, AcceptorRpc>();
  const peers = {
    peer(name: string): AcceptorRpc {
      const answer = answers[name];
      if (!answer) throw new Error(`no acceptor ${name}`);
      const handle = { status: answer } as Partial<AcceptorRpc> as AcceptorRpc;
      handles.set(name, handle);
      return handle;
    },
    unanswered: (handle: AcceptorRpc) => void unanswered.push(handle),
  };
  return { acceptors: new AcceptorClient(peers, config), unanswered, handles };
}

describe("AcceptorClient", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("rejects, and does not throw, for an unknown acceptor or a call that throws", async () => {
    const { acceptors } = client({
      "acceptor-0": () => {
        throw new Error("the stub is broken");
      },
    });
    const unknown = acceptors.call("acceptor-9", (s) => s.status());
    await expect(unknown).rejects.toThrow("no acceptor acceptor-9");
    await expect(acceptors.call("acceptor-0", (s) => s.status())).rejects.toThrow("the stub is broken");
    expect(vi.getTimerCount()).toBe(0);
  });

  it("turns an Unavailable answer into that call's rejection", async () => {
    const { acceptors } = client({
      "acceptor-0": () => Promise.resolve({ unavailable: "acceptor-0 is down (fault switch)" }),
    });
    await expect(acceptors.call("acceptor-0", (s) => s.status())).rejects.toThrow("acceptor-0 is down");
  });

  it("times out only the unanswered calls of a round, on one timer, and names them", async () => {
    const { acceptors, unanswered, handles } = client({
      "acceptor-0": () => Promise.resolve({ chosenThrough: 3 }),
      "acceptor-1": () => new Promise(() => {}),
      "acceptor-2": () => Promise.resolve({ chosenThrough: 4 }),
    });
    const replies = acceptors.callEach(
      ["acceptor-0", "acceptor-1", "acceptor-2"].map((name) => ({
        name,
        rpc: (s: AcceptorRpc) => s.status(),
      })),
      300,
    );
    expect(vi.getTimerCount()).toBe(1);
    await expect(replies[0]).resolves.toEqual({ chosenThrough: 3 });
    await expect(replies[2]).resolves.toEqual({ chosenThrough: 4 });
    vi.advanceTimersByTime(300);
    await expect(replies[1]).rejects.toThrow("no answer in 300 ms");
    expect(unanswered).toEqual([handles.get("acceptor-1")]);
  });
});
