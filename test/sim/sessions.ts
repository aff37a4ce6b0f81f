// A seeded simulation of sessions (SPEC §6, issue 12): a cluster of replicas
// (core Replica), each running the real keeper's role (server/keeper-role.ts:
// grants and leases from core/keeper-lease.ts, terms claimed through Paxos,
// the real SessionKeeping and core SessionKeeper inside) on a simulated clock
// that drifts and jumps; socket hosts running the real
// acceptors/socket-sessions.ts forwarding; keepalives routed as
// server/runtime.ts routes them (the believed keeper, its redirects, then the
// others); a Worker proposer that writes when the preferred acceptor does not
// answer; and clients that open sessions, write ephemeral files under them and
// keep them alive at random intervals over HTTP or a socket. Some clients stop
// ("crash"), some are cut off from the keeper for a while. The keeper crashes,
// for a moment or long enough that another acceptor takes the role over;
// acceptors crash, messages are delayed and dropped.
//
// Everything is timed in true simulated time. Per session it records the send
// time of the last keepalive a keeper answered alive (or of the open), when a
// keeper last heard one, and the time its end was decided (applied by the one
// chosen log). Checked:
// - never early: an expired session's end is decided no sooner than ttl after
//   the send of its last keepalive answered alive, whichever keeper answered;
// - not much late (liveness phase: no faults, every acceptor up, or all but
//   the preferred keeper, which stays down so that another must take over): a
//   session whose client stopped ends within 2 × ttl + 5 s of its last
//   keepalive (sent, or heard if a slow route delivered it later), or of the
//   heal if that was later;
// - an end deletes every file the session owned, in consecutive revs in
//   bytewise path order with nothing between, and a SET under a session is
//   NOSESSION exactly when the session is not alive.
//
// Each acceptor's host is modelled as acceptors/acceptor-object.ts wires the
// role: an alarm at nextWakeMs() running wake(), afterApply() when its
// replica applies, keepalives through keepalive(). The alarm is a platform
// timer in true time; the clocks' readings are what drift and jump. A socket
// frame counts as a keepalive answered alive when the forward that covers it
// (the last one its host sent for that session, or the hold at open) was: the
// forwarding delay the keeper's grace is meant to absorb.
//
// As the hosts once were, some seeds broke SPEC §6 (sessions.test.ts names
// them). Each change they needed is modelled here as a switch in
// SessionFixes, on by default; `npm run sim -- --sessions --seed N --without
// <fix>` shows a seed without it.

import { SocketSessions } from "../../acceptors/socket-sessions";
import { CatchUp } from "../../core/catch-up";
import { KeeperGrants, type PeerGrantAnswer } from "../../core/keeper-lease";
import { batchBytesMax, batchMutationsMax, keeperLeaseMs } from "../../core/limits";
import {
  decodeBatch,
  encodeBatch,
  encodedSize,
  type Mutation,
  type MutationOutcome,
} from "../../core/mutation";
import { formatBallot } from "../../core/paxos/ballot";
import { bytesEqual } from "../../core/paxos/learner";
import type { AcceptorReply, ProposerMessage, Slot } from "../../core/paxos/messages";
import { type Completion, Proposer } from "../../core/paxos/proposer";
import { Replica } from "../../core/replica";
import { clockStepMsMaxDefault } from "../../core/session-keeper";
import { Store } from "../../core/store";
import { type KeeperRedirect, KeeperRole } from "../../server/keeper-role";
import { KeeperRoute } from "../../server/keeper-route";
import type { KeepaliveAnswer } from "../../server/session-keeping";
import { MemoryStorage } from "./memory-storage";
import { Random } from "./random";

export interface SessionSimulationOptions {
  seed: number;
  acceptors: number;
  clients: number;
  /** Share of clients that keep their session alive over a socket (frames forwarded by the socket's host). */
  socketShare: number;
  /** Simulated ms with faults; the liveness phase follows. */
  safetyMs: number;
  dropRate: number;
  delayMsMax: number;
  /** Chances per simulated second. */
  acceptorCrashRate: number;
  keeperCrashRate: number;
  partitionRate: number;
  clockJumpRate: number;
  workerCrashRate: number;
  /** In the liveness phase the preferred keeper stays down: the others must take the role over. */
  keeperDownInLiveness: boolean;
  /** The keeper's clock rate error: +1e-4 runs 100 ppm fast. */
  keeperClockRate: number;
  /** Largest clock jump, either way. */
  clockJumpMsMax: number;
  ttls: readonly number[];
  /** Share of keepalive gaps that are longer than the ttl (the session may rightly expire). */
  longGapShare: number;
  /** Chance per keepalive that the client stops for good (a crash). */
  clientCrashRate: number;
  /**
   * Changes to the hosts that this simulation showed are needed, each modelled
   * here (the hosts themselves are not changed): off, the run is the hosts as
   * they are, and the seeds in sessions.test.ts show what goes wrong.
   */
  fixes: SessionFixes;
  trace?: (line: string) => void;
}

export interface SessionFixes {
  /**
   * The keeper ticks when its replica applies a slot, not only at its alarm:
   * acceptors/acceptor-object.ts sets the alarm only after it starts, after a
   * keepalive and after an alarm, so a session opened while the keeper keeps
   * none, and never kept alive, never expires.
   */
  tickOnApply: boolean;
  /**
   * The keeper's propose() resolves once its own replica has applied the
   * write (else it rejects, and the keeper names the session again later).
   * SessionKeeping calls ended() as soon as the outcome arrives, which the
   * first replica to commit gives; if the keeper's own replica is behind (a
   * gap before that slot), the session is still alive in its store, and a
   * keepalive then finds it "unknown", sees it in the store, opens it again
   * and answers alive after its end was decided.
   */
  keeperAppliesBeforeEnded: boolean;
}

export const allFixes: SessionFixes = {
  tickOnApply: true,
  keeperAppliesBeforeEnded: true,
};

/** The shape of the run for a seed: the seed also picks how hostile the world is. */
export function sessionSimulationForSeed(seed: number): SessionSimulationOptions {
  const r = new Random(seed ^ 0x5e55);
  return {
    seed,
    acceptors: r.pick([3, 5]),
    clients: 4 + r.int(7),
    socketShare: r.pick([0, 0.3, 0.6]),
    safetyMs: r.pick([15_000, 25_000, 40_000]),
    dropRate: r.pick([0, 0.02, 0.1, 0.25]),
    delayMsMax: r.pick([5, 40, 150]),
    acceptorCrashRate: r.pick([0, 0.05, 0.2]),
    keeperCrashRate: r.pick([0, 0.05, 0.15]),
    partitionRate: r.pick([0, 0.1, 0.3]),
    clockJumpRate: r.pick([0, 0.1, 0.4]),
    workerCrashRate: r.pick([0, 0.05]),
    keeperDownInLiveness: r.chance(0.4),
    // Rate errors up to 5%: within what the grace covers at these ttls (core/session-keeper.ts).
    keeperClockRate: r.pick([0, 5e-5, -5e-5, 1e-3, -1e-3, 0.05, -0.05]),
    clockJumpMsMax: r.pick([2_000, 30_000]),
    ttls: r.pick([[1_000], [1_000, 2_000, 5_000], [3_000, 8_000]]),
    longGapShare: r.pick([0, 0.05, 0.15]),
    clientCrashRate: r.pick([0.01, 0.05]),
    fixes: allFixes,
  };
}

export class SessionViolation extends Error {}

export interface SessionSimulationReport {
  seed: number;
  simulatedMs: number;
  sessions: number;
  keepalives: number;
  aliveAnswers: number;
  socketFrames: number;
  forwards: number;
  expiries: number;
  clientEnds: number;
  filesDeletedByEnds: number;
  keeperRestarts: number;
  /** Terms claimed by an acceptor other than the preferred keeper: the role moved. */
  failovers: number;
  clockJumps: number;
  /** Sessions checked against "not much late" in the liveness phase. */
  lateChecked: number;
  /** The smallest margin, in ms, by which an expiry kept "never early" (Infinity with none). */
  earliestMarginMs: number;
}

/** Timings the real cluster uses (server/, core/cluster-config.ts). */
const writeTimeoutMs = 4_000;
const rpcTimeoutMs = 1_000;
const barrierCatchUpMs = 500;
const proposerTickMs = 10;
const faultTickMs = 100;
const keeperName = "acceptor-1";
const livenessSlackMs = 10_000;

/** A drifting clock that may jump: readings are what Date.now() would say on that machine. */
class SimClock {
  private base: number;
  private since: number;
  constructor(
    private readonly trueTime: () => number,
    offset: number,
    private rate: number,
  ) {
    this.since = trueTime();
    this.base = offset + this.since;
  }
  read(): number {
    return Math.floor(this.base + (this.trueTime() - this.since) * (1 + this.rate));
  }
  jump(ms: number): void {
    this.base = this.read() + ms;
    this.since = this.trueTime();
  }
  /** True ms until this clock has advanced `ms` (no jumps assumed). */
  trueDelay(ms: number): number {
    return Math.max(1, Math.ceil(ms / (1 + this.rate)));
  }
  setRate(rate: number): void {
    this.base = this.read();
    this.since = this.trueTime();
    this.rate = rate;
  }
}

interface ProposerHandle {
  address: string;
  /** The node it runs on, for partitions and crashes. */
  site: string;
  proposer: Proposer<Mutation, MutationOutcome>;
  waiting: Map<string, { resolve: (o: MutationOutcome) => void; reject: (e: Error) => void }[]>;
  syncs: Map<number, (synced: boolean) => void>;
  dead: boolean;
}

interface Node {
  name: string;
  storage: MemoryStorage;
  replica: Replica | undefined;
  incarnation: number;
  catchingUp: Replica | undefined;
  parked: Set<() => boolean>;
  clock: SimClock;
  sockets: SocketSessions | undefined;
  /** The keeper's role (server/keeper-role.ts), on every node. */
  role: KeeperRole | undefined;
  /** The node's grants of the role; what acceptors/keeper-grant-storage.ts stores survives a crash. */
  grants: KeeperGrants | undefined;
  grantStore: { lastGrantee?: string; clockMs: number; heard: Map<string, number> };
  proposer: ProposerHandle | undefined;
  alarmAt: number | undefined;
}

/** A forwarded keepalive from a socket host (or the hold at open/attach): which sessions the keeper answered alive. */
interface Forward {
  ids: Set<string>;
  alive: Set<string>;
}

interface SessionRecord {
  session: string;
  ttlMs: number;
  client: string;
  openSentAt: number;
  openedAt: number | undefined;
  /** Send time of the last keepalive the keeper answered alive (or of the open). */
  lastAliveSentAt: number;
  /** Socket frames: each counts as a keepalive answered alive if the forward covering it was. */
  frames: { sentAt: number; cover: Forward }[];
  /** Send time of the client's last keepalive or frame, answered or not. */
  lastSentAt: number;
  /** When a keeper last counted a keepalive for it: one that took long to arrive is counted late. */
  lastHeardAt: number;
  endedAt: number | undefined;
  endReason: "client" | "expired" | undefined;
}

interface Client {
  name: string;
  socket: boolean;
  stopped: boolean;
  /** In the liveness phase: the time it stops. */
  stopAt: number | undefined;
  files: number;
}

interface Timer {
  at: number;
  seq: number;
  fire: () => void;
}

const bytewise = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

export class SessionSimulation {
  private readonly random: Random;
  private time = 0;
  private seq = 0;
  private readonly heap: Timer[] = [];
  private dirty = false;
  private faults = true;
  private livenessFrom: number | undefined;
  private readonly nodes: Node[] = [];
  private readonly names: string[] = [];
  private readonly quorum: number;
  private worker: ProposerHandle;
  private workerIncarnation = 0;
  private readonly clients: Client[] = [];
  private readonly sessions = new Map<string, SessionRecord>();
  /** Blocked links, as "a|b" (both ways), until a true time. */
  private readonly cut = new Map<string, number>();
  private nextId = 1;
  private failure: SessionViolation | undefined;

  // The one chosen log, from the votes, and the reference store it builds.
  private readonly votes = new Map<string, { value: Uint8Array; voters: Set<string> }>();
  private readonly chosen = new Map<Slot, Uint8Array>();
  private readonly reference = new Store({ historyRevs: Number.MAX_SAFE_INTEGER });
  private referenceSlot = 0;
  /** Owner of each ephemeral file, as the events say. */
  private readonly owner = new Map<string, string>();
  private readonly alive = new Set<string>();

  private readonly counts = {
    keepalives: 0,
    aliveAnswers: 0,
    socketFrames: 0,
    forwards: 0,
    expiries: 0,
    clientEnds: 0,
    filesDeletedByEnds: 0,
    keeperRestarts: 0,
    failovers: 0,
    clockJumps: 0,
    lateChecked: 0,
  };

  constructor(private readonly options: SessionSimulationOptions) {
    this.random = new Random(options.seed);
    this.quorum = Math.floor(options.acceptors / 2) + 1;
    for (let i = 0; i < options.acceptors; i++) {
      const name = `acceptor-${i}`;
      this.names.push(name);
      const storage = new MemoryStorage();
      const rate = name === keeperName ? options.keeperClockRate : (this.random.next() - 0.5) * 2e-4;
      this.nodes.push({
        name,
        storage,
        replica: undefined,
        incarnation: 0,
        catchingUp: undefined,
        parked: new Set(),
        clock: new SimClock(() => this.time, 1_700_000_000_000 + this.random.int(1e9), rate),
        sockets: undefined,
        role: undefined,
        grants: undefined,
        grantStore: { clockMs: 0, heard: new Map() },
        proposer: undefined,
        alarmAt: undefined,
      });
    }
    this.worker = this.newWorker();
  }

  async run(): Promise<SessionSimulationReport> {
    for (const node of this.nodes) this.start(node);
    for (let i = 0; i < this.options.clients; i++) {
      const client: Client = {
        name: `c${i}`,
        socket: this.random.chance(this.options.socketShare),
        stopped: false,
        stopAt: undefined,
        files: 0,
      };
      this.clients.push(client);
      this.at(this.random.int(this.options.safetyMs / 3), () => void this.clientLoop(client));
    }
    this.every(proposerTickMs, () => this.tickProposers());
    this.every(faultTickMs, () => this.injectFaults());
    this.at(this.options.safetyMs, () => this.heal());
    const ttlMax = Math.max(...this.options.ttls);
    const end = this.options.safetyMs + 2 * ttlMax + 5_000 + 2 * ttlMax + livenessSlackMs;
    while (this.heap.length > 0) {
      const timer = this.pop();
      if (timer.at > end) break;
      this.time = Math.max(this.time, timer.at);
      timer.fire();
      if (this.dirty) {
        this.dirty = false;
        await new Promise((resolve) => setImmediate(resolve));
      }
      if (this.failure) throw this.failure;
      if (this.livenessFrom !== undefined && this.allEnded()) break;
    }
    this.checkNeverEarly();
    this.checkNotMuchLate();
    if (this.failure) throw this.failure;
    let earliest = Number.POSITIVE_INFINITY;
    for (const s of this.sessions.values()) {
      if (s.endReason === "expired" && s.endedAt !== undefined) {
        earliest = Math.min(earliest, s.endedAt - (this.lastAlive(s) + s.ttlMs));
      }
    }
    return {
      seed: this.options.seed,
      simulatedMs: this.time,
      sessions: [...this.sessions.values()].filter((s) => s.openedAt !== undefined).length,
      ...this.counts,
      earliestMarginMs: earliest,
    };
  }

  // ---- Time ----

  private at(delayMs: number, fire: () => void): void {
    this.push({ at: this.time + Math.max(0, Math.floor(delayMs)), seq: this.seq++, fire });
  }

  private every(periodMs: number, fire: () => void): void {
    this.at(periodMs, () => {
      fire();
      this.every(periodMs, fire);
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) =>
      this.at(ms, () => {
        this.dirty = true;
        resolve();
      }),
    );
  }

  private push(timer: Timer): void {
    const heap = this.heap;
    heap.push(timer);
    for (let i = heap.length - 1; i > 0; ) {
      const up = (i - 1) >> 1;
      if (!earlier(timer, heap[up] as Timer)) break;
      heap[i] = heap[up] as Timer;
      heap[up] = timer;
      i = up;
    }
  }

  private pop(): Timer {
    const heap = this.heap;
    const top = heap[0] as Timer;
    const last = heap.pop() as Timer;
    if (heap.length > 0) {
      heap[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && earlier(heap[l] as Timer, heap[m] as Timer)) m = l;
        if (r < heap.length && earlier(heap[r] as Timer, heap[m] as Timer)) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m] as Timer, heap[i] as Timer];
        i = m;
      }
    }
    return top;
  }

  // ---- Network ----

  private blocked(a: string, b: string): boolean {
    const until = this.cut.get(a < b ? `${a}|${b}` : `${b}|${a}`);
    return until !== undefined && until > this.time;
  }

  private up(site: string): boolean {
    const node = this.nodes.find((n) => n.name === site);
    return node === undefined || node.replica !== undefined;
  }

  /** One message: delayed, maybe dropped, never across a cut link or to a node that is down. */
  private send(from: string, to: string, deliver: () => void): void {
    if (!this.up(from)) return;
    // A node's calls to itself are method calls (acceptors/acceptor-peers.ts): never lost.
    if (from !== to && this.faults && (this.random.chance(this.options.dropRate) || this.blocked(from, to)))
      return;
    const delay = from === to ? 0 : 1 + this.random.int(this.faults ? this.options.delayMsMax : 5);
    this.at(delay, () => {
      if (this.faults && this.blocked(from, to)) return;
      if (!this.up(to)) return;
      deliver();
    });
  }

  /** A request to node `to`, handled by whichever incarnation is up when it arrives; rejects after `timeoutMs`. */
  private call<T>(
    from: string,
    to: string,
    handle: (node: Node) => T | Promise<T>,
    timeoutMs: number,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const settle = (f: () => void) => {
        if (settled) return;
        settled = true;
        this.dirty = true;
        f();
      };
      this.send(from, to, () => {
        const node = this.node(to);
        const incarnation = node.incarnation;
        this.dirty = true;
        Promise.resolve()
          .then(() => handle(node))
          .then(
            (value) => {
              // A node that crashed meanwhile never answers.
              if (node.incarnation === incarnation && node.replica !== undefined) {
                this.send(to, from, () => settle(() => resolve(value)));
              }
            },
            (error: unknown) => {
              if (error instanceof SessionViolation) this.fail(error.message);
              if (node.incarnation === incarnation && node.replica !== undefined) {
                this.send(to, from, () => settle(() => reject(error)));
              }
            },
          );
      });
      this.at(timeoutMs, () => settle(() => reject(new Error(`${to} did not answer ${from}`))));
    });
  }

  private node(name: string): Node {
    const node = this.nodes.find((n) => n.name === name);
    if (!node) throw new Error(`no node ${name}`);
    return node;
  }

  /** The node holding the keeper's role now, else the preferred one. */
  private get keeper(): Node {
    return this.nodes.find((n) => n.role?.heldTerm !== undefined) ?? this.node(keeperName);
  }

  // ---- Proposers and Paxos ----

  private newProposer(address: string, site: string): ProposerHandle {
    const proposer = new Proposer<Mutation, MutationOutcome>({
      id: `${address}.${this.random.int(1e9).toString(36)}`,
      acceptors: this.names,
      random: () => this.random.next(),
      pack: encodeBatch,
      sizeOf: encodedSize,
      batchCommandsMax: batchMutationsMax,
      batchBytesMax,
      retryMs: 50,
      backoffMs: 10,
      backoffMsMax: 400,
    });
    return { address, site, proposer, waiting: new Map(), syncs: new Map(), dead: false };
  }

  private newWorker(): ProposerHandle {
    return this.newProposer(`worker.${this.workerIncarnation++}`, "worker");
  }

  /** Decides a mutation with `handle`, as ProposerDriver.write does: rejects when the write timeout passes first. */
  private propose(handle: ProposerHandle, mutation: Mutation): Promise<MutationOutcome> {
    return new Promise((resolve, reject) => {
      if (handle.dead) {
        reject(new Error("proposer is gone"));
        return;
      }
      try {
        handle.proposer.submit(mutation, this.time + writeTimeoutMs, this.time);
      } catch (error) {
        reject(error as Error);
        return;
      }
      const list = handle.waiting.get(mutation.id) ?? [];
      list.push({ resolve, reject });
      handle.waiting.set(mutation.id, list);
      this.flush(handle);
    });
  }

  private flush(handle: ProposerHandle): void {
    if (handle.dead) return;
    for (const { to, message } of handle.proposer.takeMessages()) {
      this.send(handle.site, to, () => this.acceptorReceives(to, handle, message));
    }
    for (const completion of handle.proposer.takeCompletions()) this.complete(handle, completion);
  }

  private complete(handle: ProposerHandle, completion: Completion<Mutation, MutationOutcome>): void {
    if (completion.kind === "synced" || completion.kind === "sync-expired") {
      this.dirty = true;
      handle.syncs.get(completion.token)?.(completion.kind === "synced");
      handle.syncs.delete(completion.token);
      return;
    }
    const list = handle.waiting.get(completion.command.id);
    const waiter = list?.shift();
    if (list?.length === 0) handle.waiting.delete(completion.command.id);
    if (!waiter) return;
    this.dirty = true;
    if (completion.kind === "decided") waiter.resolve(completion.result);
    else waiter.reject(new Error(`NO_QUORUM: ${completion.command.id} not decided in time`));
  }

  private tickProposers(): void {
    const handles = [this.worker, ...this.nodes.flatMap((n) => (n.proposer ? [n.proposer] : []))];
    for (const handle of handles) {
      if (handle.dead) continue;
      handle.proposer.tick(this.time);
      this.flush(handle);
    }
  }

  private acceptorReceives(name: string, from: ProposerHandle, message: ProposerMessage): void {
    const node = this.node(name);
    const replica = node.replica as Replica;
    let reply: AcceptorReply<MutationOutcome>;
    switch (message.type) {
      case "prepare":
        reply = replica.prepare(message);
        break;
      case "accept":
        reply = replica.accept(message);
        if (reply.type === "accepted") {
          for (const entry of message.entries) this.vote(name, entry.slot, message.ballot, entry.value);
        }
        break;
      case "commit":
        reply = replica.commit(message);
        this.afterLearning(node);
        break;
    }
    this.send(name, from.site, () => {
      if (from.dead) return;
      from.proposer.receive(name, reply, this.time);
      this.flush(from);
    });
  }

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
    }
    entry.voters.add(acceptor);
    if (entry.voters.size < this.quorum) return;
    const before = this.chosen.get(slot);
    if (before && !bytesEqual(before, value)) this.fail(`slot ${slot} chosen with two values`);
    this.chosen.set(slot, value);
    this.advanceReference();
  }

  // ---- Replicas: learning, catch-up, the read barrier ----

  private afterLearning(node: Node): void {
    const replica = node.replica;
    if (!replica) return;
    for (const check of [...node.parked]) if (check()) node.parked.delete(check);
    if (replica.missing()) void this.catchUp(node);
    if (node.role && this.options.fixes.tickOnApply) {
      this.dirty = true;
      node.role.afterApply();
      this.scheduleAlarm(node);
    }
  }

  /** Fills the replica's gaps from its peers, one fetch at a time, as core/catch-up.ts directs. */
  private async catchUp(node: Node): Promise<void> {
    const replica = node.replica;
    if (!replica || node.catchingUp === replica) return;
    node.catchingUp = replica;
    const peers = this.names.filter((n) => n !== node.name);
    const plan = new CatchUp({ peers, firstPeer: this.random.int(peers.length) });
    try {
      while (node.replica === replica) {
        const step = plan.next(replica.missing());
        if (step.kind === "done" || step.kind === "give-up") return;
        if (step.kind === "wait") {
          await this.sleep(step.ms);
          continue;
        }
        // These replicas keep the whole log (logSlotsKept far above the slots a run decides),
        // so no peer answers with a trim point and no state transfer is ever due.
        if (step.kind === "transfer")
          throw new Error(`${node.name}: a state transfer in the sessions simulator`);
        const before = replica.chosenThrough;
        try {
          const fetched = await this.call(
            node.name,
            step.peer,
            (peer) => (peer.replica as Replica).fetch(step.fetch),
            rpcTimeoutMs,
          );
          if (node.replica !== replica) return;
          replica.learn(fetched.entries);
          plan.answered(step.peer, replica.chosenThrough > before);
          this.afterLearning(node);
        } catch {
          plan.unreachable(step.peer);
        }
      }
    } finally {
      if (node.catchingUp === replica) node.catchingUp = undefined;
    }
  }

  /** The keeper host's catchUp(): the read barrier (highest accepted slot of a majority), then catch-up to it. */
  private async catchUpToBarrier(node: Node): Promise<void> {
    const replica = node.replica;
    if (!replica) return;
    const slot = await this.barrierSlot(node);
    if (slot === undefined || node.replica !== replica || replica.chosenThrough >= slot) return;
    replica.expect(slot);
    void this.catchUp(node);
    await new Promise<void>((resolve) => {
      let done = false;
      const finish = () => {
        if (done) return true;
        done = true;
        this.dirty = true;
        resolve();
        return true;
      };
      node.parked.add(() => (replica.chosenThrough >= slot ? finish() : false));
      this.at(barrierCatchUpMs, () => void finish());
    });
  }

  /** The read barrier: the highest slot accepted by the first majority to answer, or undefined without one. */
  private barrierSlot(node: Node): Promise<Slot | undefined> {
    return new Promise<Slot | undefined>((resolve) => {
      let answered = 0;
      let failed = 0;
      let top = 0;
      for (const name of this.names) {
        this.call(node.name, name, (peer) => (peer.replica as Replica).status(), rpcTimeoutMs).then(
          (status) => {
            top = Math.max(top, status.maxAccepted);
            if (++answered === this.quorum) resolve(top);
          },
          () => {
            if (++failed > this.names.length - this.quorum) resolve(undefined);
          },
        );
      }
    });
  }

  // ---- Nodes: start, crash, the keeper's host ----

  private start(node: Node): void {
    node.incarnation++;
    node.replica = new Replica(node.storage, { historyRevs: 10_000 });
    node.catchingUp = undefined;
    node.parked = new Set();
    node.sockets = new SocketSessions(
      { exec: () => [] } as unknown as SqlStorage,
      (ids) => this.forwardFromSocketHost(node, ids),
      () => undefined,
    );
    node.proposer = this.newProposer(`${node.name}.proposer.${node.incarnation}`, node.name);
    const stored = node.grantStore;
    node.grants = new KeeperGrants(
      {
        leaseMs: keeperLeaseMs,
        stepMsMax: clockStepMsMaxDefault,
        stored: {
          ...(stored.lastGrantee === undefined ? {} : { lastGrantee: stored.lastGrantee }),
          heard: [...stored.heard].map(([session, at]) => [session, Math.max(stored.clockMs - at, 0)]),
        },
      },
      node.clock.read(),
    );
    node.role = this.newRole(node);
    node.alarmAt = undefined;
    if (node.replica.missing()) void this.catchUp(node);
    const incarnation = node.incarnation;
    // As the acceptor's constructor: a first look at the role once loaded.
    this.at(1, () => {
      if (node.incarnation === incarnation) void this.wake(node);
    });
  }

  /** The keeper's role on `node`, with the host AcceptorObject gives it, in simulated I/O. */
  private newRole(node: Node): KeeperRole {
    const replica = node.replica as Replica;
    const incarnation = node.incarnation;
    const alive = () => node.incarnation === incarnation && node.replica !== undefined;
    return new KeeperRole({
      self: node.name,
      acceptors: this.names,
      preferred: keeperName,
      store: () => replica.store,
      now: () => node.clock.read(),
      random: () => this.random.next(),
      grantLocally: (heard, wantHeard) => this.grant(node, node.name, heard, wantHeard),
      chosenThrough: () => replica.chosenThrough,
      peerChosenThrough: (slot) => {
        if (node.replica !== replica || slot <= replica.chosenThrough) return;
        replica.expect(slot);
        void this.catchUp(node);
      },
      requestGrant: (peer, heard, wantHeard) =>
        this.call(
          node.name,
          peer,
          (p) => ({
            ...this.grant(p, node.name, heard, wantHeard),
            chosenThrough: p.replica?.chosenThrough,
            maxAccepted: p.replica?.status().maxAccepted,
          }),
          rpcTimeoutMs,
        ),
      releaseLocally: () => node.grants?.release(node.name),
      requestRelease: async (peer) => {
        await this.call(node.name, peer, (p) => p.grants?.release(node.name), rpcTimeoutMs);
      },
      grantHolder: () => node.grants?.holder(node.clock.read()),
      grantRemainingMs: () => node.grants?.remainingMs(node.clock.read()) ?? 0,
      syncToBarrier: async () => {
        if (!(await this.syncToBarrier(node)) || !alive()) throw new Error("behind the read barrier");
      },
      catchUp: () => this.catchUpToBarrier(node),
      propose: (mutation) => {
        this.trace(`${node.name} proposes ${mutation.op} ${mutation.id}`);
        if (mutation.op === "keeper-claim" && node.name !== keeperName) this.counts.failovers++;
        return this.keeperPropose(node, mutation);
      },
      waitUntil: () => undefined,
      scheduleWake: () => this.scheduleAlarm(node),
    });
  }

  /** AcceptorObject.grantLocally, with KeeperGrantStorage as the node's surviving storage. */
  private grant(
    node: Node,
    candidate: string,
    heard: readonly string[],
    wantHeard: boolean,
  ): PeerGrantAnswer {
    const grants = node.grants as KeeperGrants;
    const now = node.clock.read();
    const answer = grants.request(candidate, now, heard);
    if (!answer.granted) return answer;
    const stored = node.grantStore;
    stored.lastGrantee = candidate;
    if (heard.length > 0) {
      for (const session of heard) stored.heard.set(session, grants.clockMs);
      stored.clockMs = grants.clockMs;
    }
    const store = (node.replica as Replica).store;
    if (wantHeard || grants.heardCount > 2 * store.sessionCount + 1024) {
      for (const session of grants.forget((s) => store.sessionTtlMs(s) !== undefined))
        stored.heard.delete(session);
    }
    return wantHeard ? { ...answer, heard: grants.heard(now) } : answer;
  }

  /** The barrier, then every slot through it chosen and applied here (AcceptorObject.syncToBarrier). */
  private async syncToBarrier(node: Node): Promise<boolean> {
    const slot = await this.barrierSlot(node);
    if (slot === undefined || !node.replica || !node.proposer) return false;
    const handle = node.proposer;
    if (node.replica.chosenThrough >= slot) return true;
    const synced = await new Promise<boolean>((resolve) => {
      const token = handle.proposer.sync(slot, this.time + writeTimeoutMs, this.time);
      handle.syncs.set(token, resolve);
      this.flush(handle);
    });
    const replica = node.replica as Replica | undefined;
    if (!synced || !replica) return false;
    if (replica.chosenThrough < slot) {
      replica.expect(slot);
      void this.catchUp(node);
      await this.sleep(barrierCatchUpMs);
    }
    return node.replica === replica && replica.chosenThrough >= slot;
  }

  /** The acceptor's alarm: the role's work, then the next alarm. */
  private async wake(node: Node): Promise<void> {
    const role = node.role;
    if (!role) return;
    this.dirty = true;
    await role.wake();
    if (node.role === role) this.scheduleAlarm(node);
  }

  private async keeperPropose(node: Node, mutation: Mutation): Promise<MutationOutcome> {
    const replica = node.replica as Replica;
    const outcome = await this.propose(node.proposer as ProposerHandle, mutation);
    const hasApplied = () => replica.store.hasApplied(mutation, outcome);
    if (!this.options.fixes.keeperAppliesBeforeEnded || hasApplied()) return outcome;
    const applied = await new Promise<boolean>((resolve) => {
      let done = false;
      const finish = (value: boolean) => {
        if (done) return true;
        done = true;
        this.dirty = true;
        resolve(value);
        return true;
      };
      node.parked.add(() => (hasApplied() ? finish(true) : false));
      this.at(writeTimeoutMs, () => void finish(false));
    });
    if (!applied) throw new Error(`${node.name} has not applied rev ${outcome.rev}`);
    return outcome;
  }

  /** The clock reading a socket host hands SocketSessions. */
  private socketClock(_host: Node): number {
    // Elapsed time, without the jumps the keeper's clock takes here: SocketSessions throttles
    // forwards by the host's clock, and a jump back that a later jump forward partly hides
    // (seed 751) holds a forward back for as long as the jump, which no grace covers. Its
    // own guard forwards at once when the clock reads below its last forward; beyond that,
    // the host's clock is assumed not to jump (docs/PROTOCOL.md, sessions).
    return this.time;
  }

  private crash(node: Node): void {
    node.replica = undefined;
    node.catchingUp = undefined;
    node.parked = new Set();
    node.sockets = undefined;
    node.role = undefined;
    node.grants = undefined;
    node.alarmAt = undefined;
    if (node.proposer) {
      node.proposer.dead = true;
      node.proposer = undefined;
    }
    this.trace(`crash ${node.name}`);
  }

  /** As AcceptorObject.scheduleAlarm: the earliest of the set alarm and the role's next wake. */
  private scheduleAlarm(node: Node): void {
    const role = node.role;
    const due = role?.nextWakeMs();
    if (!role || due === undefined) return;
    const now = node.clock.read();
    const fireAt = this.time + node.clock.trueDelay(Math.max(due, now + 1) - now) + this.random.int(20);
    if (node.alarmAt !== undefined && node.alarmAt <= fireAt && node.alarmAt >= this.time) return;
    node.alarmAt = fireAt;
    const incarnation = node.incarnation;
    this.at(fireAt - this.time, () => {
      if (node.incarnation !== incarnation || node.alarmAt !== fireAt || node.role !== role) return;
      node.alarmAt = undefined;
      void this.wake(node);
    });
  }

  /** AcceptorObject.keepalive: the role answers or redirects; records which keepalives it answered alive. */
  private async keeperKeepalive(
    node: Node,
    sessions: string[],
    aliveAnswered: (session: string) => void,
  ): Promise<KeepaliveAnswer[] | KeeperRedirect> {
    const role = node.role;
    if (!role) throw new Error(`${node.name} is down`);
    const answers = await role.keepalive(sessions);
    // A node that crashed while it waited never answered.
    if (node.role !== role) throw new Error(`${node.name} crashed`);
    this.scheduleAlarm(node);
    if (!Array.isArray(answers)) return answers;
    this.trace(
      `${node.name} as keeper (term ${role.heldTerm}, clock ${node.clock.read()}) answers ${answers.map((a) => `${a.session} ${a.alive ? "alive" : "NOSESSION"}`).join(", ")}`,
    );
    for (const answer of answers) {
      if (answer.alive) {
        this.counts.aliveAnswers++;
        aliveAnswered(answer.session);
        const record = this.sessions.get(answer.session);
        if (record) record.lastHeardAt = this.time;
      }
    }
    return answers;
  }

  /** Runtime.keepalive (server/runtime.ts, keeperOf): each caller routes as server/keeper-route.ts does. */
  private async keepaliveRoute(
    from: string,
    sessions: string[],
    aliveAnswered: (session: string) => void,
  ): Promise<KeepaliveAnswer[]> {
    let route = this.routes.get(from);
    if (!route) {
      route = new KeeperRoute(this.names, keeperName);
      this.routes.set(from, route);
    }
    const answers = await route.keepalive((name) =>
      this.call(
        from,
        name,
        (node) => this.keeperKeepalive(node, sessions, aliveAnswered),
        writeTimeoutMs + rpcTimeoutMs,
      ),
    );
    if (answers === undefined) throw new Error("NO_QUORUM: no acceptor could act as the session keeper");
    return answers;
  }

  /** Per caller (a client's HTTP keepalives, a socket host): its route, which remembers who answered last. */
  private readonly routes = new Map<string, KeeperRoute>();

  /** A socket host's forward of frames' keepalives to the keeper (Runtime.keepalive, keeperOf). */
  private forwardFromSocketHost(host: Node, ids: string[]): Promise<KeepaliveAnswer[]> {
    this.counts.forwards++;
    const forward: Forward = { ids: new Set(ids), alive: new Set() };
    this.lastForward = forward;
    return this.keepaliveRoute(host.name, ids, (session) => forward.alive.add(session));
  }

  private lastForward: Forward | undefined;

  /** A write from a client or a socket host: the leader route, or the Worker's own proposer if the keeper does not answer. */
  private async write(from: string, mutation: Mutation): Promise<MutationOutcome> {
    let answer: { outcome: MutationOutcome } | { error: string };
    try {
      answer = await this.call(
        from,
        keeperName,
        async (keeper) => {
          try {
            return { outcome: await this.propose(keeper.proposer as ProposerHandle, mutation) };
          } catch (error) {
            return { error: (error as Error).message };
          }
        },
        writeTimeoutMs + rpcTimeoutMs,
      );
    } catch {
      // Unreachable: same mutation id, so if the keeper decided it after all, it applies once.
      return this.propose(this.worker, mutation);
    }
    if ("error" in answer) throw new Error(answer.error);
    return answer.outcome;
  }

  // ---- Faults ----

  private injectFaults(): void {
    if (!this.faults) return;
    const r = this.random;
    const perTick = faultTickMs / 1000;
    const keeper = this.keeper;
    if (r.chance(this.options.keeperCrashRate * perTick) && keeper.replica) {
      this.crash(keeper);
      // Mostly a restart; sometimes down long enough that another acceptor takes the role over.
      this.at(r.chance(0.7) ? 100 + r.int(5_000) : 5_000 + r.int(20_000), () => {
        // The heal restarts it, unless the liveness phase keeps the preferred keeper down.
        if (keeper.replica || !this.faults) return;
        this.counts.keeperRestarts++;
        // A restart may land on another machine: another clock offset.
        if (r.chance(0.5)) keeper.clock.jump(r.int(120_000) - 60_000);
        this.start(keeper);
      });
    }
    if (r.chance(this.options.acceptorCrashRate * perTick)) {
      const node = r.pick(this.nodes.filter((n) => n.name !== keeperName));
      const down = this.nodes.filter((n) => !n.replica).length;
      if (node.replica && (down + 1 < this.quorum || r.chance(0.2))) {
        this.crash(node);
        this.at(200 + r.int(8_000), () => {
          if (!node.replica && this.faults) this.start(node);
        });
      }
    }
    if (r.chance(this.options.partitionRate * perTick)) {
      // A client cut off from the keeper, or the keeper from one acceptor, for a while.
      const a = r.chance(0.6) ? r.pick(this.clients).name : r.pick(this.names);
      const b = a.startsWith("c") ? r.pick([keeperName, ...this.names]) : keeperName;
      if (a !== b) {
        const until = this.time + 500 + r.int(Math.max(...this.options.ttls) * 3);
        this.cut.set(a < b ? `${a}|${b}` : `${b}|${a}`, until);
        this.trace(`cut ${a} from ${b} until ${until}`);
      }
    }
    if (r.chance(this.options.clockJumpRate * perTick)) {
      const ms = r.int(2 * this.options.clockJumpMsMax) - this.options.clockJumpMsMax;
      keeper.clock.jump(ms);
      this.counts.clockJumps++;
      this.trace(`${keeper.name} (the keeper) clock jumps ${ms} ms`);
    }
    if (r.chance(this.options.workerCrashRate * perTick)) {
      const old = this.worker;
      old.dead = true;
      for (const list of old.waiting.values()) for (const w of list) w.reject(new Error("the Worker died"));
      this.dirty = true;
      this.worker = this.newWorker();
      this.trace(`worker dies; ${this.worker.address} starts`);
    }
  }

  private heal(): void {
    this.faults = false;
    this.livenessFrom = this.time;
    this.cut.clear();
    const preferred = this.node(keeperName);
    if (this.options.keeperDownInLiveness && preferred.replica) this.crash(preferred);
    for (const node of this.nodes) {
      if (!node.replica && !(this.options.keeperDownInLiveness && node === preferred)) {
        if (node.name === keeperName) this.counts.keeperRestarts++;
        this.start(node);
      }
    }
    // Every client stops within a while, so that every session must end by itself.
    for (const client of this.clients) {
      const ttlMax = Math.max(...this.options.ttls);
      client.stopAt = this.time + (this.random.chance(0.4) ? 0 : this.random.int(2 * ttlMax));
    }
    this.trace(`heal: liveness phase${this.options.keeperDownInLiveness ? `, ${keeperName} down` : ""}`);
  }

  // ---- Clients ----

  private stopped(client: Client): boolean {
    if (client.stopped) return true;
    if (client.stopAt !== undefined && this.time >= client.stopAt) client.stopped = true;
    return client.stopped;
  }

  private async clientLoop(client: Client): Promise<void> {
    while (!this.stopped(client) && this.livenessFrom === undefined) {
      const record = await this.open(client);
      if (record === undefined) {
        await this.sleep(200 + this.random.int(500));
        continue;
      }
      await this.keepAlive(client, record);
    }
  }

  private async open(client: Client): Promise<SessionRecord | undefined> {
    const ttlMs = this.random.pick(this.options.ttls);
    const session = `${client.name}-s${this.nextId++}`;
    const record: SessionRecord = {
      session,
      ttlMs,
      client: client.name,
      openSentAt: this.time,
      openedAt: undefined,
      lastAliveSentAt: this.time,
      frames: [],
      lastSentAt: this.time,
      lastHeardAt: this.time,
      endedAt: undefined,
      endReason: undefined,
    };
    this.sessions.set(session, record);
    const mutation: Mutation = { op: "session-open", id: `open.${session}`, session, ttlMs };
    if (!client.socket) {
      try {
        const outcome = await this.write(client.name, mutation);
        return outcome.error === undefined ? record : undefined;
      } catch {
        return undefined;
      }
    }
    const host = this.pickHost();
    if (!host) return undefined;
    try {
      const held = await this.call(
        client.name,
        host.name,
        async (node) => {
          const outcome = await this.write(node.name, mutation);
          if (outcome.error !== undefined || !node.sockets) return false;
          node.sockets.hold(client.name, session, ttlMs);
          // Held from now on, whether or not the client hears the answer: frames on the socket keep it alive.
          const key = `${node.name}.${node.incarnation}.${client.name}`;
          const held = this.socketHeld.get(key) ?? new Map<string, Forward>();
          held.set(session, { ids: new Set([session]), alive: new Set([session]) });
          this.socketHeld.set(key, held);
          return true;
        },
        writeTimeoutMs + rpcTimeoutMs * 2,
      );
      return held ? this.socketSession(record, host) : undefined;
    } catch {
      return undefined;
    }
  }

  private pickHost(): Node | undefined {
    const up = this.nodes.filter((n) => n.replica !== undefined);
    return up.length === 0 ? undefined : this.random.pick(up);
  }

  /** The socket holds the session: frames sent within the forwarding interval after the hold count from the open. */
  private socketSession(record: SessionRecord, host: Node): SessionRecord {
    this.socketHost.set(record.session, { host, incarnation: host.incarnation });
    return record;
  }

  /** Per socket session: the host of the socket the client keeps it alive on. */
  private readonly socketHost = new Map<string, { host: Node; incarnation: number }>();
  /** Per socket (host.incarnation.client): the sessions it holds, each with the forward that covers a frame arriving now. */
  private readonly socketHeld = new Map<string, Map<string, Forward>>();

  private interval(record: SessionRecord, socket: boolean): number {
    const ttl = record.ttlMs;
    if (this.random.chance(this.options.longGapShare)) return ttl + this.random.int(ttl);
    return socket ? ttl / 10 + this.random.int(ttl / 3) : ttl / 10 + this.random.int(ttl / 2);
  }

  /** Keepalives at random intervals, each on its own (a lost one does not hold up the next), until NOSESSION. */
  private async keepAlive(client: Client, record: SessionRecord): Promise<void> {
    void this.writeFiles(client, record);
    let over = false;
    while (!over) {
      await this.sleep(this.interval(record, client.socket));
      if (over || this.stopped(client)) return;
      if (this.livenessFrom === undefined && this.random.chance(this.options.clientCrashRate)) {
        client.stopped = true;
        this.trace(`${client.name} stops keeping ${record.session} alive`);
        return;
      }
      if (this.livenessFrom === undefined && this.random.chance(0.02)) {
        try {
          await this.write(client.name, {
            op: "session-end",
            id: `end.${record.session}`,
            session: record.session,
            reason: "client",
          });
        } catch {
          // Unknown outcome: the session ends now or by expiry.
        }
        return;
      }
      const via = this.socketHost.get(record.session);
      if (via && via.host.incarnation === via.incarnation && via.host.replica && this.random.chance(0.8)) {
        this.frame(client, record, via);
        continue;
      }
      if (via) this.socketHost.delete(record.session);
      const sentAt = this.time;
      record.lastSentAt = sentAt;
      this.counts.keepalives++;
      this.keepaliveRoute(client.name, [record.session], () => {
        record.lastAliveSentAt = Math.max(record.lastAliveSentAt, sentAt);
      }).then(
        ([answer]) => {
          if (answer && !answer.alive) over = true;
        },
        () => undefined, // NO_QUORUM: the next one may get through.
      );
    }
  }

  /** A ping frame on the socket: the host forwards a keepalive if one is due (acceptors/socket-sessions.ts). */
  private frame(client: Client, record: SessionRecord, via: { host: Node; incarnation: number }): void {
    const sentAt = this.time;
    record.lastSentAt = sentAt;
    this.counts.socketFrames++;
    this.send(client.name, via.host.name, () => {
      const host = via.host;
      if (host.incarnation !== via.incarnation || !host.sockets) return;
      this.lastForward = undefined;
      this.dirty = true;
      host.sockets.heard(client.name, this.socketClock(host));
      const forward = this.lastForward as Forward | undefined;
      this.trace(`${client.name} frame sent at ${sentAt} on ${host.name}${forward ? ": forwarded" : ""}`);
      // Every session the socket holds counts the frame, not only the one the client has in mind.
      const held = this.socketHeld.get(`${host.name}.${host.incarnation}.${client.name}`);
      for (const [session, cover] of held ?? []) {
        const now = forward?.ids.has(session) ? forward : cover;
        held?.set(session, now);
        const other = this.sessions.get(session);
        if (!other) continue;
        other.frames.push({ sentAt, cover: now });
        other.lastSentAt = Math.max(other.lastSentAt, sentAt);
      }
    });
  }

  private async writeFiles(client: Client, record: SessionRecord): Promise<void> {
    const count = this.random.int(4);
    for (let i = 0; i < count && !this.stopped(client); i++) {
      const shared = this.random.chance(0.3);
      const path = shared ? `/e/shared/${this.random.int(3)}` : `/e/${client.name}/${client.files++ % 5}`;
      const persistent = this.random.chance(0.1);
      const mutation: Mutation = {
        op: "set",
        id: `set.${this.nextId++}`,
        path,
        rev: -1,
        value: new TextEncoder().encode(record.session),
        ...(persistent ? {} : { session: record.session }),
      };
      try {
        await this.write(client.name, mutation);
      } catch {
        // Unknown outcome: the log says.
      }
      await this.sleep(this.random.int(record.ttlMs));
    }
  }

  // ---- The one log, and what it says about sessions ----

  private advanceReference(): void {
    for (;;) {
      const value = this.chosen.get(this.referenceSlot + 1);
      if (value === undefined) return;
      this.referenceSlot++;
      for (const mutation of decodeBatch(value)) {
        const before = this.reference.rev;
        const [outcome] = this.reference.apply([mutation]);
        if (outcome && this.reference.rev !== before) this.applied(mutation, outcome, before);
      }
    }
  }

  /** A mutation the log applied for the first time, consuming revs (before, reference.rev]. */
  private applied(mutation: Mutation, outcome: MutationOutcome, before: number): undefined {
    const store = this.reference;
    switch (mutation.op) {
      case "session-open": {
        if (outcome.error) return;
        const record = this.sessions.get(mutation.session);
        if (!record) return this.fail(`an unknown session ${mutation.session} opened`);
        record.openedAt = this.time;
        this.alive.add(mutation.session);
        this.trace(`${mutation.session} opened at rev ${outcome.rev} (ttl ${mutation.ttlMs})`);
        return;
      }
      case "set": {
        const session = mutation.session;
        const expectAlive = session === undefined || this.alive.has(session);
        const failed = outcome.error?.code === "NOSESSION";
        if (failed === expectAlive) {
          return this.fail(
            `SET ${mutation.path} under ${session} answered ${outcome.error?.code ?? "ok"} at rev ${outcome.rev}, but the session is ${expectAlive ? "alive" : "not alive"}`,
          );
        }
        if (outcome.error) return;
        if (session === undefined) this.owner.delete(mutation.path);
        else this.owner.set(mutation.path, session);
        return;
      }
      case "del":
        if (!outcome.error) this.owner.delete(mutation.path);
        return;
      case "session-end": {
        if (outcome.error) return;
        const session = mutation.session;
        const record = this.sessions.get(session);
        if (!record) return this.fail(`an unknown session ${session} ended`);
        const owned = [...this.owner].filter(([, s]) => s === session).map(([path]) => path);
        owned.sort(bytewise);
        const consumed = store.rev - before;
        if (consumed !== Math.max(1, owned.length)) {
          return this.fail(`the end of ${session} consumed ${consumed} revs, owning ${owned.length} files`);
        }
        const events = store.eventsFrom(before + 1).filter((e) => e.rev <= store.rev);
        const got = events.map((e) => `${e.op} ${e.path}${e.session ? ` ${e.session}` : ""}`).join(", ");
        const want = owned.map((path) => `del ${path}`).join(", ");
        if (got !== want)
          return this.fail(
            `the end of ${session} at revs ${before + 1}..${store.rev}: [${got}], owned [${want}]`,
          );
        for (const path of owned) this.owner.delete(path);
        if (
          store
            .serialize()
            .split("\n")
            .some((line) => line.endsWith(` ${session}`))
        ) {
          return this.fail(`${session} ended, yet the tree still has a file it owns`);
        }
        this.counts.filesDeletedByEnds += owned.length;
        this.alive.delete(session);
        record.endedAt = this.time;
        record.endReason = mutation.reason === "expired" ? "expired" : "client";
        if (record.endReason === "expired") this.counts.expiries++;
        else this.counts.clientEnds++;
        this.trace(
          `${session} ended (${record.endReason}) at rev ${store.rev}, ${this.time - this.lastAlive(record)} ms after its last keepalive answered alive was sent`,
        );
        return;
      }
      default:
        return;
    }
  }

  private lastAlive(record: SessionRecord): number {
    let last = record.lastAliveSentAt;
    for (const frame of record.frames) {
      if (frame.cover.alive.has(record.session)) last = Math.max(last, frame.sentAt);
    }
    return last;
  }

  // ---- Invariants ----

  private checkNeverEarly(): void {
    for (const record of this.sessions.values()) {
      if (record.endReason !== "expired" || record.endedAt === undefined) continue;
      const last = this.lastAlive(record);
      if (record.endedAt < last + record.ttlMs) {
        this.fail(
          `never early: ${record.session} (ttl ${record.ttlMs}) expired at ${record.endedAt}, ${record.endedAt - last} ms after the send of its last keepalive answered alive (at ${last})`,
        );
      }
    }
  }

  private checkNotMuchLate(): void {
    const healedAt = this.livenessFrom;
    if (healedAt === undefined) return;
    for (const record of this.sessions.values()) {
      if (record.openedAt === undefined || (record.endedAt !== undefined && record.endedAt < healedAt))
        continue;
      this.counts.lateChecked++;
      // From its last keepalive, or from when it opened if the open was decided later (a write may
      // take effect after its client gave up on it), or from the heal if that was later still.
      const last = Math.max(record.lastSentAt, record.lastHeardAt);
      const bound = Math.max(last, record.openedAt, healedAt) + 2 * record.ttlMs + 5_000;
      const ended = record.endedAt ?? Number.POSITIVE_INFINITY;
      if (ended > bound) {
        this.fail(
          `not much late: ${record.session} (ttl ${record.ttlMs}), opened at ${record.openedAt}, last keepalive sent at ${record.lastSentAt}, heard at ${record.lastHeardAt}, healed at ${healedAt}, ${record.endedAt === undefined ? `still alive at ${this.time}` : `ended at ${record.endedAt}`}, bound ${bound}`,
        );
      }
    }
  }

  private allEnded(): boolean {
    for (const record of this.sessions.values()) {
      if (record.openedAt !== undefined && record.endedAt === undefined) return false;
    }
    return this.clients.every((c) => this.stopped(c));
  }

  private fail(message: string): undefined {
    this.failure ??= new SessionViolation(`[${this.time}] ${message}`);
    return undefined;
  }

  private trace(line: string): void {
    this.options.trace?.(`[${this.time}] ${line}`);
  }
}

function earlier(a: Timer, b: Timer): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
