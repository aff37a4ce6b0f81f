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

import type { AcceptorStatus } from "../acceptors/acceptor-rpc";
import { DoozerError } from "../core/errors";
import type { ReadReply, ReadRequest, WaitReply, WaitRequest } from "../core/reads";
import type { AcceptorClient } from "./acceptor-client";
import type { Lifetime } from "./operations";
import type { ProposerDriver } from "./proposer-driver";

/** How long a replica behind the barrier gets to catch up before the proposer finishes the slot itself. */
const catchUpMs = 500;

type Answered<T> = T & { ok: true };

export class Reader {
  /** The replica that answers first: the freshest that answered last time. */
  private preferred: string;

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
    if (stale) return answered(await this.anyReplica((name) => call(name, undefined)));
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
      this.acceptors.names.map((n) => this.acceptors.call(n, (s) => s.status()).catch(() => undefined)),
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
        this.acceptors
          .call(name, (s) => s.status())
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
              if (
                freshestFirst[0] &&
                answers.some((a) => a.name === this.preferred && a.chosenThrough < slot)
              ) {
                this.preferred = freshestFirst[0];
              }
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

  private async anyReplica<R>(call: (name: string) => Promise<R>): Promise<R> {
    const order = [this.preferred, ...this.acceptors.names.filter((n) => n !== this.preferred)];
    for (const name of order) {
      try {
        const reply = await call(name);
        this.preferred = name;
        return reply;
      } catch {
        // Unreachable: try the next replica.
      }
    }
    throw new DoozerError("NO_QUORUM", "no acceptor replica answered");
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
