// Ids that sort by when they were made, for mutations and requests.
//
// Every acceptor keeps the outcome of the last 100,000 mutation ids in a
// SQLite table with a unique index on the id. A random id (a UUID) lands on a
// random page of that index: once it holds more pages than SQLite's cache,
// each write reads one back and dirties one more for its commit, and pushes
// the other tables' pages out of the cache too. Ids that begin with the time
// land at the index's end, where the last write left a page warm, as a log's
// keys do (UUIDv7 and ULID do the same for the same reason). Measured: a
// write cost 1.3 to 1.7 times the CPU on a store with a full window of random
// ids (docs/BENCHMARKS.md, "Random mutation ids on a store that has run a while").
//
// Pure: the caller hands in the clock and the randomness.

/** Width of the time part: base-36 milliseconds fit 9 digits until the year 5188. */
const timeDigits = 9;

/** Bytes of randomness: two ids made in the same millisecond collide with odds of 2^-96. */
export const orderedIdRandomBytes = 12;

/**
 * `<9 base-36 digits of nowMs>-<24 hex digits of random>`: 34 characters of
 * [0-9a-f-], so a valid Doozer-Request-Id; ids from later milliseconds sort after.
 */
export function orderedId(nowMs: number, random: Uint8Array): string {
  if (!Number.isSafeInteger(nowMs) || nowMs < 0)
    throw new RangeError(`orderedId: a time in ms, not ${nowMs}`);
  if (random.length !== orderedIdRandomBytes) {
    throw new RangeError(`orderedId: ${orderedIdRandomBytes} random bytes, not ${random.length}`);
  }
  const time = nowMs.toString(36).padStart(timeDigits, "0");
  let tail = "";
  for (const byte of random) tail += byte.toString(16).padStart(2, "0");
  return `${time}-${tail}`;
}
