// A seeded simulation of sessions (SPEC §6, issue 12): a cluster of replicas
// (core Replica), the session keeper on the leader acceptor running the real
// host (server/session-keeping.ts, SessionKeeping, with the real core
// SessionKeeper inside) on a simulated clock that drifts and jumps, socket
// hosts running the real acceptors/socket-sessions.ts forwarding, a Worker
// proposer that writes when the keeper does not answer, and clients that open
// sessions, write ephemeral files under them and keep them alive at random
// intervals over HTTP or a socket; some stop ("crash"), some are cut off from
// the keeper for a while. The keeper crashes and restarts (a new
// SessionKeeping: takeOver), acceptors crash, messages are delayed and dropped.
//
// Everything is timed in true simulated time. Per session it records the send
// time of the last keepalive the keeper answered alive (or of the open), and
// the time its end was decided (applied by the one chosen log). Checked:
// - never early: an expired session's end is decided no sooner than ttl after
//   the send of its last keepalive answered alive;
// - not much late (liveness phase: no faults, keeper up, every acceptor up):
//   a session whose client stopped ends within 2 × ttl + 5 s of its last
//   keepalive, or of the heal if that was later;
// - an end deletes every file the session owned, in consecutive revs in
//   bytewise path order with nothing between, and a SET under a session is
//   NOSESSION exactly when the session is not alive.
//
// The keeper's host is modelled as acceptors/acceptor-object.ts wires it: an
// alarm at nextDeadlineMs(), set after the keeper starts, after a keepalive
// and after each alarm; keepalives through SessionKeeping.keepalive; its
// catchUp() is the read barrier then catch-up. The alarm is a platform timer
// in true time; the keeper's clock readings are what drift and jump. A socket
// frame counts as a keepalive answered alive when the forward that covers it
// (the last one its host sent for that session, or the hold at open) was: the
// forwarding delay the keeper's grace is meant to absorb.
//
// As the hosts are, some seeds break SPEC §6 (sessions.test.ts names them).
// Each change they need is modelled here as a switch in SessionFixes, on by
// default; `npm run sim -- --sessions --seed N --without <fix>` shows a seed
// without it.

import { SocketSessions } from "../../acceptors/socket-sessions";
import { CatchUp } from "../../core/catch-up";
import { batchBytesMax, batchMutationsMax } from "../../core/limits";
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
import { Store } from "../../core/store";
import { type KeepaliveAnswer, SessionKeeping } from "../../server/session-keeping";
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
   * A new keeper starts keeping (takeOver) only once its replica has applied
   * every slot through the read barrier, finishing them with its proposer
   * (Proposer.sync) if need be; until then keepalives answer NO_QUORUM.
   * Otherwise a keeper that crashed after its `session-end` was chosen but
   * before its replica applied it comes back with the session alive in its
   * store, and answers keepalives for it alive after its end was decided; and
   * a session decided while the keeper was down is first heard of when some
   * later write reveals the gap to its replica, perhaps never.
   */
  keeperSyncsFirst: boolean;
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
  keeperSyncsFirst: true,
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
  /** Keeper only. */
  keeping: SessionKeeping | undefined;
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
        keeping: undefined,
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

  private get keeper(): Node {
    return this.node(keeperName);
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
    const handles = [this.worker, ...(this.keeper.proposer ? [this.keeper.proposer] : [])];
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
    if (node.keeping && this.options.fixes.tickOnApply) {
      this.dirty = true;
      node.keeping.tick(node.clock.read());
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
    if (node.name !== keeperName) {
      if (node.replica.missing()) void this.catchUp(node);
      return;
    }
    node.proposer = this.newProposer(`${node.name}.proposer.${node.incarnation}`, node.name);
    if (this.options.fixes.keeperSyncsFirst) void this.syncThenKeep(node, node.incarnation);
    else this.startKeeping(node);
  }

  /** keeperSyncsFirst: the barrier, every slot through it chosen and applied here, then takeOver. */
  private async syncThenKeep(node: Node, incarnation: number): Promise<void> {
    const alive = () => node.incarnation === incarnation && node.replica !== undefined;
    while (alive()) {
      const slot = await this.barrierSlot(node);
      if (!alive()) return;
      const handle = node.proposer as ProposerHandle;
      if (slot !== undefined) {
        const synced = await new Promise<boolean>((resolve) => {
          const token = handle.proposer.sync(slot, this.time + writeTimeoutMs, this.time);
          handle.syncs.set(token, resolve);
          this.flush(handle);
        });
        if (!alive()) return;
        const replica = node.replica as Replica;
        if (synced && replica.chosenThrough < slot) {
          replica.expect(slot);
          void this.catchUp(node);
          await this.sleep(barrierCatchUpMs);
          if (!alive()) return;
        }
        if (synced && (node.replica as Replica).chosenThrough >= slot) {
          this.startKeeping(node);
          return;
        }
      }
      await this.sleep(200);
    }
  }

  private startKeeping(node: Node): void {
    if (!node.replica) return;
    node.keeping = new SessionKeeping(
      {
        store: () => (node.replica as Replica).store,
        propose: (mutation) => this.keeperPropose(node, mutation),
        catchUp: () => this.catchUpToBarrier(node),
        waitUntil: () => undefined,
      },
      node.clock.read(),
    );
    node.alarmAt = undefined;
    this.trace(
      `${node.name} starts as the keeper (incarnation ${node.incarnation}), ${node.keeping.kept().length} sessions`,
    );
    this.scheduleAlarm(node);
    if (node.replica.missing()) void this.catchUp(node);
  }

  private async keeperPropose(node: Node, mutation: Mutation): Promise<MutationOutcome> {
    const replica = node.replica as Replica;
    const outcome = await this.propose(node.proposer as ProposerHandle, mutation);
    if (!this.options.fixes.keeperAppliesBeforeEnded || replica.store.rev >= outcome.rev) return outcome;
    const applied = await new Promise<boolean>((resolve) => {
      let done = false;
      const finish = (value: boolean) => {
        if (done) return true;
        done = true;
        this.dirty = true;
        resolve(value);
        return true;
      };
      node.parked.add(() => (replica.store.rev >= outcome.rev ? finish(true) : false));
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
    node.keeping = undefined;
    node.alarmAt = undefined;
    if (node.proposer) {
      node.proposer.dead = true;
      node.proposer = undefined;
    }
    this.trace(`crash ${node.name}`);
  }

  /** As AcceptorObject.scheduleAlarm: the earliest of the set alarm and the keeper's next deadline. */
  private scheduleAlarm(node: Node): void {
    const keeping = node.keeping;
    const deadline = keeping?.nextDeadlineMs();
    if (!keeping || deadline === undefined) return;
    const now = node.clock.read();
    const fireAt = this.time + node.clock.trueDelay(Math.max(deadline, now + 1) - now) + this.random.int(20);
    if (node.alarmAt !== undefined && node.alarmAt <= fireAt && node.alarmAt >= this.time) return;
    node.alarmAt = fireAt;
    const incarnation = node.incarnation;
    this.at(fireAt - this.time, () => {
      if (node.incarnation !== incarnation || node.alarmAt !== fireAt || node.keeping !== keeping) return;
      node.alarmAt = undefined;
      this.dirty = true;
      const reading = node.clock.read();
      keeping.tick(reading);
      const ending = keeping.kept().filter((k) => k.ending);
      if (ending.length > 0)
        this.trace(`keeper tick (clock ${reading}): ending ${ending.map((k) => k.session).join(" ")}`);
      this.scheduleAlarm(node);
    });
  }

  /** AcceptorObject.keepalive on the keeper; records which keepalives it answered alive. */
  private async keeperKeepalive(
    node: Node,
    sessions: string[],
    aliveAnswered: (session: string) => void,
  ): Promise<KeepaliveAnswer[]> {
    const keeping = node.keeping;
    if (!keeping) throw new Error(`${node.name} is not the session keeper`);
    const answers = await keeping.keepalive(sessions, () => node.clock.read());
    // A keeper that crashed while it waited never answered.
    if (node.keeping !== keeping) throw new Error("the keeper crashed");
    this.trace(
      `keeper (clock ${node.clock.read()}) answers ${answers.map((a) => `${a.session} ${a.alive ? "alive" : "NOSESSION"}`).join(", ")}`,
    );
    for (const answer of answers) {
      if (answer.alive) {
        this.counts.aliveAnswers++;
        aliveAnswered(answer.session);
      }
    }
    this.scheduleAlarm(node);
    return answers;
  }

  /** A socket host's forward of frames' keepalives to the keeper (Runtime.keepalive, keeperOf). */
  private forwardFromSocketHost(host: Node, ids: string[]): Promise<KeepaliveAnswer[]> {
    this.counts.forwards++;
    const forward: Forward = { ids: new Set(ids), alive: new Set() };
    this.lastForward = forward;
    return this.call(
      host.name,
      keeperName,
      (keeper) => this.keeperKeepalive(keeper, ids, (session) => forward.alive.add(session)),
      writeTimeoutMs + rpcTimeoutMs,
    );
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
      this.at(100 + r.int(5_000), () => {
        if (this.keeper.replica) return;
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
          if (!node.replica) this.start(node);
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
      this.trace(`keeper clock jumps ${ms} ms`);
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
    for (const node of this.nodes) {
      if (!node.replica) {
        if (node.name === keeperName) this.counts.keeperRestarts++;
        this.start(node);
      }
    }
    // Every client stops within a while, so that every session must end by itself.
    for (const client of this.clients) {
      const ttlMax = Math.max(...this.options.ttls);
      client.stopAt = this.time + (this.random.chance(0.4) ? 0 : this.random.int(2 * ttlMax));
    }
    this.trace("heal: liveness phase");
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
      this.call(
        client.name,
        keeperName,
        (keeper) =>
          this.keeperKeepalive(keeper, [record.session], () => {
            record.lastAliveSentAt = Math.max(record.lastAliveSentAt, sentAt);
          }),
        writeTimeoutMs + rpcTimeoutMs,
      ).then(
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
      const bound = Math.max(record.lastSentAt, record.openedAt, healedAt) + 2 * record.ttlMs + 5_000;
      const ended = record.endedAt ?? Number.POSITIVE_INFINITY;
      if (ended > bound) {
        this.fail(
          `not much late: ${record.session} (ttl ${record.ttlMs}), opened at ${record.openedAt}, last keepalive sent at ${record.lastSentAt}, healed at ${healedAt}, ${record.endedAt === undefined ? `still alive at ${this.time}` : `ended at ${record.endedAt}`}, bound ${bound}`,
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
