// Every limit in one place, each with the error it produces (SPEC §1 "Limits").

/** A file's value; over it: TOO_LARGE. */
export const valueBytesMax = 1024 * 1024;
/** A path or glob in bytes; over it: BAD_PATH. */
export const pathBytesMax = 4096;
/** Entries in one GETDIR or WALK page; outside 1..max: RANGE. */
export const pageEntriesMax = 1000;
/** Revs of history kept for reads at a past rev and for WAIT/WATCH; older: TOO_LATE. */
export const historyRevsDefault = 2000;
/** Default wait for a read at a future rev, in ms; then TIMEOUT. */
export const readTimeoutMsDefault = 10_000;
/** Default WAIT timeout, in ms; then 204 / `timeout: true`. */
export const waitTimeoutMsDefault = 30_000;
/** Any timeout a request may ask for, in ms; over it: RANGE. */
export const timeoutMsMax = 300_000;
/** Revs are integers within ±2^53; beyond: MISSING_ARG. */
export const revAbsMax = 2 ** 53;
/** Mutation ids the store remembers so that a retried write applies once. */
export const dedupMutationsMax = 100_000;
/** Mutations in one Paxos slot. */
export const batchMutationsMax = 256;
/** Encoded bytes of one Paxos slot: below SQLite's 2 MB row limit, above one full-size value. */
export const batchBytesMax = 1536 * 1024;
/** Slots one catch-up fetch asks a peer for. */
export const fetchSlotsMax = 512;
