// An acceptor's view of the cluster for the proposer and reader it runs: its
// peers are Durable Object stubs, and itself is the object in hand, so its own
// vote and its own replica cost a method call, not an RPC to itself. The local
// calls go through the same fault switch and the same persist-before-answer
// handlers as a remote caller's.

import type { ClusterConfig } from "../core/cluster-config";
import { membershipOf, stampMembership } from "../core/membership";
import type { AcceptorRpc } from "../server/acceptor-rpc";
import type { Peers } from "../server/peers";
import type { AcceptorObject } from "./acceptor-object";

export class AcceptorPeers implements Peers {
  private readonly fingerprint: string;

  constructor(
    private readonly namespace: DurableObjectNamespace<AcceptorObject>,
    private readonly config: ClusterConfig,
    private readonly self: { name: string; local: AcceptorRpc },
  ) {
    this.fingerprint = membershipOf(config).fingerprint;
  }

  peer(name: string): AcceptorRpc {
    if (name === this.self.name) return this.self.local;
    // The stub's generated RPC types turn union results into unions of promises; AcceptorObject
    // implements AcceptorRpc, so this view of it is exact.
    // Its Paxos messages carry this acceptor's membership, as the Worker's do: during a rolling
    // deploy that mixes two memberships, a peer of the other one refuses instead of counting votes.
    const stub = acceptorStub(this.namespace, this.config, name) as unknown as AcceptorRpc;
    return stampMembership(stub, this.fingerprint);
  }
}

/** A stub for the acceptor `name`, placed by its location hint when it is first created. */
export function acceptorStub(
  namespace: DurableObjectNamespace<AcceptorObject>,
  config: ClusterConfig,
  name: string,
): DurableObjectStub<AcceptorObject> {
  const location = config.acceptors.find((a) => a.name === name)?.location;
  const locationHint = location as DurableObjectLocationHint | undefined;
  return namespace.getByName(name, locationHint ? { locationHint } : {});
}
