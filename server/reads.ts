// Reads and WAIT, served by one acceptor replica.
//
// A linearizable read must see every write acknowledged before it started. A
// write is acknowledged only after a majority accepted its slot, so any
// majority holds an acceptor whose highest accepted slot is at least that
// slot: the read barrier T is the highest accepted slot in a majority's
// answers. The read is then answered by a replica that has applied T. To pay
// one round trip, the status round and the read at the preferred replica go
// out together; only when that replica turns out behind T does a second round
// wait for it (or another) to catch up, and a slot that no proposer is left to
// finish is finished by a proposer (`sync`: the leader acceptor's on the
// leader route, see runtime.ts, so that a read does not take the ballot from it).
//
// Status rounds are shared: reads that arrive while one is in flight use the
// next one together (barrier-rounds.ts, core/read-batch.ts), never the one in
// flight, whose barrier may predate a write acknowledged before they arrived.
//
// A stale read asks one replica and skips the barrier: the nearest
// (core/replica-order.ts), then the others.
//
// The decisions (when the barrier is known, which replica next, when to sync)
// are core/read-barrier.ts's; this file sends the RPCs and times them.

import { CodedError } from "../core/errors";
import { catchUpMs } from "../core/limits";
import type { Slot } from "../core/paxos/messages";
import { type BarrierState, ReadBarrier, ReadPlan, type StatusAnswer } from "../core/read-barrier";
import type { ReadReply, ReadRequest, WaitReply, WaitRequest } from "../core/reads";
import type { Coordinates } from "../core/regions";
import { replicaOrder } from "../core/replica-order";
import type { AcceptorClient } from "./acceptor-client";
import type { AcceptorRpc, AcceptorStatus } from "./acceptor-rpc";
import { BarrierRounds } from "./barrier-rounds";
import type { Lifetime } from "./lifetime";

/**
 * Where the caller is, if the platform says; asked only when needed, since
 * reading a Worker request's `cf` parses it (worker/origin.ts).
 */
export type Origin = () => Coordinates | undefined;

const noOrigin: Origin = () => undefined;

/** Has a proposer choose every slot through `through`; false if that did not happen in time. */
export type SyncThrough = (through: Slot, life: Lifetime) => Promise<boolean>;

/** What the reader has done since it started, for GET /v1/stats and the tests. */
export interface ReaderStats {
  /** Status rounds run. */
  barrierRounds: number;
  /** Barriers that used a round another read started. */
  barriersShared: number;
  /** Syncs asked for (a hole below a barrier). */
  syncs: number;
}

type Answered<T> = T & { ok: true };

export class Reader {
  /** The replica an optimistic read goes to: the nearest that was up to date at the last barrier. */
  private preferred: string | undefined;
  /** Round trip times to each acceptor, in ms (a moving average). */
  private readonly rttMs = new Map<string, number>();
  private readonly rounds: BarrierRounds<readonly StatusAnswer[]>;
  private syncs = 0;

  /**
   * `sync` finishes orphaned slots below a barrier; `home`, where this reader
   * runs when no request says where its caller is (an acceptor's own region).
   */
  constructor(
    private readonly acceptors: AcceptorClient,
    private readonly sync: SyncThrough,
    private readonly home?: Coordinates,
  ) {
    // A round settles within the status requests' timeout; twice that means its host is gone.
    this.rounds = new BarrierRounds(() => this.statusRound(), 2 * acceptors.config.rpcTimeoutMs);
  }

  get stats(): ReaderStats {
    return { barrierRounds: this.rounds.rounds, barriersShared: this.rounds.shared, syncs: this.syncs };
  }

  /** `origin`: where the caller is, if the platform says, to start from the replica nearest to it. */
  async read(
    request: ReadRequest,
    stale: boolean,
    ctx: Lifetime,
    origin: Origin = noOrigin,
  ): Promise<Answered<ReadReply>> {
    const rpcTimeoutMs = request.timeoutMs + catchUpMs + this.acceptors.config.rpcTimeoutMs;
    const call: ReplicaCall<ReadReply> = (name, minSlot) =>
      this.acceptors.call(name, (s) => s.read({ ...request, minSlot, catchUpMs }), rpcTimeoutMs);
    if (stale) {
      // Until every acceptor's distance is known, measure them in the background.
      if (!this.measuredAll) ctx.waitUntil(this.statuses());
      return answered(await this.anyReplica(origin, (name) => call(name, undefined)));
    }
    const optimistic = call(this.preferredFor(origin), undefined).catch(() => undefined);
    const plan = await this.barrier(ctx);
    const first = await optimistic;
    if (first && plan.reaches(first.chosenThrough)) return answered(first);
    return answered(await this.atBarrier(plan, call, ctx));
  }

  async wait(
    request: WaitRequest,
    stale: boolean,
    ctx: Lifetime,
    origin: Origin = noOrigin,
  ): Promise<Answered<WaitReply>> {
    const rpcTimeoutMs = request.timeoutMs + catchUpMs + this.acceptors.config.rpcTimeoutMs;
    const call: ReplicaCall<WaitReply> = (name, minSlot) =>
      this.acceptors.call(name, (s) => s.wait({ ...request, minSlot, catchUpMs }), rpcTimeoutMs);
    if (stale) return answered(await this.anyReplica(origin, (name) => call(name, undefined)));
    // No optimistic first try: a WAIT may block for minutes, so it goes to a replica known to be current.
    return answered(await this.atBarrier(await this.barrier(ctx), call, ctx));
  }

  /** The acceptors' statuses, for GET /v1/cluster: undefined for one that did not answer. */
  async statuses(): Promise<(AcceptorStatus | undefined)[]> {
    return Promise.all(this.statusEach().map((status) => status.catch(() => undefined)));
  }

  /** Asks replicas at or past the barrier, letting them catch up, and finishing orphaned slots if need be. */
  private async atBarrier<R extends ReadReply | WaitReply>(
    plan: ReadPlan,
    call: ReplicaCall<R>,
    ctx: Lifetime,
  ): Promise<R> {
    let step = plan.start();
    for (;;) {
      switch (step.kind) {
        case "ask": {
          const replica = step.replica;
          const reply = await call(replica, step.minSlot).catch(() => undefined);
          step = reply ? plan.replied(replica, reply.chosenThrough) : plan.unreachable(replica);
          if (reply && step.kind === "done") {
            this.preferred = replica;
            return reply;
          }
          break;
        }
        case "sync": {
          this.syncs++;
          step = (await this.sync(step.through, ctx)) ? plan.synced() : plan.syncFailed();
          break;
        }
        case "done":
          throw new Error(`a read plan finished at ${step.replica} without its answer`);
        case "no-quorum":
          throw new CodedError("NO_QUORUM", step.message);
      }
    }
  }

  /**
   * The read plan of a status round that started after this call (shared
   * with the reads that arrive meanwhile); NO_QUORUM once no majority can
   * answer. `life` keeps alive the rounds this call may start.
   */
  async barrier(life?: Lifetime): Promise<ReadPlan> {
    const plan = new ReadPlan(await this.rounds.next(life), this.rttMs, this.acceptors.names);
    // The next optimistic read goes to the nearest replica that was up to date.
    this.preferred = plan.preferred;
    return plan;
  }

  /** Asks every acceptor for its status; the majority's answers, NO_QUORUM once none can answer. */
  private statusRound(): Promise<readonly StatusAnswer[]> {
    const tally = new ReadBarrier(this.acceptors.names, this.rttMs);
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (state: BarrierState) => {
        if (settled || state.kind === "waiting") return;
        settled = true;
        if (state.kind === "no-quorum") return reject(new CodedError("NO_QUORUM", state.message));
        resolve(state.plan.answers);
      };
      for (const [i, status] of this.statusEach().entries()) {
        const name = this.acceptors.names[i] as string;
        status.then(
          (answer) => settle(tally.answer({ ...answer, name })),
          () => settle(tally.unreachable(name)),
        );
      }
    });
  }

  /** A stale read: the nearest replica that answers. */
  private async anyReplica<R>(origin: Origin, call: (name: string) => Promise<R>): Promise<R> {
    for (const name of this.nearestFirstFrom(origin)) {
      try {
        const started = Date.now();
        const reply = await call(name);
        this.noteRtt(name, Date.now() - started);
        return reply;
      } catch {
        // Unreachable: try the next replica.
      }
    }
    throw new CodedError("NO_QUORUM", "no acceptor replica answered");
  }

  /** The replica a linearizable read tries first, with the status round. */
  private preferredFor(origin: Origin): string {
    return this.preferred ?? (this.nearestFirstFrom(origin)[0] as string);
  }

  /** nearestFirst, asking where the caller is only when the round trips do not already say. */
  private nearestFirstFrom(origin: Origin): string[] {
    return this.nearestFirst(this.measuredAll ? undefined : origin());
  }

  /** Every acceptor's status, in the order of its name, on one timer; each round trip is remembered. */
  private statusEach(): Promise<AcceptorStatus>[] {
    const started = Date.now();
    const names = this.acceptors.names;
    return this.acceptors
      .callEach(names.map((name) => ({ name, rpc: (s: AcceptorRpc) => s.status() })))
      .map((status, i) =>
        status.then((answer) => {
          this.noteRtt(names[i] as string, Date.now() - started);
          return answer;
        }),
      );
  }

  private noteRtt(name: string, ms: number): void {
    const before = this.rttMs.get(name);
    // A moving average, so one slow answer does not send reads elsewhere for good.
    this.rttMs.set(name, before === undefined ? ms : before * 0.8 + ms * 0.2);
  }

  /** Whether every acceptor's round trip time has been measured from here. */
  get measuredAll(): boolean {
    return this.rttMs.size >= this.acceptors.names.length;
  }

  /**
   * Every acceptor, nearest first (core/replica-order.ts): by round trip once
   * all are measured, else from `origin` (or this reader's home) by location.
   */
  nearestFirst(origin?: Coordinates): string[] {
    return replicaOrder(this.acceptors.config.acceptors, this.rttMs, origin ?? this.home);
  }
}

type ReplicaCall<R> = (name: string, minSlot: number | undefined) => Promise<R>;

function answered<R extends ReadReply | WaitReply>(reply: R): Answered<R> {
  if (reply.ok) return reply as Answered<R>;
  const { code, message, rev, storeRev } = reply.error;
  throw new CodedError(code, message, {
    ...(rev === undefined ? {} : { rev }),
    ...(storeRev === undefined ? {} : { storeRev }),
  });
}
