// The one retry and reconnect policy: exponential backoff with full jitter.

export interface BackoffOptions {
  /** The first delay's upper bound, in ms. */
  minDelayMs: number;
  /** No delay is longer, in ms. */
  maxDelayMs: number;
}

export const defaultBackoff: BackoffOptions = { minDelayMs: 50, maxDelayMs: 5_000 };

/** The delay before attempt `attempt` (0 for the first retry): uniform in [0, min(max, min · 2^attempt)). */
export function backoffDelay(attempt: number, options: BackoffOptions = defaultBackoff): number {
  const ceiling = Math.min(options.maxDelayMs, options.minDelayMs * 2 ** Math.min(attempt, 30));
  return Math.random() * ceiling;
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
