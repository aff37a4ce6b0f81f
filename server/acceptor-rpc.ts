// The acceptor's RPC surface: what the Worker, peer acceptors and an acceptor's
// own proposer call (the last in process, see acceptors/acceptor-peers.ts).

import type { Mutation, MutationOutcome } from "../core/mutation";
import type {
  Accept,
  Accepted,
  Commit,
  Committed,
  Fetch,
  Fetched,
  Prepare,
  Promised,
  Rejected,
} from "../core/paxos/messages";
import type { ProposerStats } from "../core/paxos/proposer";
import type { ErrorValue, ReadReply, ReadRequest, WaitReply, WaitRequest } from "../core/reads";
import type { ReplicaStatus } from "../core/replica";
import type { TransferReply, TransferRequest } from "../core/state-transfer";
import type { Fault, FaultSetting } from "./fault-setting";
import type { KeepaliveAnswer } from "./session-keeping";

export interface AcceptorStatus extends ReplicaStatus {
  name: string;
  /** Storage transactions since the object last started, for the benchmarks. */
  storageWrites: number;
  /** The data centre the object runs in, when a deployed Worker could learn it (docs/DEPLOY.md). */
  colo?: string;
}

/** What a faulty acceptor answers instead (fault switch): the caller treats it as no answer. */
export interface Unavailable {
  unavailable: string;
}

/** A write proposed by an acceptor on the Worker's behalf: its outcome, or why it has none. */
export type ProposeReply = { outcome: MutationOutcome } | { error: ErrorValue };

export interface AcceptorRpc {
  /** Proposes one mutation with this acceptor's own proposer (the "leader" write route). */
  propose(mutation: Mutation): Promise<ProposeReply | Unavailable>;
  /** The session keeper (the leader acceptor) extends these sessions; any other acceptor is unavailable for it. */
  keepalive(sessions: string[]): Promise<KeepaliveAnswer[] | Unavailable>;
  /** This acceptor's proposer's counters (benchmarks). */
  proposerStats(): Promise<ProposerStats>;
  prepare(message: Prepare): Promise<Promised | Rejected | Unavailable>;
  accept(message: Accept): Promise<Accepted | Rejected | Unavailable>;
  commit(message: Commit): Promise<Committed<MutationOutcome> | Unavailable>;
  fetchChosen(message: Fetch): Promise<Fetched | Unavailable>;
  /** A chunk of the store's state, for a peer whose missing slots this acceptor has trimmed (core/state-transfer.ts). */
  transferState(request: TransferRequest): Promise<TransferReply | Unavailable>;
  status(): Promise<AcceptorStatus | Unavailable>;
  read(request: ReadRequest): Promise<ReadReply | Unavailable>;
  wait(request: WaitRequest): Promise<WaitReply | Unavailable>;
  getFault(): Promise<Fault>;
  setFault(setting: FaultSetting): Promise<Fault | Unavailable>;
}
