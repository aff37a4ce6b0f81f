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
/** Rounds over all peers without progress that one catch-up may take before it waits for the next trigger. */
export const catchUpRounds = 3;
/** First pause of a catch-up when every peer was unreachable in a row, in ms; it doubles up to the max. */
export const catchUpBackoffMs = 50;
export const catchUpBackoffMsMax = 1_000;
/** Writes one proposer holds at once (queued, in flight, or owed their outcome); over it: TOO_LARGE, at once. */
export const proposerCommandsMax = 4096;
/** Encoded bytes of those writes: an isolate has 128 MB; over it: TOO_LARGE, at once. */
export const proposerCommandBytesMax = 32 * 1024 * 1024;
/** Read barriers (`Proposer.sync`) one proposer holds at once; over it: TOO_LARGE, at once. */
export const proposerSyncsMax = 1024;
/** Lost duels that still double a proposer's backoff; it is capped by its ms maximum long before. */
export const backoffDoublingsMax = 30;
/** Reads and WAITs one acceptor holds waiting for a rev or a slot; over it: NO_QUORUM (retry elsewhere). */
export const replicaWaitersMax = 10_000;
/** The store's live data, the sum over every file of its path and value bytes (SPEC §8); past it: NOSPACE. */
export const storeBytesMaxDefault = 1024 * 1024 * 1024;
/** Values an acceptor's store keeps in memory for reads, in bytes: the rest stay in SQLite, so memory does not grow with the data. */
export const storeValueCacheBytesMax = 1024 * 1024;
/** Live sessions at once; opening one more: NOSPACE (memory, like bytes, is the store's space). */
export const sessionsMax = 100_000;
/** A session id's length in characters, of [A-Za-z0-9_-]; else BAD_REQUEST. */
export const sessionIdLengthMax = 64;
/** A session's ttl in ms; outside [min, max]: RANGE. */
export const sessionTtlMsMin = 1000;
export const sessionTtlMsMax = 3_600_000;
export const sessionTtlMsDefault = 15_000;
/** Checks, and ops, in one transaction; over: TOO_LARGE. */
export const txnChecksMax = 100;
export const txnOpsMax = 100;
/** A transaction's request body; over: TOO_LARGE. */
export const txnBodyBytesMax = 2 * 1024 * 1024;
/**
 * A transaction's paths, values and session ids once decoded; over: TOO_LARGE.
 * A 2 MiB body of UTF-8 values would decode to nearly 2 MiB, past SQLite's
 * 2 MB row for one Paxos slot, so the decoded transaction must fit in a slot.
 */
export const txnBytesMax = batchBytesMax - 4096;
/** Sessions one client socket may hold (open or attach); more: TOO_LARGE. */
export const socketSessionsMax = 64;
/** Requests in flight on one client socket; more: TOO_LARGE, and the socket stays open. */
export const socketInflightMax = 1000;
/** Watches running on one client socket; more: TOO_LARGE. */
export const socketWatchesMax = 1000;
/**
 * Watches an acceptor sends their events to in one turn; the rest wait for
 * the next turns, so that other requests (the write's own answer, locally,
 * where every object shares one thread) wait behind at most one chunk: a send
 * costs ~25 µs of the thread locally (the loopback TCP path included), so 512
 * is ~13 ms a turn; a timer between turns costs ~1 ms.
 */
export const watchDeliveryChunk = 512;
/** No-op slots one accept may carry to fill the gap below a read barrier (sync); the rest go in later accepts. */
export const noopFillSlotsMax = 256;
/** How long a replica behind the read barrier gets to catch up before a proposer finishes the slot itself. */
export const catchUpMs = 500;
/**
 * The longest an acceptor holding a socket waits before forwarding that
 * socket's frames to the session keeper as keepalives (at most one forward per
 * session every min(ttl / 4, this)); core/session-keeper.ts's grace covers it.
 */
export const keepaliveForwardMsMax = 1_000;
/** How often a replica with watchers asks its peers whether it missed a slot. */
export const followEveryMs = 1_000;
/**
 * The session keeper's lease (core/keeper-lease.ts): each acceptor grants the
 * role for this long on its own clock; the keeper renews every
 * keeperRenewEveryMs and may act for the lease less its margins (1% of it for
 * clocks that run at different rates, and keeperLeaseSafetyMs). A keeper that
 * dies is replaced about a lease after its last renewal.
 */
export const keeperLeaseMs = 1_000;
export const keeperRenewEveryMs = 300;
export const keeperLeaseDriftMargin = 0.01;
export const keeperLeaseSafetyMs = 100;
/** How much later than the preferred keeper each next acceptor in rotation tries to take the role over. */
export const keeperRankDelayMs = 250;
/**
 * Chosen slots each replica keeps in its log below the slot it applied, for
 * peers that catch up by fetching slots; older slots are deleted, and a peer
 * that needs them gets the store's state instead (core/state-transfer.ts).
 */
export const logSlotsKeptDefault = 10_000;
/** Log rows trimmed at most per slot applied: trimming costs O(1) a slot, no transaction is big, and a backlog drains. */
export const logTrimRowsPerSlot = 4;
/** One answer of a state transfer, in bytes (paths, values and ids, plus a cost per item). */
export const transferChunkBytesMax = batchBytesMax * 4;
/** Items one answer of a state transfer carries at most, however small they are. */
export const transferChunkItemsMax = 20_000;
/** A state transfer's source keeps the state of its slot readable until no chunk was asked for in this long. */
export const transferPinIdleMs = 30_000;
