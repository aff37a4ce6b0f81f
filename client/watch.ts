// A watch as an async iterator: every change to a file matching the glob, from
// a rev on, in rev order, none missed and none repeated, across reconnects
// (the transports resume at the last seen rev + 1). It ends with TooLateError
// if it cannot resume inside the history window, never with a silent gap.

import { DoozerError } from "./errors";
import type { Subscription, WireEvent } from "./transport";
import { toValue, type Value } from "./value";

export interface WatchEvent {
  path: string;
  rev: number;
  op: "set" | "del";
  /** The new value of a set; empty for a del. */
  value: Value;
  /** A set under a session: the session that owns the file now (SPEC §6). Absent otherwise. */
  session?: string;
}

/** Events a consumer may fall behind by before the watch ends (it can resume from `lastRev + 1`). */
export const watchBufferMax = 100_000;

export class Watch implements AsyncIterable<WatchEvent> {
  private readonly queue: WatchEvent[] = [];
  private waiting: ((result: IteratorResult<WatchEvent>) => void) | undefined;
  private failWaiting: ((error: Error) => void) | undefined;
  private ended: Error | undefined;
  private done = false;
  private subscription: Subscription | undefined;
  /** The rev of the last event delivered to the consumer (0 before the first). */
  lastRev = 0;

  constructor(start: (watch: Watch) => Promise<Subscription>) {
    start(this).then(
      (subscription) => {
        if (this.done) subscription.cancel();
        else this.subscription = subscription;
      },
      (error: Error) => this.end(error),
    );
  }

  /** Called by the transport for each event, in rev order. */
  push(event: WireEvent): void {
    if (this.done) return;
    const item: WatchEvent = { path: event.path, rev: event.rev, op: event.op, value: toValue(event.value) };
    if (event.session !== undefined) item.session = event.session;
    if (this.waiting) {
      const resolve = this.waiting;
      this.clearWaiting();
      this.lastRev = item.rev;
      resolve({ value: item, done: false });
      return;
    }
    if (this.queue.length >= watchBufferMax) {
      this.end(
        new DoozerError(
          "OTHER",
          `the consumer fell ${watchBufferMax} events behind; resume from lastRev + 1`,
        ),
      );
      return;
    }
    this.queue.push(item);
  }

  /** Called by the transport when the watch cannot go on; without an error it simply finishes. */
  end(error: Error | undefined): void {
    if (!error) {
      this.cancel();
      return;
    }
    if (this.done || this.ended) return;
    this.ended = error;
    this.subscription?.cancel();
    if (this.failWaiting && this.queue.length === 0) {
      const reject = this.failWaiting;
      this.clearWaiting();
      reject(error);
    }
  }

  /** Stops the watch; a pending `next()` finishes with done. */
  cancel(): void {
    if (this.done) return;
    this.done = true;
    this.subscription?.cancel();
    this.queue.length = 0;
    const resolve = this.waiting;
    this.clearWaiting();
    resolve?.({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<WatchEvent>> {
    const item = this.queue.shift();
    if (item) {
      this.lastRev = item.rev;
      return Promise.resolve({ value: item, done: false });
    }
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    if (this.ended) return Promise.reject(this.ended);
    return new Promise((resolve, reject) => {
      this.waiting = resolve;
      this.failWaiting = reject;
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<WatchEvent> {
    return {
      next: () => this.next(),
      return: async () => {
        this.cancel();
        return { value: undefined, done: true };
      },
    };
  }

  private clearWaiting(): void {
    this.waiting = undefined;
    this.failWaiting = undefined;
  }
}
