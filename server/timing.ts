// Timers for the adapters (the core takes time as an argument instead).

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Rejects when `promise` has not settled in `ms`, after calling `onTimeout`;
 * the work itself is not cancelled.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout?: () => void): Promise<T> {
  return withSharedTimeout([promise], ms, onTimeout)[0] as Promise<T>;
}

/**
 * `withTimeout` for a round of promises on one timer: each rejects if it has
 * not settled in `ms`, after `onTimeout(its index)`, and the timer is cleared
 * once all have settled. The messages of a round share their deadline, and in
 * workerd a timer set and cleared costs more than the RPC's own bookkeeping
 * (docs/BENCHMARKS.md, "Timers").
 */
export function withSharedTimeout<T>(
  promises: readonly Promise<T>[],
  ms: number,
  onTimeout?: (index: number) => void,
): Promise<T>[] {
  if (promises.length === 0) return [];
  const rejects: ((error: Error) => void)[] = [];
  const settled = promises.map(() => false);
  let pending = promises.length;
  let timer: ReturnType<typeof setTimeout> | undefined = setTimeout(() => {
    timer = undefined;
    for (const [index, reject] of rejects.entries()) {
      if (settled[index]) continue;
      settled[index] = true;
      onTimeout?.(index);
      reject(new Error(`no answer in ${ms} ms`));
    }
  }, ms);
  const finish = (index: number, fill: () => void) => {
    if (settled[index]) return;
    settled[index] = true;
    fill();
    pending--;
    if (pending === 0 && timer !== undefined) clearTimeout(timer);
  };
  return promises.map(
    (promise, index) =>
      new Promise<T>((resolve, reject) => {
        rejects[index] = reject;
        promise.then(
          (value) => finish(index, () => resolve(value)),
          (error: unknown) => finish(index, () => reject(error)),
        );
      }),
  );
}
