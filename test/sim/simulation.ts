// A seeded, deterministic simulation of a doozer-edge cluster: acceptors
// (Replica), competing proposers (Proposer), writers, readers and a watcher,
// over a network that drops, duplicates, delays and reorders messages, with
// acceptors crashing and restarting from their durable storage and proposers
// dying mid-flight.
//
// The read side runs the same decisions as the real one: the read barrier and
// its plan (core/read-barrier.ts), status rounds shared by the concurrent reads
// of one isolate (core/read-batch.ts), `Proposer.sync` for orphaned slots, catch-up
// from peers (core/catch-up.ts), replicas parking reads until they reach the
// barrier, WAIT, and a WATCH hosted on one acceptor that follows its peers and
// is resumed elsewhere when its host crashes. Every seed checks the history of
// writes and linearizable GETs with test/lin, stale GETs and WAITs against the
// chosen log, and the watch against the chosen log's events for its glob.
//
// With `leaderMoves` (test/sim/leader-moves.test.ts) the writes take the leader route, and the leader role
// moves during the faults (core/leader-term.ts): a write goes to the proposer
// of the acceptor that some replica, perhaps one behind the log, names as the
// leader; the leader now and then proposes a leader-move to another acceptor;
// a proposer that finds itself leader at a new term raises its round above
// its acceptor's promise (Proposer.raiseRound). Every replica must agree on
// the leader of each term, a replica's term never goes back, and no ballot is
// used by two proposers.
//
// Run 1 (safety) injects faults and checks every invariant after every step.
// Run 2 (liveness) heals everything and checks that new requests are answered
// and every replica catches up. One seed reproduces one run exactly.

import { CatchUp } from "../../core/catch-up";
import { compileGlob } from "../../core/glob";
import { batchBytesMax, batchMutationsMax } from "../../core/limits";
import { encodeBatch, encodedSize, type Mutation, type MutationOutcome } from "../../core/mutation";
import { formatBallot } from "../../core/paxos/ballot";
import { bytesEqual } from "../../core/paxos/learner";
import type { AcceptorReply, Fetch, Fetched, ProposerMessage, Slot } from "../../core/paxos/messages";
import { type Completion, Proposer } from "../../core/paxos/proposer";
import {
  type BarrierState,
  ReadBarrier,
  ReadPlan,
  type ReadStep,
  type StatusAnswer,
} from "../../core/read-barrier";
import { ReadBatch } from "../../core/read-batch";
import {
  executeRead,
  type ReadReply,
  type ReadRequest,
  type ReplicaPosition,
  toErrorValue,
  type WaitReply,
  type WaitRequest,
} from "../../core/reads";
import { Replica, type ReplicaOptions } from "../../core/replica";
import { type TransferReply, type TransferRequest, transferRestartsMax } from "../../core/state-transfer";
import type { StoreEvent } from "../../core/store";
import { checkHistory } from "../lin/checker";
import { createRecorder, type PendingOperation, type Recorder } from "../lin/history";
import { MemoryStorage } from "./memory-storage";
import { Random } from "./random";
import { describeEvent, ReferenceLog } from "./reference";

export interface SimulationOptions {
  seed: number;
  acceptors: number;
  proposers: number;
  /** Steps with faults, then up to `livenessSteps` without. */
  safetySteps: number;
  livenessSteps: number;
  dropRate: number;
  duplicateRate: number;
  /** Chance per step that an acceptor crashes (or a crashed one restarts), and that a proposer dies. */
  crashRate: number;
  proposerCrashRate: number;
  /** Chance per step that a client submits a write. */
  submitRate: number;
  keys: number;
  /** Chance per step that an idle reader starts a GET, stale GET or WAIT; at most `readsMax` per run. */
  readRate: number;
  readsMax: number;
  /** Revs of history each replica keeps: small windows make WAIT and WATCH meet TOO_LATE. */
  historyRevs: number;
  /**
   * Chosen slots each replica keeps in its log below its applied one: small
   * values make a replica that was down catch up by state transfer.
   */
  logSlotsKept: number;
  /** The watcher's glob, or undefined for a run without one. */
  watchGlob: string | undefined;
  /**
   * Breaks linearizable reads on purpose (they go to a random replica, no
   * barrier), to show that the checks notice: a run must then fail.
   */
  skipReadBarrier?: boolean;
  /**
   * Breaks read batching on purpose: a read joins the status round in flight
   * (which may have started before it), to show what the start-after-arrival
   * rule guards against.
   */
  joinRoundInFlight?: boolean;
  /** Writes take the leader route and the leader role moves during the faults (see the top). */
  leaderMoves?: boolean;
  /** Called with a line per notable event when tracing a seed. */
  trace?: (line: string) => void;
}

export const defaultSimulation: Omit<SimulationOptions, "seed"> = {
  acceptors: 5,
  proposers: 3,
  safetySteps: 4000,
  livenessSteps: 20000,
  dropRate: 0.1,
  duplicateRate: 0.05,
  crashRate: 0.01,
  proposerCrashRate: 0.002,
  submitRate: 0.15,
  keys: 3,
  readRate: 0.02,
  readsMax: 40,
  historyRevs: 2000,
  logSlotsKept: 10_000,
  watchGlob: "/**",
};

/**
 * The shape of the run for a seed: the seed also picks the cluster size, the
 * number of proposers and how hostile the network is, so a sweep covers them all.
 */
export function simulationForSeed(seed: number): SimulationOptions {
  const r = new Random(seed ^ 0x5eed);
  return {
    ...defaultSimulation,
    seed,
    acceptors: r.pick([3, 5]),
    proposers: 2 + r.int(3),
    dropRate: r.pick([0, 0.05, 0.2, 0.35]),
    duplicateRate: r.pick([0, 0.05, 0.2]),
    crashRate: r.pick([0.002, 0.01, 0.03]),
    proposerCrashRate: r.pick([0, 0.002, 0.01]),
    submitRate: r.pick([0.01, 0.04, 0.15]),
    keys: r.pick([1, 3, 8]),
    readRate: r.pick([0.005, 0.02, 0.05]),
    historyRevs: r.pick([8, 40, 2000]),
    watchGlob: r.pick(["none", "/**", "/k0", "/k*", "/k?"]).replace("none", "") || undefined,
    logSlotsKept: r.pick([10_000, 3, 6, 12]),
  };
}

/** What one acceptor can be asked over RPC besides Paxos: catch-up, the barrier's status, reads. */
type Request =
  | { kind: "fetch"; message: Fetch }
  | { kind: "transfer"; request: TransferRequest }
  | { kind: "status" }
  | { kind: "read"; request: ReadRequest }
  | { kind: "wait"; request: WaitRequest };

type Reply =
  | { kind: "fetched"; message: Fetched }
  | { kind: "transfer"; reply: TransferReply }
  | { kind: "status"; status: StatusAnswer }
  | { kind: "read"; reply: ReadReply }
  | { kind: "wait"; reply: WaitReply }
  /** A downed acceptor refuses at once, as the fault switch's "down" does. */
  | { kind: "unavailable" };

type Payload =
  | { kind: "to-acceptor"; message: ProposerMessage }
  | { kind: "to-proposer"; reply: AcceptorReply<MutationOutcome> }
  | { kind: "request"; rpc: number; request: Request }
  | { kind: "reply"; rpc: number; reply: Reply };

interface Envelope {
  from: string;
  to: string;
  payload: Payload;
  deliverAt: number;
}

interface AcceptorNode {
  name: string;
  storage: MemoryStorage;
  replica: Replica | undefined;
  /** The catch-up under way, if any: one at a time, as in the Durable Object. */
  catchUp: CatchUp | undefined;
  /** Requests waiting for the replica to move on; each returns true once settled. */
  parked: Set<() => boolean>;
  /** The store rev through which the watch hosted here has been offered events. */
  deliveredThrough: number;
  /** The watch hosted here (its socket dies with the replica). */
  watch: Watcher | undefined;
}

interface ProposerNode {
  name: string;
  proposer: Proposer<Mutation, MutationOutcome>;
  incarnation: number;
  /** The leader term this proposer last raised its round for (leader route only). */
  ledTerm?: number;
}

interface ClientRecord {
  mutation: Mutation;
  submittedAt: number;
  phase: "safety" | "liveness";
  result?: { kind: "decided"; outcome: MutationOutcome } | { kind: "expired" } | { kind: "lost" };
  recorded?: PendingOperation;
}

/**
 * The read path of one Worker isolate: it remembers a preferred replica and
 * round trips, and its concurrent reads share status rounds (core/read-batch.ts).
 */
interface ReaderHost {
  name: string;
  /** Its isolate's proposer, for `sync`. */
  proposerIndex: number;
  preferred: string;
  rttMs: Map<string, number>;
  batch: ReadBatch;
  /** Per round not yet settled: when it started, and the reads waiting for it (with when each arrived). */
  rounds: Map<number, { startedAt: number | undefined; reads: PendingBarrier[] }>;
}

interface PendingBarrier {
  reader: string;
  arrivedAt: number;
  settled: (state: SettledBarrier) => void;
}

type SettledBarrier = Exclude<BarrierState, { kind: "waiting" }>;

/** A client of the read path, one request at a time, through its isolate. */
interface ReaderNode {
  name: string;
  host: ReaderHost;
  busy: boolean;
}

interface Watcher {
  glob: string;
  state: "idle" | "connecting" | "watching" | "too-late";
  host: AcceptorNode | undefined;
  hostReplica: Replica | undefined;
  /** The rev the first connection started from (after the barrier). */
  startRev: number | undefined;
  lastSeenRev: number;
  /** On the host: the next rev an event may have. */
  nextRev: number;
  invokedAckedRev: number;
  delivered: number;
  reconnects: number;
}

const retryMs = 50;
const commandTimeoutMs = 2_000;
const livenessTimeoutMs = 1_000_000;
/** A client's or a peer's RPC without an answer after this long counts as unreachable. */
const rpcTimeoutMs = 150;
/** How long a replica behind the barrier may take to catch up before handing the read back. */
const catchUpMs = 100;
const waitTimeoutMs = 400;
/** How often the acceptor hosting a watch asks its peers whether it missed a slot. */
const followEveryMs = 200;
/** A transfer's source releases its pinned state after this long without a chunk asked for. */
const transferPinIdleMs = 1_000;
/** Chance per step, in the seeds with leader moves, that the leader proposes a move. */
const leaderMoveRate = 0.004;
const readers = 4;
/** Worker isolates the readers go through: fewer than the readers, so some reads share rounds. */
const readerHosts = 2;
/** Steps the test/lin search may take per seed; past them the seed counts as unproven (the rev checks still ran). */
const readCheckSteps = Number(process.env.SIM_LIN_STEPS ?? 100_000);

export class SafetyViolation extends Error {}

export interface SimulationReport {
  seed: number;
  steps: number;
  chosenSlots: number;
  decided: number;
  expired: number;
  messages: number;
  staleAccepts: number;
  /** Linearizable GETs answered, and checked with test/lin along with the writes. */
  linearizableReads: number;
  /** Operations the linearizability checker took in (writes and GETs). */
  checkedOperations: number;
  /** The checker ran out of steps: neither proven nor refuted. */
  uncheckedHistories: number;
  staleReads: number;
  waits: number;
  watchEvents: number;
  watchTooLate: number;
  /** Reads that needed `Proposer.sync` to finish the log through their barrier. */
  syncs: number;
  /** Status rounds run for linearizable GETs and WAITs, and barriers that shared a round another read started. */
  barrierRounds: number;
  barriersShared: number;
  readsNoQuorum: number;
  catchUpFetches: number;
  catchUpPauses: number;
  /** State transfers installed, chunks asked for, and transfers started again (their source released the state). */
  transfers: number;
  transferChunks: number;
  transferRestarts: number;
  /** Transfers a crash interrupted, and transfers that resumed from chunks staged before a crash. */
  transfersCrashed: number;
  transfersResumed: number;
  /** Leader moves proposed, and terms that some replica applied (core/leader-term.ts). */
  leaderMovesProposed: number;
  leaderTerms: number;
  /** Writes sent to a proposer whose acceptor no longer led (a replica behind the log named it). */
  writesToFormerLeaders: number;
}

export class Simulation {
  private readonly random: Random;
  private time = 0;
  private steps = 0;
  private messagesSent = 0;
  /**
   * Accepts refused because the acceptor promised a higher ballot: a proposer
   * that still believed it held its ballot (the one-round-trip path) lost it.
   */
  private staleAccepts = 0;
  private readonly network: Envelope[] = [];
  private readonly acceptors: AcceptorNode[] = [];
  private readonly acceptorNames: string[] = [];
  private readonly proposers: ProposerNode[] = [];
  private readonly clients = new Map<string, ClientRecord>();
  private nextMutation = 1;
  private faults = true;
  private readonly timers: { at: number; fire: () => void }[] = [];
  private readonly rpcs = new Map<number, { reply: (reply: Reply) => void; lost: () => void }>();
  private nextRpc = 1;
  /** `proposer.incarnation.token` of a sync a reader waits for. */
  private readonly syncWaiters = new Map<string, (synced: boolean) => void>();
  private readonly readers: ReaderNode[] = [];
  private readonly hosts: ReaderHost[] = [];
  /** Orders arrivals and round starts strictly, even within one millisecond. */
  private sequence = 0;
  private readsStarted = 0;
  private readonly livenessReads = new Set<string>();
  private readonly recorder: Recorder;
  /**
   * The highest rev any client has seen: a write acknowledged at it, or a
   * linearizable read served at it. Every linearizable read, WAIT and WATCH
   * invoked later must be served at or past it, whatever key it touched.
   */
  private ackedRev = 0;
  /** Per stale reader and replica, the last store rev read: a replica's store never goes back. */
  private readonly staleSeen = new Map<string, number>();
  private watcher: Watcher | undefined;
  private readonly watchStartStep: number;
  private readonly counts = {
    linearizableReads: 0,
    staleReads: 0,
    waits: 0,
    watchEvents: 0,
    watchTooLate: 0,
    syncs: 0,
    barrierRounds: 0,
    barriersShared: 0,
    readsNoQuorum: 0,
    catchUpFetches: 0,
    catchUpPauses: 0,
    transfers: 0,
    transferChunks: 0,
    transferRestarts: 0,
    transfersCrashed: 0,
    transfersResumed: 0,
    leaderMovesProposed: 0,
    leaderTerms: 0,
    writesToFormerLeaders: 0,
  };
  /** Each leader term's acceptor, as the first replica to apply it had it. */
  private readonly leaderOfTerm = new Map<number, number>();
  /** Per replica, the highest leader term seen: it never goes back, across restarts and transfers. */
  private readonly termSeen = new Map<string, number>();
  /** Each ballot's proposer: no two proposers ever propose at one ballot. */
  private readonly ballotOwner = new Map<string, string>();

  /** (slot, ballot) → acceptors that voted, with the value: a quorum of votes means chosen. */
  private readonly votes = new Map<string, { value: Uint8Array; voters: Set<string> }>();
  /** The one value each slot was chosen with, as seen from the votes. */
  private readonly chosen = new Map<Slot, Uint8Array>();
  private readonly reference = new ReferenceLog();
  /** Per replica, the slots already checked against `chosen`. */
  private readonly checkedThrough = new Map<string, Slot>();
  /** The serialized tree at each rev, as the first replica to reach it had it. */
  private readonly treeAtRev = new Map<number, string>();
  private readonly quorum: number;

  constructor(private readonly options: SimulationOptions) {
    this.random = new Random(options.seed);
    this.recorder = createRecorder(() => this.time);
    this.quorum = Math.floor(options.acceptors / 2) + 1;
    for (let i = 0; i < options.acceptors; i++) {
      const storage = new MemoryStorage();
      const name = `acceptor-${i}`;
      this.acceptorNames.push(name);
      this.acceptors.push({
        name,
        storage,
        replica: new Replica(storage, this.replicaOptions()),
        catchUp: undefined,
        parked: new Set(),
        deliveredThrough: 0,
        watch: undefined,
      });
    }
    for (let i = 0; i < options.proposers; i++) this.proposers.push(this.newProposer(`proposer-${i}`, 0));
    for (let i = 0; i < readerHosts; i++) this.hosts.push(this.newHost(`isolate-${i}`));
    for (let i = 0; i < readers; i++)
      this.readers.push(this.newReader(`reader-${i}`, this.random.pick(this.hosts)));
    this.watchStartStep = this.random.int(Math.max(1, options.safetySteps / 2));
  }

  run(): SimulationReport {
    for (let i = 0; i < this.options.safetySteps; i++) this.step();
    this.heal();
    this.submitLivenessLoad();
    let guard = 0;
    while (!this.settled()) {
      if (guard++ > this.options.livenessSteps) {
        throw new SafetyViolation(
          `liveness: not settled after ${this.options.livenessSteps} steps (${this.describe()})`,
        );
      }
      this.step();
    }
    this.checkOutcomes();
    this.checkWatchComplete();
    this.resolveUnansweredWrites();
    const verdict = checkHistory(this.recorder.history(), { maxSteps: readCheckSteps });
    if (verdict.ok === false) {
      throw new SafetyViolation(`not linearizable: ${verdict.explanation}`);
    }
    let decided = 0;
    let expired = 0;
    for (const c of this.clients.values()) {
      if (c.result?.kind === "decided") decided++;
      if (c.result?.kind === "expired") expired++;
    }
    return {
      seed: this.options.seed,
      steps: this.steps,
      chosenSlots: this.chosen.size,
      decided,
      expired,
      messages: this.messagesSent,
      staleAccepts: this.staleAccepts,
      checkedOperations: verdict.ok === true ? verdict.operations : 0,
      uncheckedHistories: verdict.ok === true ? 0 : 1,
      ...this.counts,
    };
  }

  private step(): void {
    this.steps++;
    const r = this.random;
    if (this.faults) this.injectFaults();
    if (this.faults && r.chance(this.options.submitRate)) this.submit("safety", commandTimeoutMs);
    if (this.faults && this.options.leaderMoves && r.chance(leaderMoveRate)) this.moveLeader();
    if (this.faults) this.startReads();
    if (this.options.watchGlob !== undefined && this.steps === this.watchStartStep) {
      this.startWatch(this.options.watchGlob);
    }
    const ready = this.network.filter((e) => e.deliverAt <= this.time);
    if (ready.length > 0 && r.chance(0.9)) {
      // Any ready message may go next: delivery order is a free choice of the seed.
      const envelope = r.pick(ready);
      this.network.splice(this.network.indexOf(envelope), 1);
      this.deliver(envelope);
    } else {
      this.advanceTime();
    }
    this.checkInvariants();
  }

  private injectFaults(): void {
    const r = this.random;
    if (r.chance(this.options.crashRate)) {
      const node = r.pick(this.acceptors);
      if (node.replica) {
        // At most a minority down at once, or nothing could be decided in the safety run.
        const down = this.acceptors.filter((a) => !a.replica).length;
        if (down + 1 < this.quorum || r.chance(0.2)) this.crash(node);
      } else {
        this.restart(node);
      }
    }
    if (r.chance(this.options.proposerCrashRate)) {
      const index = r.int(this.proposers.length);
      const old = this.proposers[index];
      if (old) {
        for (const c of this.clients.values()) {
          if (!c.result && c.mutation.id.startsWith(`${old.name}/${old.incarnation}/`)) {
            c.result = { kind: "lost" };
          }
        }
        this.proposers[index] = this.newProposer(old.name, old.incarnation + 1);
        this.trace(`proposer ${old.name} dies; incarnation ${old.incarnation + 1} starts`);
      }
    }
  }

  private crash(node: AcceptorNode): void {
    if (node.storage.storeBackend.stagedTransfer() !== undefined) this.counts.transfersCrashed++;
    node.replica = undefined;
    node.catchUp = undefined;
    node.parked = new Set();
    node.watch = undefined;
    this.trace(`crash ${node.name}`);
    // Its sockets close: the watcher reconnects elsewhere and resumes after the last event it saw.
    const watch = this.watcher;
    if (watch?.host === node && (watch.state === "watching" || watch.state === "connecting")) {
      this.disconnect(watch);
    }
  }

  /**
   * Small transfer chunks, so that a transfer takes many round trips and
   * crashes, drops and a moving source meet it halfway.
   */
  private replicaOptions(): ReplicaOptions {
    return {
      historyRevs: this.options.historyRevs,
      logSlotsKept: this.options.logSlotsKept,
      transferPinIdleMs: transferPinIdleMs,
      transferChunkBytesMax: 1000,
      transferChunkItemsMax: 8,
    };
  }

  private restart(node: AcceptorNode): void {
    const replica = new Replica(node.storage, this.replicaOptions());
    node.replica = replica;
    node.deliveredThrough = replica.store.rev;
    this.trace(`restart ${node.name} at slot ${replica.chosenThrough}`);
    this.checkedThrough.delete(node.name);
    if (replica.missing()) this.startCatchUp(node);
  }

  private heal(): void {
    this.faults = false;
    for (const node of this.acceptors) if (!node.replica) this.restart(node);
    this.trace("heal");
  }

  private submitLivenessLoad(): void {
    for (let i = 0; i < 5; i++) this.submit("liveness", livenessTimeoutMs);
    // Reads must be answered once healed too, the barrier's sync included.
    for (let i = 0; i < 3; i++) {
      // All on one isolate, at once: their barriers share rounds.
      const reader = this.newReader(`reader-liveness-${i}`, this.hosts[0] as ReaderHost);
      this.readers.push(reader);
      this.livenessReads.add(reader.name);
      if (i === 2) this.linearizableWait(reader);
      else this.linearizableGet(reader);
    }
  }

  private settled(): boolean {
    for (const c of this.clients.values()) if (c.phase === "liveness" && !c.result) return false;
    if (this.readers.some((r) => r.busy)) return false;
    const top = this.maxChosen();
    if (!this.acceptors.every((a) => a.replica && a.replica.chosenThrough >= top)) return false;
    const watch = this.watcher;
    return watch === undefined || watch.state === "watching" || watch.state === "too-late";
  }

  private maxChosen(): Slot {
    return Math.max(0, ...this.chosen.keys());
  }

  private newProposer(name: string, incarnation: number): ProposerNode {
    const id = `${name}.${incarnation}.${this.random.int(1e9).toString(36)}`;
    const proposer = new Proposer<Mutation, MutationOutcome>({
      id,
      acceptors: this.acceptorNames,
      random: () => this.random.next(),
      pack: encodeBatch,
      sizeOf: encodedSize,
      batchCommandsMax: batchMutationsMax,
      batchBytesMax,
      retryMs,
      backoffMs: 10,
      backoffMsMax: 400,
    });
    return { name, proposer, incarnation };
  }

  private newHost(name: string): ReaderHost {
    return {
      name,
      proposerIndex: this.random.int(this.proposers.length),
      preferred: this.random.pick(this.acceptorNames),
      rttMs: new Map(),
      // A round always settles here (every status request times out): the bound is never reached.
      batch: new ReadBatch(4 * rpcTimeoutMs),
      rounds: new Map(),
    };
  }

  private newReader(name: string, host: ReaderHost): ReaderNode {
    return { name, host, busy: false };
  }

  // ---- Writes ----

  /**
   * The proposer a write goes to. Worker route: any. Leader route: the
   * proposer of the acceptor that a replica the Worker asked names as the
   * leader (a replica behind the log names a former one); a proposer that
   * leads at a new term first raises its round above its acceptor's promise.
   */
  private proposerFor(): ProposerNode {
    const r = this.random;
    if (!this.options.leaderMoves) return r.pick(this.proposers);
    const up = this.acceptors.filter((a) => a.replica);
    // Once healed, the Workers' redirects lead to the newest term's leader; under faults, to any replica's.
    const newestUp = () =>
      up.reduce<Replica | undefined>((best, a) => {
        const replica = a.replica as Replica;
        return best === undefined || replica.store.leaderTerm.term > best.store.leaderTerm.term
          ? replica
          : best;
      }, undefined);
    const asked = up.length === 0 ? undefined : this.faults ? r.pick(up).replica : newestUp();
    const term = asked?.store.leaderTerm ?? { term: 0, leader: 0 };
    const newest = Math.max(0, ...this.leaderOfTerm.keys());
    if (term.term < newest) this.counts.writesToFormerLeaders++;
    const node = this.proposers[term.leader % this.proposers.length] as ProposerNode;
    const own = this.acceptors[term.leader]?.replica;
    if (term.term > (node.ledTerm ?? 0) && own) {
      node.ledTerm = term.term;
      node.proposer.raiseRound(own.status().promised.round, this.time);
      this.trace(
        `${node.name} leads at term ${term.term}: round raised above ${own.status().promised.round}`,
      );
      this.flushProposer(node);
    }
    return node;
  }

  /** The leader (as a replica names it) proposes to move the role to another acceptor, at the next term. */
  private moveLeader(): void {
    const r = this.random;
    const node = this.proposerFor();
    const own = this.acceptors.find((a) => a.replica)?.replica;
    const term = own?.store.leaderTerm ?? { term: 0, leader: 0 };
    const to = (term.leader + 1 + r.int(this.options.acceptors - 1)) % this.options.acceptors;
    const id = `${node.name}/${node.incarnation}/${this.nextMutation++}`;
    const mutation: Mutation = { op: "leader-move", id, term: term.term + 1, leader: to };
    this.clients.set(id, { mutation, submittedAt: this.time, phase: "safety" });
    this.counts.leaderMovesProposed++;
    this.trace(`${node.name} proposes leader-move to acceptor-${to} at term ${term.term + 1}`);
    node.proposer.submit(mutation, this.time + commandTimeoutMs, this.time);
    this.flushProposer(node);
  }

  private submit(phase: ClientRecord["phase"], timeoutMs: number): void {
    const r = this.random;
    const node = this.proposerFor();
    const path = `/k${r.int(this.options.keys)}`;
    const id = `${node.name}/${node.incarnation}/${this.nextMutation++}`;
    const kind = r.int(10);
    const rev = r.chance(0.5) ? -1 : r.int(Math.max(1, this.maxChosen() + 2));
    const mutation: Mutation =
      kind < 6
        ? { op: "set", id, path, rev, value: new TextEncoder().encode(id) }
        : kind < 9
          ? { op: "del", id, path, rev }
          : { op: "nop", id };
    const record: ClientRecord = { mutation, submittedAt: this.time, phase };
    if (mutation.op === "set") {
      record.recorded = this.recorder.invoke(id, { kind: "set", path, rev, value: id });
    } else if (mutation.op === "del") {
      record.recorded = this.recorder.invoke(id, { kind: "del", path, rev });
    }
    this.clients.set(id, record);
    node.proposer.submit(mutation, this.time + timeoutMs, this.time);
    this.flushProposer(node);
  }

  private flushProposer(node: ProposerNode): void {
    for (const { to, message } of node.proposer.takeMessages()) {
      this.send(node.name, to, { kind: "to-acceptor", message });
    }
    for (const completion of node.proposer.takeCompletions()) this.complete(node, completion);
  }

  private complete(node: ProposerNode, completion: Completion<Mutation, MutationOutcome>): void {
    if (completion.kind === "synced" || completion.kind === "sync-expired") {
      const key = `${node.name}.${node.incarnation}.${completion.token}`;
      this.syncWaiters.get(key)?.(completion.kind === "synced");
      return;
    }
    const record = this.clients.get(completion.command.id);
    if (!record) throw new SafetyViolation(`completion for an unknown command ${completion.command.id}`);
    if (record.result) throw new SafetyViolation(`command ${completion.command.id} completed twice`);
    if (completion.kind === "expired") {
      record.result = { kind: "expired" };
      return;
    }
    const outcome = completion.result;
    record.result = { kind: "decided", outcome };
    this.ackedRev = Math.max(this.ackedRev, outcome.rev);
    this.recordOutcome(record, outcome);
  }

  private recordOutcome(record: ClientRecord, outcome: MutationOutcome): void {
    if (!record.recorded) return;
    if (outcome.error === undefined) record.recorded.ok({ rev: outcome.rev });
    else if (outcome.error.code === "REV_MISMATCH" && outcome.error.rev !== undefined) {
      record.recorded.ok({ error: "REV_MISMATCH", rev: outcome.error.rev, storeRev: outcome.rev });
    } else {
      throw new SafetyViolation(`${record.mutation.id} failed with ${outcome.error.code} on a flat key`);
    }
  }

  /**
   * Once the log is complete, a write whose client never heard back either is
   * in it, with the outcome the log gives, or never took effect. Recording it
   * so, as answered at the very end, only widens its interval (sound), and
   * spares the checker from guessing where unseen revs went.
   */
  private resolveUnansweredWrites(): void {
    for (const record of this.clients.values()) {
      if (record.result?.kind === "decided") continue;
      const outcome = this.reference.outcomes.get(record.mutation.id);
      if (outcome) this.recordOutcome(record, outcome);
      else record.recorded?.fail();
    }
  }

  // ---- The network, RPCs and timers ----

  private send(from: string, to: string, payload: Payload): void {
    this.messagesSent++;
    this.network.push({
      from,
      to,
      payload,
      deliverAt: this.time + 1 + this.random.int(this.faults ? 40 : 10),
    });
  }

  /** Sends a request; exactly one of `reply` and `lost` runs, `lost` after `timeoutMs` without an answer. */
  private call(
    from: string,
    to: string,
    request: Request,
    timeoutMs: number,
    reply: (reply: Reply) => void,
    lost: () => void,
  ): void {
    const rpc = this.nextRpc++;
    this.rpcs.set(rpc, { reply, lost });
    this.send(from, to, { kind: "request", rpc, request });
    this.later(timeoutMs, () => {
      const pending = this.rpcs.get(rpc);
      if (!pending) return;
      this.rpcs.delete(rpc);
      pending.lost();
    });
  }

  private later(delayMs: number, fire: () => void): void {
    this.timers.push({ at: this.time + Math.max(1, delayMs), fire });
  }

  private deliver(envelope: Envelope): void {
    const r = this.random;
    if (this.faults && r.chance(this.options.dropRate)) return;
    if (this.faults && r.chance(this.options.duplicateRate)) {
      this.network.push({ ...envelope, deliverAt: this.time + r.int(100) });
    }
    const { payload } = envelope;
    switch (payload.kind) {
      case "to-proposer": {
        const node = this.proposers.find((p) => p.name === envelope.to);
        if (!node) return;
        node.proposer.receive(envelope.from, payload.reply, this.time);
        this.flushProposer(node);
        return;
      }
      case "reply": {
        const pending = this.rpcs.get(payload.rpc);
        if (!pending) return; // A duplicate, or an answer after the caller gave up.
        this.rpcs.delete(payload.rpc);
        pending.reply(payload.reply);
        return;
      }
      default:
        break;
    }
    const acceptor = this.acceptors.find((a) => a.name === envelope.to);
    if (!acceptor) return;
    const replica = acceptor.replica;
    if (!replica) {
      if (payload.kind === "request" && r.chance(0.5)) {
        this.send(acceptor.name, envelope.from, {
          kind: "reply",
          rpc: payload.rpc,
          reply: { kind: "unavailable" },
        });
      }
      return;
    }
    if (payload.kind === "to-acceptor") {
      const reply = this.handle(acceptor, replica, envelope.from, payload.message);
      this.send(acceptor.name, envelope.from, { kind: "to-proposer", reply });
      if (payload.message.type === "commit") this.afterLearning(acceptor, replica);
    } else {
      this.serve(acceptor, replica, envelope.from, payload.rpc, payload.request);
    }
  }

  private advanceTime(): void {
    const next = Math.min(
      ...this.network.map((e) => e.deliverAt),
      ...this.proposers.map((p) => p.proposer.nextDeadline() ?? Infinity),
      ...this.timers.map((t) => t.at),
      this.time + retryMs,
    );
    this.time = Math.max(this.time + 1, next);
    const due = this.timers.filter((t) => t.at <= this.time).sort((a, b) => a.at - b.at);
    for (const timer of due) {
      this.timers.splice(this.timers.indexOf(timer), 1);
      timer.fire();
    }
    for (const node of this.proposers) {
      node.proposer.tick(this.time);
      this.flushProposer(node);
    }
    // A state pinned for a transfer nobody asks about any more is released.
    for (const node of this.acceptors) node.replica?.tick(this.time);
  }

  // ---- Acceptors ----

  private handle(
    acceptor: AcceptorNode,
    replica: Replica,
    from: string,
    message: ProposerMessage,
  ): AcceptorReply<MutationOutcome> {
    switch (message.type) {
      case "prepare":
        this.ownBallot(message.ballot, from);
        return replica.prepare(message);
      case "accept": {
        this.ownBallot(message.ballot, from);
        const reply = replica.accept(message);
        if (reply.type === "rejected") this.staleAccepts++;
        if (reply.type === "accepted") {
          for (const entry of message.entries)
            this.vote(acceptor.name, entry.slot, message.ballot, entry.value);
        }
        this.trace(`${acceptor.name} ${reply.type} ${formatBallot(message.ballot)} from ${from}`);
        return reply;
      }
      case "commit":
        return replica.commit(message);
    }
  }

  /** The acceptor's non-Paxos RPCs, as acceptors/acceptor-object.ts answers them. */
  private serve(node: AcceptorNode, replica: Replica, from: string, rpc: number, request: Request): void {
    const answer = (reply: Reply) => {
      if (node.replica === replica) this.send(node.name, from, { kind: "reply", rpc, reply });
    };
    const position = (): ReplicaPosition => ({
      chosenThrough: replica.chosenThrough,
      storeRev: replica.store.rev,
    });
    const behind = () => ({
      ok: false as const,
      error: { code: "TIMEOUT" as const, message: `${node.name} has not caught up with the read barrier` },
      ...position(),
    });
    switch (request.kind) {
      case "fetch":
        answer({ kind: "fetched", message: replica.fetch(request.message) });
        return;
      case "transfer":
        answer({ kind: "transfer", reply: replica.transferChunk(request.request, this.time) });
        return;
      case "status": {
        const { maxAccepted, chosenThrough } = replica.status();
        answer({ kind: "status", status: { name: node.name, maxAccepted, chosenThrough } });
        return;
      }
      case "read": {
        const { minSlot, catchUpMs: waitMs = 0, query } = request.request;
        this.reachSlot(node, replica, minSlot, waitMs, (reached) => {
          if (!reached) {
            answer({ kind: "read", reply: behind() });
            return;
          }
          const store = replica.store;
          try {
            const atRev = store.rev;
            const result = executeRead(store, query, atRev);
            answer({ kind: "read", reply: { ok: true, result, readAt: atRev, ...position() } });
          } catch (error) {
            answer({ kind: "read", reply: { ok: false, error: toErrorValue(error), ...position() } });
          }
        });
        return;
      }
      case "wait": {
        const { minSlot, catchUpMs: waitMs = 0, glob, rev, timeoutMs } = request.request;
        this.reachSlot(node, replica, minSlot, waitMs, (reached) => {
          if (!reached) {
            answer({ kind: "wait", reply: behind() });
            return;
          }
          let event: StoreEvent | undefined;
          let failed: unknown;
          const found = () => {
            try {
              // Read anew each time: a state transfer may have replaced the store meanwhile.
              event = replica.store.firstEvent(glob, rev);
            } catch (error) {
              // The rev left the window while waiting: that ends the WAIT as TOO_LATE.
              failed = error;
            }
            return event !== undefined || failed !== undefined;
          };
          const reply = () =>
            answer({
              kind: "wait",
              reply:
                failed === undefined
                  ? { ok: true, event, ...position() }
                  : { ok: false, error: toErrorValue(failed), ...position() },
            });
          if (found()) {
            reply();
            return;
          }
          this.until(node, replica, found, timeoutMs, reply);
        });
        return;
      }
    }
  }

  /** Calls `then(true)` once the replica applied `slot`, fetching the gap meanwhile, or `then(false)` after `waitMs`. */
  private reachSlot(
    node: AcceptorNode,
    replica: Replica,
    slot: Slot | undefined,
    waitMs: number,
    then: (reached: boolean) => void,
  ): void {
    if (slot === undefined || replica.chosenThrough >= slot) {
      then(true);
      return;
    }
    replica.expect(slot);
    this.startCatchUp(node);
    this.until(node, replica, () => replica.chosenThrough >= slot, waitMs, then);
  }

  /** Re-checks `condition` after every apply until it holds or `waitMs` pass; a crash drops it. */
  private until(
    node: AcceptorNode,
    replica: Replica,
    condition: () => boolean,
    waitMs: number,
    then: (met: boolean) => void,
  ): void {
    if (condition()) {
      then(true);
      return;
    }
    let settled = false;
    const check = () => {
      if (settled || node.replica !== replica) return true;
      if (!condition()) return false;
      settled = true;
      then(true);
      return true;
    };
    node.parked.add(check);
    this.later(waitMs, () => {
      if (settled || node.replica !== replica) return;
      settled = true;
      node.parked.delete(check);
      then(false);
    });
  }

  /** After the replica learnt slots: watch events, parked requests, and catch-up if it saw a gap. */
  private afterLearning(node: AcceptorNode, replica: Replica): void {
    if (node.replica !== replica) return;
    const store = replica.store;
    if (store.rev > node.deliveredThrough) {
      this.deliverWatch(node, replica);
      node.deliveredThrough = store.rev;
    }
    for (const check of [...node.parked]) if (check()) node.parked.delete(check);
    if (replica.missing()) this.startCatchUp(node);
  }

  private startCatchUp(node: AcceptorNode): void {
    const replica = node.replica;
    if (!replica || node.catchUp) return;
    const peers = this.acceptorNames.filter((n) => n !== node.name);
    node.catchUp = new CatchUp({ peers, firstPeer: this.random.int(peers.length) });
    this.continueCatchUp(node, replica, node.catchUp);
  }

  private continueCatchUp(node: AcceptorNode, replica: Replica, plan: CatchUp): void {
    if (node.replica !== replica || node.catchUp !== plan) return;
    const step = plan.next(replica.missing());
    switch (step.kind) {
      case "done":
      case "give-up":
        node.catchUp = undefined;
        if (step.kind === "give-up") {
          this.trace(`${node.name} catch-up: ${step.message}`);
          // As the acceptor's alarm does: a replica that knows it is behind tries again a while later.
          this.later(followEveryMs, () => {
            if (node.replica === replica && replica.missing()) this.startCatchUp(node);
          });
        }
        return;
      case "wait":
        this.counts.catchUpPauses++;
        this.later(step.ms, () => this.continueCatchUp(node, replica, plan));
        return;
      case "transfer":
        this.transfer(node, replica, plan, step.peer, 0);
        return;
      case "fetch": {
        this.counts.catchUpFetches++;
        const before = replica.chosenThrough;
        const { peer } = step;
        this.call(
          node.name,
          peer,
          { kind: "fetch", message: step.fetch },
          rpcTimeoutMs,
          (reply) => {
            if (node.replica !== replica) return;
            if (reply.kind === "fetched" && reply.message.trimmedThrough !== undefined) {
              this.trace(`${node.name} catch-up: ${peer} trimmed through ${reply.message.trimmedThrough}`);
              plan.trimmed(peer, reply.message.trimmedThrough);
            } else if (reply.kind === "fetched") {
              replica.learn(reply.message.entries);
              plan.answered(peer, replica.chosenThrough > before);
              this.afterLearning(node, replica);
            } else {
              plan.unreachable(peer);
            }
            this.continueCatchUp(node, replica, plan);
          },
          () => {
            plan.unreachable(peer);
            this.continueCatchUp(node, replica, plan);
          },
        );
      }
    }
  }

  /** A state transfer from `peer`, a chunk per round trip, as acceptors/acceptor-object.ts runs it. */
  private transfer(
    node: AcceptorNode,
    replica: Replica,
    plan: CatchUp,
    peer: string,
    restarts: number,
    first = true,
  ): void {
    if (node.replica !== replica || node.catchUp !== plan) return;
    const request = replica.transferRequest();
    // Chunks staged before a crash: the transfer goes on from them.
    if (first && request.slot !== undefined) this.counts.transfersResumed++;
    this.counts.transferChunks++;
    const failed = () => {
      this.trace(`${node.name} transfer from ${peer} failed`);
      plan.transferred(peer, false);
      this.continueCatchUp(node, replica, plan);
    };
    this.call(
      node.name,
      peer,
      { kind: "transfer", request },
      rpcTimeoutMs,
      (reply) => {
        if (node.replica !== replica || node.catchUp !== plan) return;
        if (reply.kind !== "transfer") {
          failed();
          return;
        }
        const progress = replica.takeTransferChunk(reply.reply);
        this.trace(
          `${node.name} transfer from ${peer}: ${progress} (${JSON.stringify(request.cursor)} at slot ${request.slot ?? "new"})`,
        );
        if (progress === "installed") {
          this.counts.transfers++;
          this.trace(`${node.name} installed a state transfer from ${peer} at slot ${replica.chosenThrough}`);
          plan.transferred(peer, true);
          this.afterLearning(node, replica);
          this.continueCatchUp(node, replica, plan);
          return;
        }
        if (progress === "restart") {
          this.trace(
            `${node.name} transfer from ${peer} starts again: ${reply.reply.type === "transfer-refused" ? reply.reply.reason : "another slot"}`,
          );
          this.counts.transferRestarts++;
          if (restarts + 1 > transferRestartsMax) {
            failed();
            return;
          }
        }
        this.transfer(node, replica, plan, peer, progress === "restart" ? restarts + 1 : restarts, false);
      },
      failed,
    );
  }

  // ---- Readers ----

  private startReads(): void {
    for (const reader of this.readers) {
      if (reader.busy || this.readsStarted >= this.options.readsMax) continue;
      if (!this.random.chance(this.options.readRate)) continue;
      this.readsStarted++;
      const kind = this.random.int(4);
      if (kind < 2) this.linearizableGet(reader);
      else if (kind < 3) this.staleGet(reader);
      else this.linearizableWait(reader);
    }
  }

  /**
   * The barrier of a status round that started after this call, shared with
   * the other reads of the reader's isolate, as server/barrier-rounds.ts does:
   * a read that finds a round in flight waits for the next one. Each read gets
   * a plan of its own (a plan is stateful) from the round's answers.
   */
  private sharedBarrier(reader: ReaderNode, settled: (state: SettledBarrier) => void): void {
    const host = reader.host;
    const arrivedAt = ++this.sequence;
    const running = host.batch.running;
    const pending: PendingBarrier = { reader: reader.name, arrivedAt, settled };
    if (this.options.joinRoundInFlight && running !== undefined) {
      host.rounds.get(running)?.reads.push(pending);
      this.counts.barriersShared++;
      return;
    }
    const arrival = host.batch.arrive(this.time);
    const round = host.rounds.get(arrival.round) ?? { startedAt: undefined, reads: [] };
    round.reads.push(pending);
    host.rounds.set(arrival.round, round);
    if (arrival.kind === "start") this.startRound(host, arrival.round);
    else this.counts.barriersShared++;
  }

  private startRound(host: ReaderHost, number: number): void {
    const round = host.rounds.get(number) ?? { startedAt: undefined, reads: [] };
    round.startedAt = ++this.sequence;
    host.rounds.set(number, round);
    this.counts.barrierRounds++;
    this.barrierRound(host.name, host.rttMs, (state) => {
      host.rounds.delete(number);
      host.batch.settled(number);
      // The reads waiting for the next round wake a little later, in their own requests, and the
      // first to claim it starts it; a read arriving meanwhile may start it first, for all of them.
      const next = number + 1;
      if ((host.rounds.get(next)?.reads.length ?? 0) > 0) {
        this.later(1, () => {
          if (host.batch.claim(next, this.time)) this.startRound(host, next);
        });
      }
      for (const read of round.reads) {
        // The rule that makes sharing safe (core/read-batch.ts).
        if (!this.options.joinRoundInFlight && (round.startedAt ?? 0) <= read.arrivedAt) {
          throw new SafetyViolation(`${read.reader}: used a status round that started before it arrived`);
        }
        read.settled(
          state.kind === "ready"
            ? { kind: "ready", plan: new ReadPlan(state.plan.answers, host.rttMs, state.plan.acceptors) }
            : state,
        );
      }
    });
  }

  /** A status round to every acceptor; `settled` runs once, when a majority answered or cannot. */
  private barrierRound(
    from: string,
    rttMs: Map<string, number>,
    settled: (state: SettledBarrier) => void,
  ): void {
    const barrier = new ReadBarrier(this.acceptorNames, rttMs);
    let reported = false;
    const report = (state: BarrierState) => {
      if (state.kind === "waiting" || reported) return;
      reported = true;
      settled(state);
    };
    for (const name of this.acceptorNames) {
      const sentAt = this.time;
      this.call(
        from,
        name,
        { kind: "status" },
        rpcTimeoutMs,
        (reply) => {
          if (reply.kind !== "status") {
            report(barrier.unreachable(name));
            return;
          }
          const ms = this.time - sentAt;
          const before = rttMs.get(name);
          rttMs.set(name, before === undefined ? ms : before * 0.8 + ms * 0.2);
          report(barrier.answer(reply.status));
        },
        () => report(barrier.unreachable(name)),
      );
    }
  }

  /**
   * Drives a read plan to its end, as the Worker's reader does: `ask` sends the
   * replica request and hands back its answer (undefined: unreachable).
   */
  private atBarrier<R extends ReadReply | WaitReply>(
    reader: ReaderNode,
    plan: ReadPlan,
    ask: (replica: string, minSlot: Slot, answer: (reply: R | undefined) => void) => void,
    finish: (reply: R | undefined) => void,
  ): void {
    let last: R | undefined;
    const next = (step: ReadStep): void => {
      switch (step.kind) {
        case "ask":
          ask(step.replica, step.minSlot, (reply) => {
            last = reply;
            next(reply ? plan.replied(step.replica, reply.chosenThrough) : plan.unreachable(step.replica));
          });
          return;
        case "done":
          reader.host.preferred = step.replica;
          finish(last);
          return;
        case "sync":
          this.sync(reader, step.through, (synced) => next(synced ? plan.synced() : plan.syncFailed()));
          return;
        case "no-quorum":
          this.trace(`${reader.name}: ${step.message}`);
          finish(undefined);
          return;
      }
    };
    next(plan.start());
  }

  /** Has the reader's isolate proposer choose every slot through `through`. */
  private sync(reader: ReaderNode, through: Slot, done: (synced: boolean) => void): void {
    // On the leader route a read barrier asks the leader to sync (server/runtime.ts, syncViaLeader).
    const node = this.options.leaderMoves
      ? this.proposerFor()
      : (this.proposers[reader.host.proposerIndex % this.proposers.length] as ProposerNode);
    const token = node.proposer.sync(through, this.time + commandTimeoutMs, this.time);
    const key = `${node.name}.${node.incarnation}.${token}`;
    let finished = false;
    const end = (synced: boolean) => {
      if (finished) return;
      finished = true;
      this.syncWaiters.delete(key);
      if (synced) this.counts.syncs++;
      done(synced);
    };
    this.syncWaiters.set(key, end);
    // A proposer that dies takes its syncs with it.
    this.later(commandTimeoutMs + 1, () => end(false));
    this.flushProposer(node);
  }

  private readRequest(
    reader: ReaderNode,
    replica: string,
    request: ReadRequest,
    answer: (r: ReadReply | undefined) => void,
  ): void {
    this.call(
      reader.name,
      replica,
      { kind: "read", request },
      request.timeoutMs + (request.catchUpMs ?? 0) + rpcTimeoutMs,
      (reply) => answer(reply.kind === "read" ? reply.reply : undefined),
      () => answer(undefined),
    );
  }

  private linearizableGet(reader: ReaderNode): void {
    reader.busy = true;
    const path = `/k${this.random.int(this.options.keys)}`;
    const recorded = this.recorder.invoke(reader.name, { kind: "get", path });
    const ackedAtInvoke = this.ackedRev;
    const request = (minSlot: Slot | undefined): ReadRequest => ({
      query: { op: "get", path },
      ...(minSlot === undefined ? {} : { minSlot, catchUpMs }),
      timeoutMs: 0,
    });
    const finish = (reply: ReadReply | undefined) => {
      reader.busy = false;
      if (reply === undefined) {
        this.readFailed(reader, recorded);
        return;
      }
      if (reply.storeRev < ackedAtInvoke) {
        throw new SafetyViolation(
          `${reader.name}: GET ${path} served at rev ${reply.storeRev}, but rev ${ackedAtInvoke} was seen before it started`,
        );
      }
      this.ackedRev = Math.max(this.ackedRev, reply.storeRev);
      const result = reply.ok ? reply.result : undefined;
      if (result?.op === "get") {
        this.checkReadAgainstLog(reader, path, reply.storeRev, result);
        recorded.ok({
          value: new TextDecoder().decode(result.value),
          rev: result.rev,
          storeRev: reply.storeRev,
        });
      } else if (!reply.ok && reply.error.code === "NOENT") {
        this.checkReadAgainstLog(reader, path, reply.storeRev, "NOENT");
        recorded.ok({ error: "NOENT", storeRev: reply.storeRev });
      } else {
        throw new SafetyViolation(`${reader.name}: GET ${path} answered ${JSON.stringify(reply)}`);
      }
      this.counts.linearizableReads++;
    };
    if (this.options.skipReadBarrier) {
      this.readRequest(reader, this.random.pick(this.acceptorNames), request(undefined), finish);
      return;
    }
    // The optimistic read goes out with the status round; it stands if its replica had reached the barrier.
    let optimistic: ReadReply | undefined | "pending" = "pending";
    let plan: ReadPlan | undefined;
    const decide = () => {
      if (optimistic === "pending" || plan === undefined) return;
      if (optimistic && plan.reaches(optimistic.chosenThrough)) {
        finish(optimistic);
        return;
      }
      this.atBarrier(
        reader,
        plan,
        (name, minSlot, answer) => this.readRequest(reader, name, request(minSlot), answer),
        finish,
      );
    };
    this.readRequest(reader, reader.host.preferred, request(undefined), (reply) => {
      optimistic = reply;
      decide();
    });
    this.sharedBarrier(reader, (state) => {
      if (state.kind === "no-quorum") {
        // The optimistic read may still be in flight: answer it into the void, as the Worker does.
        optimistic = undefined;
        return finish(undefined);
      }
      plan = state.plan;
      reader.host.preferred = plan.preferred;
      decide();
    });
  }

  private staleGet(reader: ReaderNode): void {
    reader.busy = true;
    const path = `/k${this.random.int(this.options.keys)}`;
    const first = this.random.int(this.acceptorNames.length);
    const order = this.acceptorNames.map(
      (_, i) => this.acceptorNames[(first + i) % this.acceptorNames.length] as string,
    );
    const tryNext = (index: number) => {
      const name = order[index];
      if (name === undefined) {
        reader.busy = false;
        this.counts.readsNoQuorum++;
        return;
      }
      this.readRequest(reader, name, { query: { op: "get", path }, timeoutMs: 0 }, (reply) => {
        if (reply === undefined) {
          tryNext(index + 1);
          return;
        }
        reader.busy = false;
        const result = reply.ok ? reply.result : undefined;
        if (result?.op === "get") this.checkReadAgainstLog(reader, path, reply.storeRev, result);
        else if (!reply.ok && reply.error.code === "NOENT")
          this.checkReadAgainstLog(reader, path, reply.storeRev, "NOENT");
        else throw new SafetyViolation(`${reader.name}: stale GET ${path} answered ${JSON.stringify(reply)}`);
        // A stale read may be old, but one replica's store never goes back, not even across a restart.
        const key = `${reader.name}/${name}`;
        const seen = this.staleSeen.get(key) ?? 0;
        if (reply.storeRev < seen) {
          throw new SafetyViolation(
            `${reader.name}: ${name} answered at rev ${reply.storeRev} after rev ${seen}`,
          );
        }
        this.staleSeen.set(key, reply.storeRev);
        this.counts.staleReads++;
      });
    };
    tryNext(0);
  }

  private linearizableWait(reader: ReaderNode): void {
    reader.busy = true;
    const glob = this.random.pick(["/**", "/k0", "/k*", "/k1"]);
    const rev = Math.max(1, this.ackedRev - 4 + this.random.int(8));
    const ackedAtInvoke = this.ackedRev;
    const request = (minSlot: Slot): WaitRequest => ({
      glob,
      rev,
      minSlot,
      catchUpMs,
      timeoutMs: waitTimeoutMs,
    });
    const finish = (reply: WaitReply | undefined) => {
      reader.busy = false;
      if (reply === undefined) {
        this.readFailed(reader, undefined);
        return;
      }
      const truth = this.reference.firstEvent(glob, rev);
      const what = `${reader.name}: WAIT ${glob} from rev ${rev}`;
      if (reply.ok && reply.event) {
        if (
          describeEvent(reply.event) !== describeEvent(truth) ||
          !bytesEqual(reply.event.value, truth?.value ?? new Uint8Array())
        ) {
          throw new SafetyViolation(
            `${what} answered ${describeEvent(reply.event)}, the chosen log says ${describeEvent(truth)}`,
          );
        }
      } else if (reply.ok) {
        if (truth && truth.rev <= ackedAtInvoke) {
          throw new SafetyViolation(
            `${what} timed out, but ${describeEvent(truth)} was acknowledged before it started (rev ${ackedAtInvoke})`,
          );
        }
      } else if (reply.error.code === "TOO_LATE") {
        // A replica installed by a state transfer at rev R holds no event at or before R.
        if (rev >= reply.storeRev - this.options.historyRevs && rev > this.maxHistoryFloor()) {
          throw new SafetyViolation(`${what}: TOO_LATE at store rev ${reply.storeRev}, inside the window`);
        }
      } else {
        throw new SafetyViolation(`${what} answered ${JSON.stringify(reply.error)}`);
      }
      this.counts.waits++;
    };
    this.sharedBarrier(reader, (state) => {
      if (state.kind === "no-quorum") {
        finish(undefined);
        return;
      }
      reader.host.preferred = state.plan.preferred;
      this.atBarrier<WaitReply>(
        reader,
        state.plan,
        (name, minSlot, answer) =>
          this.call(
            reader.name,
            name,
            { kind: "wait", request: request(minSlot) },
            waitTimeoutMs + catchUpMs + rpcTimeoutMs,
            (reply) => answer(reply.kind === "wait" ? reply.reply : undefined),
            () => answer(undefined),
          ),
        finish,
      );
    });
  }

  private readFailed(reader: ReaderNode, recorded: PendingOperation | undefined): void {
    // A read that got no answer changed nothing.
    recorded?.fail();
    this.counts.readsNoQuorum++;
    if (this.livenessReads.has(reader.name)) {
      throw new SafetyViolation(`liveness: ${reader.name} got NO_QUORUM after the cluster healed`);
    }
  }

  private checkReadAgainstLog(
    reader: ReaderNode,
    path: string,
    storeRev: number,
    answer: { value: Uint8Array; rev: number } | "NOENT",
  ): void {
    const wrong = this.reference.explainGet(path, storeRev, answer);
    if (wrong) throw new SafetyViolation(`${reader.name}: ${wrong}`);
  }

  // ---- The watch ----

  private startWatch(glob: string): void {
    this.watcher = {
      glob,
      state: "idle",
      host: undefined,
      hostReplica: undefined,
      startRev: undefined,
      lastSeenRev: 0,
      nextRev: 0,
      invokedAckedRev: this.ackedRev,
      delivered: 0,
      reconnects: 0,
    };
    this.connect(this.watcher);
  }

  /** The client lands on a random live acceptor, as the Worker hands /v1/ws to one. */
  private connect(watch: Watcher): void {
    const live = this.acceptors.filter((a) => a.replica !== undefined);
    if (live.length === 0) {
      this.disconnect(watch);
      return;
    }
    const host = this.random.pick(live);
    const replica = host.replica as Replica;
    watch.state = "connecting";
    watch.host = host;
    watch.hostReplica = replica;
    const resume = watch.startRev === undefined ? undefined : Math.max(watch.startRev, watch.lastSeenRev + 1);
    // The host runs the barrier and catches up to it; without a rev, the watch starts after that point.
    this.barrierRound(host.name, new Map(), (state) => {
      if (resume !== undefined || host.replica !== replica || watch.host !== host) return;
      if (state.kind === "no-quorum") {
        this.disconnect(watch);
        return;
      }
      this.reachSlot(host, replica, state.plan.slot, catchUpMs, (reached) => {
        if (host.replica !== replica || watch.host !== host) return;
        if (!reached) {
          this.disconnect(watch);
          return;
        }
        this.establish(watch, host, replica, replica.store.rev + 1);
      });
    });
    if (resume !== undefined) this.establish(watch, host, replica, resume);
  }

  private establish(watch: Watcher, host: AcceptorNode, replica: Replica, from: number): void {
    const store = replica.store;
    if (from < store.oldestEventRev) {
      watch.state = "too-late";
      watch.host = undefined;
      this.counts.watchTooLate++;
      this.trace(`watch ${watch.glob}: TOO_LATE resuming at rev ${from} on ${host.name}`);
      return;
    }
    if (watch.startRev === undefined) {
      if (from - 1 < watch.invokedAckedRev) {
        throw new SafetyViolation(
          `watch ${watch.glob} started at rev ${from}, before rev ${watch.invokedAckedRev} acknowledged earlier`,
        );
      }
      watch.startRev = from;
    }
    this.trace(`watch ${watch.glob} on ${host.name} from rev ${from}`);
    watch.state = "watching";
    watch.nextRev = from;
    host.watch = watch;
    this.follow(host, replica, watch);
    for (const event of store.eventsFrom(Math.min(from, store.rev + 1))) this.offer(watch, event);
    watch.nextRev = Math.max(watch.nextRev, store.rev + 1);
  }

  private disconnect(watch: Watcher): void {
    watch.state = "idle";
    watch.host = undefined;
    watch.reconnects++;
    this.later(20 + this.random.int(100), () => {
      if (watch.state === "idle") this.connect(watch);
    });
  }

  /** While a watch runs here, ask the peers now and then whether this replica missed a slot. */
  private follow(host: AcceptorNode, replica: Replica, watch: Watcher): void {
    this.later(followEveryMs, () => {
      if (host.replica !== replica || host.watch !== watch) return;
      for (const peer of this.acceptorNames) {
        if (peer === host.name) continue;
        this.call(
          host.name,
          peer,
          { kind: "status" },
          rpcTimeoutMs,
          (reply) => {
            if (host.replica !== replica || reply.kind !== "status") return;
            if (reply.status.chosenThrough > replica.chosenThrough) {
              replica.expect(reply.status.chosenThrough);
              this.startCatchUp(host);
            }
          },
          () => undefined,
        );
      }
      this.follow(host, replica, watch);
    });
  }

  /** The host's side of delivery: the events applied since the last call go to the watch it hosts. */
  private deliverWatch(node: AcceptorNode, replica: Replica): void {
    const watch = node.watch;
    if (watch?.state !== "watching") return;
    const store = replica.store;
    const from = node.deliveredThrough + 1;
    if (from < store.oldestEventRev) {
      // One apply (or a state transfer) jumped past the window: events between are gone, and the watch ends TOO_LATE if it needed them.
      if (watch.nextRev < store.oldestEventRev) {
        watch.state = "too-late";
        node.watch = undefined;
        this.counts.watchTooLate++;
        this.trace(`watch ${watch.glob}: TOO_LATE on ${node.name}, window starts at ${store.oldestEventRev}`);
        return;
      }
    }
    for (const event of store.eventsFrom(Math.max(from, store.oldestEventRev))) this.offer(watch, event);
    watch.nextRev = Math.max(watch.nextRev, store.rev + 1);
  }

  /** The client's side: each event must be the next one of the chosen log for the glob. */
  private offer(watch: Watcher, event: StoreEvent): void {
    if (event.rev < watch.nextRev || !compileGlob(watch.glob).matches(event.path)) return;
    watch.nextRev = event.rev + 1;
    const from = Math.max(watch.startRev ?? 0, watch.lastSeenRev + 1);
    const truth = this.reference.firstEvent(watch.glob, from);
    if (
      describeEvent(event) !== describeEvent(truth) ||
      !bytesEqual(event.value, truth?.value ?? new Uint8Array())
    ) {
      throw new SafetyViolation(
        `watch ${watch.glob}: after rev ${from - 1} got ${describeEvent(event)}, the chosen log says ${describeEvent(truth)} is next`,
      );
    }
    watch.lastSeenRev = event.rev;
    watch.delivered++;
    this.counts.watchEvents++;
  }

  /** Once healed and caught up, a running watch has had every event of its glob. */
  private checkWatchComplete(): void {
    const watch = this.watcher;
    if (watch === undefined || watch.state !== "watching" || watch.startRev === undefined) return;
    const from = Math.max(watch.startRev, watch.lastSeenRev + 1);
    const missed = this.reference.firstEvent(watch.glob, from);
    if (missed) throw new SafetyViolation(`watch ${watch.glob} never got ${describeEvent(missed)}`);
  }

  // ---- Invariants ----

  private vote(
    acceptor: string,
    slot: Slot,
    ballot: { round: number; proposer: string },
    value: Uint8Array,
  ): void {
    const key = `${slot}/${formatBallot(ballot)}`;
    let entry = this.votes.get(key);
    if (!entry) {
      entry = { value, voters: new Set() };
      this.votes.set(key, entry);
    } else if (!bytesEqual(entry.value, value)) {
      throw new SafetyViolation(`ballot ${formatBallot(ballot)} proposed two values for slot ${slot}`);
    }
    entry.voters.add(acceptor);
    if (entry.voters.size < this.quorum) return;
    const before = this.chosen.get(slot);
    if (before && !bytesEqual(before, value)) {
      throw new SafetyViolation(`slot ${slot} chosen with two different values`);
    }
    this.chosen.set(slot, value);
    this.reference.advance(this.chosen);
  }

  /** A ballot is one proposer's: two leaders never propose at one ballot. */
  private ownBallot(ballot: { round: number; proposer: string }, from: string): void {
    const key = formatBallot(ballot);
    const owner = this.ballotOwner.get(key);
    if (owner === undefined) this.ballotOwner.set(key, from);
    else if (owner !== from) throw new SafetyViolation(`ballot ${key} proposed by ${owner} and ${from}`);
  }

  /** Every replica names the same leader for a term, and a replica's term never goes back. */
  private checkLeaderTerms(node: AcceptorNode, replica: Replica): void {
    const { term, leader } = replica.store.leaderTerm;
    const before = this.termSeen.get(node.name) ?? 0;
    if (term < before)
      throw new SafetyViolation(`${node.name}'s leader term went back from ${before} to ${term}`);
    this.termSeen.set(node.name, term);
    if (term === 0) return;
    const known = this.leaderOfTerm.get(term);
    if (known === undefined) {
      this.leaderOfTerm.set(term, leader);
      this.counts.leaderTerms++;
    } else if (known !== leader) {
      throw new SafetyViolation(`leader term ${term} names acceptor-${known} and acceptor-${leader}`);
    }
  }

  private checkInvariants(): void {
    for (const node of this.acceptors) {
      const replica = node.replica;
      if (!replica) continue;
      this.checkLeaderTerms(node, replica);
      const from = (this.checkedThrough.get(node.name) ?? 0) + 1;
      const through = replica.chosenThrough;
      if (through < from) continue;
      // Every slot a replica applied must be the one value the votes chose: the applied
      // logs are then prefixes of one log.
      for (const entry of node.storage.readChosen(from, through, Number.MAX_SAFE_INTEGER)) {
        const chosen = this.chosen.get(entry.slot);
        if (!chosen)
          throw new SafetyViolation(`${node.name} applied slot ${entry.slot}, which no quorum chose`);
        if (!bytesEqual(chosen, entry.value)) {
          throw new SafetyViolation(
            `${node.name} applied a value for slot ${entry.slot} that was not chosen`,
          );
        }
      }
      this.checkedThrough.set(node.name, through);
      const tree = replica.store.serialize();
      const seen = this.treeAtRev.get(replica.store.rev);
      if (seen === undefined) this.treeAtRev.set(replica.store.rev, tree);
      else if (seen !== tree)
        throw new SafetyViolation(`${node.name} has a different tree at rev ${replica.store.rev}`);
    }
  }

  /** Every decided answer a client got is what the one log gives for that mutation. */
  private checkOutcomes(): void {
    const top = this.maxChosen();
    for (let slot = 1; slot <= top; slot++) {
      if (!this.chosen.has(slot)) {
        throw new SafetyViolation(`slot ${slot} has no chosen value after the liveness run`);
      }
    }
    const outcomes = this.reference.outcomes;
    for (const [id, record] of this.clients) {
      if (record.result?.kind !== "decided") continue;
      const truth = outcomes.get(id);
      if (!truth) throw new SafetyViolation(`acknowledged ${id} is not in the log`);
      if (JSON.stringify(truth) !== JSON.stringify(record.result.outcome)) {
        throw new SafetyViolation(
          `acknowledged ${id} answered ${JSON.stringify(record.result.outcome)}, log says ${JSON.stringify(truth)}`,
        );
      }
    }
  }

  /** The highest rev at which some replica's history starts because a state transfer installed it there. */
  private maxHistoryFloor(): number {
    return Math.max(0, ...this.acceptors.map((a) => a.storage.storeBackend.loadCounters().historyFloor));
  }

  private describe(): string {
    const replicas = this.acceptors.map((a) => `${a.name}@${a.replica?.chosenThrough ?? "down"}`).join(" ");
    const pending = [...this.clients.values()].filter((c) => !c.result).length;
    const busy = this.readers.filter((r) => r.busy).map((r) => r.name);
    return `time ${this.time}, max chosen ${this.maxChosen()}, ${replicas}, ${pending} writes unanswered, readers busy: [${busy.join(" ")}], watch ${this.watcher?.state ?? "none"}`;
  }

  private trace(line: string): void {
    this.options.trace?.(`[${this.time}] ${line}`);
  }
}
