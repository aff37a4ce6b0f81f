// Drives the pure Proposer from a Worker isolate: sends its messages as RPCs,
// feeds the answers back, and runs its timers while some request waits.
//
// One driver lives per isolate, so concurrent requests share a ballot (one
// round trip per write while it holds) and ride together in batches. Every RPC
// runs in the context of a request that is waiting on it, and is kept alive by
// that request's waitUntil, as the Workers runtime requires.

import type { ClusterConfig } from "../core/cluster-config";
import { DoozerError } from "../core/errors";
import { batchBytesMax, batchMutationsMax } from "../core/limits";
import { encodeBatch, encodedSize, type Mutation, type MutationOutcome } from "../core/mutation";
import type { Slot } from "../core/paxos/messages";
import { type Completion, Proposer } from "../core/paxos/proposer";
import type { AcceptorClient } from "./acceptor-client";
import { sleep } from "./timing";

type Waiter = (completion: Completion<Mutation, MutationOutcome>) => void;

export class ProposerDriver {
  private readonly core: Proposer<Mutation, MutationOutcome>;
  private readonly commandWaiters = new Map<string, Waiter>();
  private readonly syncWaiters = new Map<number, Waiter>();
  /**
   * Each waiting request's wake-up, called at the next answer from any acceptor.
   * Each request makes its own promise: a promise made in one request and
   * awaited in another dies with the request that made it.
   */
  private readonly wakers = new Set<() => void>();

  constructor(
    private readonly acceptors: AcceptorClient,
    private readonly config: ClusterConfig,
    id: string,
  ) {
    this.core = new Proposer({
      id,
      acceptors: acceptors.names,
      random: Math.random,
      pack: encodeBatch,
      sizeOf: encodedSize,
      batchCommandsMax: batchMutationsMax,
      batchBytesMax,
      retryMs: config.retryMs,
      backoffMs: 20,
      backoffMsMax: 1000,
    });
  }

  get id(): string {
    return this.core.id;
  }

  /** Decides one mutation; NO_QUORUM when no majority answered before the write timeout. */
  async write(mutation: Mutation, ctx: ExecutionContext): Promise<MutationOutcome> {
    const done = waitFor(this.commandWaiters, mutation.id);
    this.core.submit(mutation, Date.now() + this.config.writeTimeoutMs, Date.now());
    const completion = await this.drive(done, ctx);
    if (completion.kind === "decided") return completion.result;
    throw new DoozerError(
      "NO_QUORUM",
      `no majority of acceptors decided the write within ${this.config.writeTimeoutMs} ms; it may or may not take effect`,
    );
  }

  /** Makes sure every slot through `through` is chosen; false if that did not happen in time. */
  async sync(through: Slot, timeoutMs: number, ctx: ExecutionContext): Promise<boolean> {
    const token = this.core.sync(through, Date.now() + timeoutMs, Date.now());
    const completion = await this.drive(waitFor(this.syncWaiters, token), ctx);
    return completion.kind === "synced";
  }

  /**
   * Whoever waits runs the timers, so no timer outlives the requests that need
   * it. An answer can bring the next deadline closer (a lost duel sets a short
   * backoff), so every answer wakes the waiters to look again.
   */
  private async drive(done: Promise<Completion<Mutation, MutationOutcome>>, ctx: ExecutionContext) {
    this.pump(ctx);
    for (;;) {
      const next = this.core.nextDeadline() ?? Date.now() + this.config.retryMs;
      let waker = () => {};
      const answered = new Promise<undefined>((resolve) => {
        waker = () => resolve(undefined);
        this.wakers.add(waker);
      });
      const completion = await Promise.race([done, sleep(Math.max(1, next - Date.now())), answered]);
      this.wakers.delete(waker);
      if (completion) return completion;
      this.core.tick(Date.now());
      this.pump(ctx);
    }
  }

  private pump(ctx: ExecutionContext): void {
    for (const { to, message } of this.core.takeMessages()) {
      const rpc = this.acceptors.send(to, message).then(
        (reply) => {
          this.core.receive(to, reply, Date.now());
          this.pump(ctx);
          for (const wake of this.wakers) wake();
        },
        () => {
          // No answer: the core sends again on its next tick.
        },
      );
      ctx.waitUntil(rpc);
    }
    for (const completion of this.core.takeCompletions()) {
      if (completion.kind === "synced" || completion.kind === "sync-expired") {
        this.syncWaiters.get(completion.token)?.(completion);
        this.syncWaiters.delete(completion.token);
      } else {
        this.commandWaiters.get(completion.command.id)?.(completion);
        this.commandWaiters.delete(completion.command.id);
      }
    }
  }
}

function waitFor<K>(waiters: Map<K, Waiter>, key: K): Promise<Completion<Mutation, MutationOutcome>> {
  return new Promise((resolve) => waiters.set(key, resolve));
}
