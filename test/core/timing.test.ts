// The adapters' RPC deadlines: a round of calls shares one timer, and each
// call still settles on its own, with its own answer or its own timeout.

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { withSharedTimeout, withTimeout } from "../../server/timing";

/** A promise and the hands that settle it. */
function deferred<T>() {
  let resolve: (value: T) => void = () => {};
  let reject: (error: unknown) => void = () => {};
  const promise = new Promise<T>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  return { promise, resolve, reject };
}

describe("withSharedTimeout", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("passes each answer and each failure through, and clears its one timer once all have settled", async () => {
    const calls = [deferred<string>(), deferred<string>(), deferred<string>()];
    const results = withSharedTimeout(
      calls.map((c) => c.promise),
      1_000,
    );
    expect(vi.getTimerCount()).toBe(1);
    calls[1]?.resolve("b");
    calls[0]?.reject(new Error("a failed"));
    await expect(results[1]).resolves.toBe("b");
    await expect(results[0]).rejects.toThrow("a failed");
    expect(vi.getTimerCount()).toBe(1);
    calls[2]?.resolve("c");
    await expect(results[2]).resolves.toBe("c");
    expect(vi.getTimerCount()).toBe(0);
  });

  it("times out only the calls still unanswered, telling which", async () => {
    const calls = [deferred<number>(), deferred<number>(), deferred<number>()];
    const timedOut: number[] = [];
    const results = withSharedTimeout(
      calls.map((c) => c.promise),
      500,
      (i) => timedOut.push(i),
    );
    calls[1]?.resolve(1);
    await expect(results[1]).resolves.toBe(1);
    vi.advanceTimersByTime(499);
    expect(timedOut).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(timedOut).toEqual([0, 2]);
    await expect(results[0]).rejects.toThrow("no answer in 500 ms");
    await expect(results[2]).rejects.toThrow("no answer in 500 ms");
    // An answer after the deadline changes nothing.
    calls[0]?.resolve(0);
    await expect(results[0]).rejects.toThrow("no answer in 500 ms");
  });

  it("arms no timer for no calls", () => {
    expect(withSharedTimeout([], 100)).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("withTimeout is the round of one", async () => {
    let called = 0;
    const late = withTimeout(new Promise(() => {}), 200, () => called++);
    vi.advanceTimersByTime(200);
    await expect(late).rejects.toThrow("no answer in 200 ms");
    expect(called).toBe(1);
    await expect(withTimeout(Promise.resolve("now"), 200)).resolves.toBe("now");
    expect(vi.getTimerCount()).toBe(0);
  });
});
