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
// finish is finished by this isolate's proposer.
//
// A stale read asks one replica and skips the barrier.

import type { AcceptorRpc, AcceptorStatus, Unavailable } from "../acceptors/acceptor-rpc";
import { DoozerError } from "../core/errors";
import type { ReadReply, ReadRequest, WaitReply, WaitRequest } from "../core/reads";
import type { AcceptorClient } from "./acceptor-client";
import type { Lifetime } from "./operations";
import type { ProposerDriver } from "./proposer-driver";

/** How long a replica behind the barrier gets to catch up before the proposer finishes the slot itself. */
export const catchUpMs = 500;

type Answered<T> = T & { ok: true };

export class Reader {
  /** The replica an optimistic read goes to: the nearest that was up to date at the last barrier. */
  private preferred: string;
  /** Round trip times to each acceptor, in ms (a moving average). */
  private readonly rttMs = new Map<string, number>();

  constructor(
    private readonly acceptors: AcceptorClient,
    private readonly proposer: () => ProposerDriver,
  ) {
    this.preferred = acceptors.names[0] ?? "";
  }

  async read(request: ReadRequest, stale: boolean, ctx: Lifetime): Promise<Answered<ReadReply>> {
    const rpcTimeoutMs = request.timeoutMs + catchUpMs + this.acceptors.config.rpcTimeoutMs;
    const call: ReplicaCall<ReadReply> = (name, minSlot) =>
      this.acceptors.call(name, (s) => s.read({ ...request, minSlot, catchUpMs }), rpcTimeoutMs);
    if (stale) {
      // Until every acceptor's distance is known, measure them in the background.
      if (this.rttMs.size < this.acceptors.names.length) ctx.waitUntil(this.statuses());
      return answered(await this.anyReplica((name) => call(name, undefined)));
    }
    const optimistic = call(this.preferred, undefined).catch(() => undefined);
    const barrier = await this.barrier();
    const first = await optimistic;
    if (first && first.chosenThrough >= barrier.slot) return answered(first);
    return answered(await this.atBarrier(barrier, call, ctx));
  }

  async wait(request: WaitRequest, stale: boolean, ctx: Lifetime): Promise<Answered<WaitReply>> {
    const rpcTimeoutMs = request.timeoutMs + catchUpMs + this.acceptors.config.rpcTimeoutMs;
    const call: ReplicaCall<WaitReply> = (name, minSlot) =>
      this.acceptors.call(name, (s) => s.wait({ ...request, minSlot, catchUpMs }), rpcTimeoutMs);
    if (stale) return answered(await this.anyReplica((name) => call(name, undefined)));
    // No optimistic first try: a WAIT may block for minutes, so it goes to a replica known to be current.
    const barrier = await this.barrier();
    return answered(await this.atBarrier(barrier, call, ctx));
  }

  /** The acceptors' statuses, for GET /v1/cluster: undefined for one that did not answer. */
  async statuses(): Promise<(AcceptorStatus | undefined)[]> {
    return Promise.all(
      this.acceptors.names.map((n) => this.timed(n, (s) => s.status()).catch(() => undefined)),
    );
  }

  /** Asks a replica at or past the barrier, letting it catch up, and finishing orphaned slots if need be. */
  private async atBarrier<R extends ReadReply | WaitReply>(
    barrier: Barrier,
    call: ReplicaCall<R>,
    ctx: Lifetime,
  ): Promise<R> {
    const order = barrier.freshestFirst;
    for (const name of order) {
      const reply = await call(name, barrier.slot).catch(() => undefined);
      if (reply && reply.chosenThrough >= barrier.slot) {
        this.preferred = name;
        return reply;
      }
      if (reply) break; // Reachable but behind: the slot may need a proposer.
    }
    const synced = await this.proposer().sync(barrier.slot, this.acceptors.config.writeTimeoutMs, ctx);
    if (synced) {
      for (const name of order) {
        const reply = await call(name, barrier.slot).catch(() => undefined);
        if (reply && reply.chosenThrough >= barrier.slot) return reply;
      }
    }
    throw new DoozerError("NO_QUORUM", "no replica could be brought up to date with a majority of acceptors");
  }

  /** Asks every acceptor for its status and returns once a majority answered. */
  barrier(): Promise<Barrier> {
    const { names, quorum } = this.acceptors;
    return new Promise((resolve, reject) => {
      const answers: AcceptorStatus[] = [];
      let settled = 0;
      for (const name of names) {
        this.timed(name, (s) => s.status())
          .then(
            (status) => answers.push(status),
            () => undefined,
          )
          .finally(() => {
            settled++;
            if (answers.length === quorum) {
              const slot = Math.max(...answers.map((a) => a.maxAccepted));
              const freshestFirst = [...answers]
                .sort((a, b) => b.chosenThrough - a.chosenThrough)
                .map((a) => a.name);
              // The next optimistic read goes to the nearest replica that was up to date.
              const current = answers.filter((a) => a.chosenThrough >= slot).map((a) => a.name);
              this.preferred = this.nearestFirst(current)[0] ?? freshestFirst[0] ?? this.preferred;
              resolve({ slot, freshestFirst });
            } else if (settled === names.length && answers.length < quorum) {
              reject(
                new DoozerError(
                  "NO_QUORUM",
                  `only ${answers.length} of ${names.length} acceptors answered; a read needs ${quorum}`,
                ),
              );
            }
          });
      }
    });
  }

  /** A stale read: the nearest replica that answers. */
  private async anyReplica<R>(call: (name: string) => Promise<R>): Promise<R> {
    for (const name of this.nearestFirst(this.acceptors.names)) {
      try {
        const started = Date.now();
        const reply = await call(name);
        this.noteRtt(name, Date.now() - started);
        return reply;
      } catch {
        // Unreachable: try the next replica.
      }
    }
    throw new DoozerError("NO_QUORUM", "no acceptor replica answered");
  }

  /** An RPC whose round trip time is remembered, to find the nearest replicas. */
  private async timed<T>(name: string, rpc: (stub: AcceptorRpc) => Promise<T | Unavailable>): Promise<T> {
    const started = Date.now();
    const reply = await this.acceptors.call(name, rpc);
    this.noteRtt(name, Date.now() - started);
    return reply;
  }

  private noteRtt(name: string, ms: number): void {
    const before = this.rttMs.get(name);
    // A moving average, so one slow answer does not send reads elsewhere for good.
    this.rttMs.set(name, before === undefined ? ms : before * 0.8 + ms * 0.2);
  }

  /** `names` by round trip time, nearest first; unmeasured ones after, in their order. */
  private nearestFirst(names: readonly string[]): string[] {
    const known = names.filter((n) => this.rttMs.has(n));
    known.sort((a, b) => (this.rttMs.get(a) ?? 0) - (this.rttMs.get(b) ?? 0));
    return [...known, ...names.filter((n) => !this.rttMs.has(n))];
  }
}

type ReplicaCall<R> = (name: string, minSlot: number | undefined) => Promise<R>;

export interface Barrier {
  slot: number;
  /** The acceptors that answered the status round, most up to date first. */
  freshestFirst: string[];
}

function answered<R extends ReadReply | WaitReply>(reply: R): Answered<R> {
  if (reply.ok) return reply as Answered<R>;
  const { code, message, rev, storeRev } = reply.error;
  throw new DoozerError(code, message, {
    ...(rev === undefined ? {} : { rev }),
    ...(storeRev === undefined ? {} : { storeRev }),
  });
}
