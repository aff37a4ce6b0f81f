// Percentiles of latency samples, nearest-rank, so that a reported p99 is a
// latency some request actually had.

/** `sorted` ascending; `q` in [0, 1]. NaN for no samples. */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1] as number;
}
