// Messages between the fan-out's writer (bench/watch-fanout.ts) and its
// watchers thread (bench/watchers-thread.ts), and the clock they share.

/** To the watchers: open the sockets, each with its WATCHes, then close them. */
export type ToWatchers =
  | {
      type: "open";
      url: string;
      glob: string;
      sockets: number;
      watchesPerSocket: number;
      connectTimeoutMs: number;
    }
  | { type: "close" };

/**
 * From the watchers: the sockets are open (`connected` sockets, each with every
 * watch answered); every watch has a rev's event; the arrival times by rev.
 */
export type FromWatchers =
  | { type: "opened"; connected: number; failures: number; firstError?: string; seconds: number }
  | { type: "complete"; rev: number }
  | { type: "closed"; arrivals: [number, number[]][] };

/** Milliseconds on the system's monotonic clock (process.hrtime), the same on every thread. */
export const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;
