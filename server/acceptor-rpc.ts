// The acceptor's RPC surface: what the Worker, peer acceptors and an acceptor's
// own proposer call (the last in process, see acceptors/acceptor-peers.ts).

import type { PeerGrantAnswer } from "../core/keeper-lease";
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
  Slot,
} from "../core/paxos/messages";
import type { ProposerStats } from "../core/paxos/proposer";
import type { ErrorValue, ReadReply, ReadRequest, WaitReply, WaitRequest } from "../core/reads";
import type { ReplicaStatus } from "../core/replica";
import type { TransferReply, TransferRequest } from "../core/state-transfer";
import type { Fault, FaultSetting } from "./fault-setting";
import type { KeeperRedirect } from "./keeper-role";
import type { KeepaliveAnswer } from "./session-keeping";

export interface AcceptorStatus extends ReplicaStatus {
  name: string;
  /** Storage transactions since the object last started, for the benchmarks. */
  storageWrites: number;
  /** The data centre the object runs in, when a deployed Worker could learn it (docs/DEPLOY.md). */
  colo?: string;
  /** The session keeper's term in force in this replica's store (core/keeper-lease.ts). */
  keeperTerm: number;
  /** Whether this acceptor holds the session keeper's role now. */
  keeper: boolean;
  /** The leader of the writes and its term, as this replica has applied the log (server/leader-role.ts). */
  leaderTerm: number;
  leader: string;
}

/** What a faulty acceptor answers instead (fault switch): the caller treats it as no answer. */
export interface Unavailable {
  unavailable: string;
}

/** A write proposed by an acceptor on the Worker's behalf: its outcome, or why it has none. */
export type ProposeReply = { outcome: MutationOutcome } | { error: ErrorValue } | NotLeader;

/** A write asked of an acceptor that does not lead: who does, as far as its replica has applied the log. */
export interface NotLeader {
  notLeader: true;
  leader: string;
  term: number;
}

/** Whether every slot through the one asked for is chosen now. */
export interface SyncReply {
  synced: boolean;
}

export interface AcceptorRpc {
  /**
   * Proposes one mutation with this acceptor's own proposer (the "leader" write route), if it leads;
   * else names the leader. `origin`: the location hint of the region the write came from, which the
   * leader weighs to decide where the role serves best (core/leader-placement.ts).
   */
  propose(mutation: Mutation, origin?: string): Promise<ProposeReply | Unavailable>;
  /**
   * Has this acceptor's own proposer choose every slot through `through`, filling holes with no-ops: a
   * read barrier above a hole asks the leader, which holds the ballot, rather than take it from it.
   */
  sync(through: Slot): Promise<SyncReply | Unavailable>;
  /** The session keeper extends these sessions; another acceptor points at the keeper, or takes the role (server/keeper-role.ts). */
  keepalive(sessions: string[]): Promise<KeepaliveAnswer[] | KeeperRedirect | Unavailable>;
  /**
   * Grants `candidate` the session keeper's role for a lease, unless another
   * holds it, marking the sessions it `heard` kept alive; with `wantHeard`
   * (a takeover) the answer carries this acceptor's marks (core/keeper-lease.ts).
   */
  grantKeeper(candidate: string, heard: string[], wantHeard: boolean): Promise<PeerGrantAnswer | Unavailable>;
  /** Lets a grant to `candidate` go at once (it lost the round); nothing if another holds the grant. */
  releaseKeeper(candidate: string): Promise<true | Unavailable>;
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
