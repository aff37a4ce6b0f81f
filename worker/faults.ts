// GET and POST /v1/faults (SPEC §5): the fault table lives in each acceptor,
// so every proposer, read and watch meets the same fault.

import { CodedError } from "../core/errors";
import type { AcceptorClient } from "../server/acceptor-client";
import { type FaultSetting, parseFaultSetting } from "../server/fault-setting";

export interface FaultTable {
  acceptors: ({ id: string } & Record<string, unknown>)[];
}

export async function faultTable(acceptors: AcceptorClient): Promise<FaultTable> {
  const faults = await Promise.all(
    acceptors.names.map((name) =>
      acceptors
        .call(name, (s) => s.getFault())
        .then(
          (fault) => ({ id: name, ...fault }),
          () => ({ id: name, mode: "unknown" }),
        ),
    ),
  );
  return { acceptors: faults };
}

export async function setFaults(acceptors: AcceptorClient, body: unknown): Promise<FaultTable> {
  const { acceptor, setting } = parseFaultSetting(body);
  const targets = acceptor === "*" ? acceptors.names : [acceptor];
  if (!acceptors.names.includes(targets[0] ?? "")) {
    throw new CodedError(
      "BAD_REQUEST",
      `no acceptor ${acceptor}; they are ${acceptors.names.join(", ")} or *`,
    );
  }
  await Promise.all(targets.map((name) => apply(acceptors, name, setting)));
  return faultTable(acceptors);
}

async function apply(acceptors: AcceptorClient, name: string, setting: FaultSetting): Promise<void> {
  try {
    await acceptors.call(name, (s) => s.setFault(setting));
  } catch (error) {
    // A crash ends the call by resetting the object: that error is the crash working.
    if (setting.mode !== "crash") throw error;
  }
}
