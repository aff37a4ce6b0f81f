// The fault switch (SPEC §5) as this acceptor applies it: to every request and
// every answer, whoever sends it (the Worker, a peer, or this object's own
// proposer), as if the network to this region failed.

import type { Unavailable } from "../server/acceptor-rpc";
import { type Fault, healthy, parseFaultSetting } from "../server/fault-setting";
import { sleep } from "../server/timing";

/** How long a dropped message keeps its caller waiting: longer than any RPC timeout, so the caller sees a loss. */
const lossDelayMs = 2_000;

/**
 * What the fault does to one request or answer of the acceptor `name`: a
 * refusal (an answer value, not a thrown error, so that a downed acceptor does
 * not fill the log with uncaught errors), a delay, or nothing.
 */
export async function suffer(
  fault: Fault,
  name: string,
  what: "request" | "answer",
): Promise<Unavailable | undefined> {
  switch (fault.mode) {
    case "ok":
      return undefined;
    case "down":
      return { unavailable: `${name} is down (fault switch)` };
    case "slow":
      await sleep(fault.delayMs);
      return undefined;
    case "lossy":
      if (Math.random() >= fault.dropRate) return undefined;
      await sleep(lossDelayMs);
      return { unavailable: `${name} dropped the ${what} (fault switch)` };
  }
}

/** The fault kept in storage, so that it outlives an eviction; anything unreadable means healthy. */
export function parseStoredFault(text: string | undefined): Fault {
  if (!text) return healthy;
  try {
    const { setting } = parseFaultSetting({ acceptor: "self", ...JSON.parse(text) });
    return setting.mode === "crash" ? healthy : setting;
  } catch {
    return healthy;
  }
}
