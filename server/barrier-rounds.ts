// The read-barrier rounds of one host (a Worker isolate, an acceptor object),
// batched as core/read-batch.ts decides: a read that finds a round in flight
// waits for the next one, which starts as soon as the one in flight settles,
// and which every read arriving meanwhile shares. Under load, each round then
// serves every read that arrived during the round before it, instead of each
// read sending a status request to every acceptor.
//
// Where a round runs on the Workers runtime: I/O belongs to the request that
// started it, and a request whose only wait is a promise another request will
// settle is cancelled as hung. So a round is always started by one of its own
// reads, in that read's request: the one that found no round in flight, or
// the first of those that waited for it to claim it once the round before
// settled. The others share its outcome; their continuations run in their own
// requests (server/proposer-driver.ts says why), and each keeps a timer of its
// own while it waits. Should a round's host stop before it settles, its
// readers stop waiting after a bound and arrive again, and the batch takes
// the round for lost (core/read-batch.ts).

import { ReadBatch } from "../core/read-batch";
import type { Lifetime } from "./lifetime";

interface Outcome<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export class BarrierRounds<T> {
  private readonly batch: ReadBatch;
  /** The outcome of each round some read waits for, until it settles. */
  private readonly outcomes = new Map<number, Outcome<T>>();
  /** Reads that used a round another read started (the benchmarks and tests read it). */
  shared = 0;
  /** Rounds run. */
  rounds = 0;

  /**
   * `runRound` runs one status round; it must settle within `roundMsMax`
   * (every status request is bounded by the RPC timeout).
   */
  constructor(
    private readonly runRound: () => Promise<T>,
    private readonly roundMsMax: number,
  ) {
    this.batch = new ReadBatch(roundMsMax);
  }

  /** The outcome of a round that started after this call. `life` keeps the round this call starts alive. */
  async next(life: Lifetime | undefined): Promise<T> {
    for (;;) {
      const arrival = this.batch.arrive(Date.now());
      const round = arrival.round;
      const outcome = this.outcomeOf(round);
      if (arrival.kind === "start") {
        this.start(round, life);
      } else {
        this.shared++;
        // The round in flight first (bounded: it may be lost), then this read may start its own.
        const before = this.outcomes.get(round - 1);
        if (before)
          await within(
            before.promise.catch(() => undefined),
            this.roundMsMax,
          );
        if (this.batch.claim(round, Date.now())) this.start(round, life);
      }
      const settled = await within(outcome.promise, 2 * this.roundMsMax);
      if (settled) return settled.value;
      // The round's host stopped before it settled: arrive again, for a round started now.
    }
  }

  private outcomeOf(round: number): Outcome<T> {
    const existing = this.outcomes.get(round);
    if (existing) return existing;
    let resolve: (value: T) => void = () => {};
    let reject: (error: unknown) => void = () => {};
    const promise = new Promise<T>((ok, fail) => {
      resolve = ok;
      reject = fail;
    });
    // A round whose readers all stopped waiting must not report an unhandled rejection.
    promise.catch(() => undefined);
    const outcome = { promise, resolve, reject };
    this.outcomes.set(round, outcome);
    return outcome;
  }

  private start(round: number, life: Lifetime | undefined): void {
    this.rounds++;
    // Rounds older than the one before this were lost (their readers gave up on them).
    for (const older of this.outcomes.keys()) if (older < round - 1) this.outcomes.delete(older);
    const outcome = this.outcomeOf(round);
    const settle = (fill: (o: Outcome<T>) => void) => {
      this.batch.settled(round);
      if (this.outcomes.get(round) === outcome) this.outcomes.delete(round);
      fill(outcome);
    };
    const running = this.runRound().then(
      (value) => settle((o) => o.resolve(value)),
      (error: unknown) => settle((o) => o.reject(error)),
    );
    life?.waitUntil(running);
  }
}

/** `{value}` once `promise` resolves, undefined if it has not settled in `ms`; rejects as it does. */
async function within<T>(promise: Promise<T>, ms: number): Promise<{ value: T } | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([promise.then((value) => ({ value })), late]);
  } finally {
    clearTimeout(timer);
  }
}
