// Drives the pure Proposer from a Worker isolate or an acceptor Durable Object:
// sends its messages to the acceptors, feeds the answers back, and runs its
// timers while some request waits.
//
// One driver lives per isolate (and per acceptor object), so concurrent requests share a ballot (one
// round trip per write while it holds) and ride together in batches.
//
// The Workers runtime ties I/O to the request that started it. So only a
// request that is waiting for the proposer sends its messages, from its own
// drive loop, and keeps them alive with its own waitUntil. An answer, which
// arrives in the context of the request that sent the message, is only fed to
// the core; the completions it causes settle promises of the requests that
// wait for them, and it wakes one waiting request, which sends whatever the
// answer called for. (A promise settled from another request's context runs
// its continuation in its own request: workerd's
// handle_cross_request_promise_resolution, the default since 2024-10-14.)
//
// One, not all: waking all made every answer cost a loop turn per waiting
// request, each scanning the core's deadlines, so a round cost O(waiters²) at
// the leader (256 waiting writes: ~1,300 turns a slot). The woken request is
// taken out of the set, so a request that can no longer run (its client went
// away) is woken at most once; and a request that leaves with its result wakes
// the next, so that some waiting request always sleeps on the core's current
// deadline.

import type { ClusterConfig } from "../core/cluster-config";
import { CodedError } from "../core/errors";
import { batchBytesMax, batchMutationsMax } from "../core/limits";
import { encodeBatch, encodedSize, type Mutation, type MutationOutcome } from "../core/mutation";
import type { Slot } from "../core/paxos/messages";
import { type Completion, Proposer, type ProposerStats } from "../core/paxos/proposer";
import type { AcceptorClient } from "./acceptor-client";
import type { Lifetime } from "./lifetime";

type Settle = (completion: Completion<Mutation, MutationOutcome>) => void;

export class ProposerDriver {
  private readonly core: Proposer<Mutation, MutationOutcome>;
  /** Keyed by the mutation object itself: two requests may carry the same mutation id (a retry). */
  private readonly commandWaiters = new Map<Mutation, Settle>();
  private readonly syncWaiters = new Map<number, Settle>();
  /** Each waiting request's wake-up; each request makes its own. */
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

  get stats(): ProposerStats {
    return { ...this.core.stats };
  }

  /** A new leader's ballot goes above `round`, the old leader's (Proposer.raiseRound). */
  raiseRound(round: number): void {
    this.core.raiseRound(round, Date.now());
    this.wakeOne();
  }

  /** Decides one mutation; NO_QUORUM when no majority answered before the write timeout. */
  async write(mutation: Mutation, ctx: Lifetime): Promise<MutationOutcome> {
    // Submit first: a refused command (the queue is full) throws here and must leave no waiter behind.
    this.core.submit(mutation, Date.now() + this.config.writeTimeoutMs, Date.now());
    const done = waitFor(this.commandWaiters, mutation);
    const completion = await this.drive(done, ctx);
    if (completion.kind === "decided") return completion.result;
    throw new CodedError(
      "NO_QUORUM",
      `no majority of acceptors decided the write within ${this.config.writeTimeoutMs} ms; it may or may not take effect`,
    );
  }

  /** Makes sure every slot through `through` is chosen; false if that did not happen in time. */
  async sync(through: Slot, timeoutMs: number, ctx: Lifetime): Promise<boolean> {
    const token = this.core.sync(through, Date.now() + timeoutMs, Date.now());
    const completion = await this.drive(waitFor(this.syncWaiters, token), ctx);
    return completion.kind === "synced";
  }

  /**
   * The waiting request's loop: send what the core has to send, then sleep
   * until the core's next deadline or the next answer, whichever comes first.
   * Whoever waits runs the timers, so no timer outlives the requests that need it.
   */
  private async drive(done: Promise<Completion<Mutation, MutationOutcome>>, ctx: Lifetime) {
    // One timer for as long as the core's next deadline does not move earlier: an answer wakes
    // the loop often (five a round), and a timer set and cleared each time cost more than the
    // rest of the turn. Waking early is harmless (the core only ticks); waking late is not.
    let timer: ReturnType<typeof setTimeout> | undefined;
    let timerAt = Number.POSITIVE_INFINITY;
    let wake = () => {};
    const onTimer = () => {
      timer = undefined;
      timerAt = Number.POSITIVE_INFINITY;
      wake();
    };
    try {
      for (;;) {
        this.send(ctx);
        this.settle();
        const next = this.core.nextDeadline() ?? Date.now() + this.config.retryMs;
        if (next < timerAt) {
          if (timer !== undefined) clearTimeout(timer);
          timerAt = next;
          timer = setTimeout(onTimer, Math.max(1, next - Date.now()));
        }
        const woken = new Promise<undefined>((resolve) => {
          wake = () => resolve(undefined);
          this.wakers.add(wake);
        });
        const completion = await Promise.race([done, woken]);
        this.wakers.delete(wake);
        if (completion) {
          // What the last answer called for (the commit of this very slot, say) leaves with this request.
          this.send(ctx);
          this.wakeOne();
          return completion;
        }
        this.core.tick(Date.now());
      }
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }

  private send(ctx: Lifetime): void {
    const messages = this.core.takeMessages();
    const replies = this.acceptors.sendEach(messages);
    for (const [i, { to }] of messages.entries()) {
      const rpc = (replies[i] as (typeof replies)[number]).then(
        (answer) => {
          this.core.receive(to, answer, Date.now());
          this.settle();
          this.wakeOne();
        },
        () => {
          // No answer: the core sends again on its next tick.
        },
      );
      ctx.waitUntil(rpc);
    }
  }

  /** Wakes the request that has waited longest since it last ran (the set keeps insertion order). */
  private wakeOne(): void {
    for (const wake of this.wakers) {
      this.wakers.delete(wake);
      wake();
      return;
    }
  }

  private settle(): void {
    for (const completion of this.core.takeCompletions()) {
      if (completion.kind === "synced" || completion.kind === "sync-expired") {
        this.syncWaiters.get(completion.token)?.(completion);
        this.syncWaiters.delete(completion.token);
      } else {
        this.commandWaiters.get(completion.command)?.(completion);
        this.commandWaiters.delete(completion.command);
      }
    }
  }
}

function waitFor<K>(waiters: Map<K, Settle>, key: K): Promise<Completion<Mutation, MutationOutcome>> {
  return new Promise((resolve) => waiters.set(key, resolve));
}
