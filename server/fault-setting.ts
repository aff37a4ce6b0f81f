// The fault switch's modes (SPEC §5) as data: what POST /v1/faults sets, what
// an acceptor keeps and reports. Applying a fault to requests is the acceptor's
// business (acceptors/fault.ts); the Worker only parses and forwards settings.

import { CodedError } from "../core/errors";

export type Fault =
  | { mode: "ok" }
  | { mode: "down" }
  | { mode: "slow"; delayMs: number }
  | { mode: "lossy"; dropRate: number };

/** What a caller may set: a fault, or a crash (lose memory, reload from storage, once). */
export type FaultSetting = Fault | { mode: "crash" };

export const healthy: Fault = { mode: "ok" };

const delayMsMax = 60_000;

/** Checks a fault setting from a request body; bad input is BAD_REQUEST and changes nothing. */
export function parseFaultSetting(body: unknown): { acceptor: string; setting: FaultSetting } {
  if (typeof body !== "object" || body === null)
    throw new CodedError("BAD_REQUEST", "the body must be a JSON object");
  const { acceptor, mode, delayMs, dropRate } = body as Record<string, unknown>;
  if (typeof acceptor !== "string" || acceptor === "") {
    throw new CodedError("BAD_REQUEST", 'acceptor must name an acceptor, e.g. "acceptor-2", or be "*"');
  }
  switch (mode) {
    case "ok":
    case "down":
    case "crash":
      return { acceptor, setting: { mode } };
    case "slow":
      if (typeof delayMs !== "number" || !Number.isInteger(delayMs) || delayMs < 0 || delayMs > delayMsMax) {
        throw new CodedError("BAD_REQUEST", `slow needs delayMs, an integer from 0 to ${delayMsMax}`);
      }
      return { acceptor, setting: { mode, delayMs } };
    case "lossy":
      if (typeof dropRate !== "number" || !(dropRate >= 0 && dropRate <= 1)) {
        throw new CodedError("BAD_REQUEST", "lossy needs dropRate, a number from 0 to 1");
      }
      return { acceptor, setting: { mode, dropRate } };
    default:
      throw new CodedError("BAD_REQUEST", "mode must be one of ok, down, slow, lossy, crash");
  }
}
