// Decides when a session has gone without keepalives for long enough to end
// it (SPEC §6). Pure: the caller hands in its clock reading on every call and
// proposes a `session-end` (reason "expired") for each session `expired()`
// names; the store, not the keeper, is the truth about which sessions exist.
//
// The two promises and why they hold:
//
// Never early: a session does not end before ttl has passed since the client
// sent its last successful keepalive. The keeper measures from the moment IT
// heard the keepalive, which is after the client sent it, and ends the session
// only after a further ttl + grace on its own clock. The grace absorbs:
// - keepalive forwarding: an acceptor that holds a socket forwards the frames
//   on it at most once per min(ttl / 4, keepaliveForwardMsMax = 1 s, core/limits.ts), so the last frame the client sent
//   may reach the keeper up to 1 s after the one it heard: ≤ 1,000 ms;
// - a clock jump forward: the keeper's clock advances at most clockStepMsMax
//   (1,000 ms) between two readings, whatever the reading says: ≤ 1,000 ms;
// - a clock that runs fast: the rest. With grace = min(ttl + 2 s, 5 s), that is
//   1 s of 3 s at ttl = 1 s (33%), and 3 s of ttl + 5 s at most, 3 s in
//   3,605 s at the longest ttl: 830 ppm, against real clocks' tens of ppm.
// A clock that runs slow, or jumps backwards (ignored: the keeper's clock just
// stands still for that reading), only delays an expiry.
//
// Not much late: while the keeper runs and a majority is reachable, a session
// with no keepalive ends within ttl + grace ≤ ttl + 5 s of keeper time after
// the last keepalive it heard, plus the caller's wake-up delay and one write.
// SPEC allows 2 × ttl + 5 s, so ttl (≥ 1 s) is left for those, for forwarding
// transit, and for time lost to clamping: the caller wakes the keeper by
// nextDeadlineMs(), at most clockStepMsMax apart, so clamping loses only how
// late a wake-up is.
//
// A new keeper (a restart, another acceptor taking over) starts from what a
// majority of acceptors heard from the keepers before it (core/keeper-lease.ts,
// the heard marks): a session is kept alive as of its mark, and one with no
// mark as of the takeover, so a lease may end late, never early.

/** The default bound on how far the keeper's clock advances between two readings. */
export const clockStepMsMaxDefault = 1000;
/** After expired() names a session whose end is not yet applied, it names it again this much later. */
export const expiryRetryMsDefault = 1000;

/** How long after ttl, on the keeper's clock, a session without keepalives ends (see the reasoning above). */
export function expiryGraceMs(ttlMs: number): number {
  return Math.min(ttlMs + 2000, 5000);
}

export interface SessionKeeperOptions {
  /** The most the keeper's clock advances between two readings: a forward jump counts as this much. */
  clockStepMsMax?: number;
  /** How long after naming a session as expired to name it again if its end has not been applied by then. */
  expiryRetryMs?: number;
}

/**
 * A keepalive's answer: `alive` (extended), `ending` (expired() named it: the
 * caller waits for the end to be decided and answers NOSESSION; the keeper
 * never answers success for a session it is ending), or `unknown` (NOSESSION,
 * or not yet applied by the caller's replica).
 */
export type KeepaliveResult = "alive" | "ending" | "unknown";

interface KeptSession {
  ttlMs: number;
  /** On the keeper's clock. */
  deadlineMs: number;
  ending: boolean;
}

interface Deadline {
  deadlineMs: number;
  session: string;
}

export class SessionKeeper {
  private readonly clockStepMsMax: number;
  private readonly expiryRetryMs: number;
  /** The keeper's own clock: monotonic, advanced by clamped steps of the caller's readings. */
  private keeperMs = 0;
  private lastReadingMs: number | undefined;
  private readonly sessions = new Map<string, KeptSession>();
  /** A min-heap by deadline; an entry whose session has since moved its deadline is stale and skipped. */
  private heap: Deadline[] = [];

  constructor(options: SessionKeeperOptions = {}) {
    this.clockStepMsMax = options.clockStepMsMax ?? clockStepMsMaxDefault;
    this.expiryRetryMs = options.expiryRetryMs ?? expiryRetryMsDefault;
    if (!(this.clockStepMsMax > 0) || !(this.expiryRetryMs > 0)) {
      throw new Error("SessionKeeper: clockStepMsMax and expiryRetryMs must be positive");
    }
  }

  /** A session was opened (by any proposer): it lives a full ttl + grace from now. */
  opened(session: string, ttlMs: number, nowMs: number): void {
    const now = this.observe(nowMs);
    const kept = this.sessions.get(session);
    // An end already under way stands: the store decides whether the session exists.
    if (kept?.ending) return;
    this.schedule(session, ttlMs, now + ttlMs + expiryGraceMs(ttlMs));
  }

  /** A keepalive reached the keeper now. */
  keptAlive(session: string, nowMs: number): KeepaliveResult {
    const now = this.observe(nowMs);
    const kept = this.sessions.get(session);
    if (kept === undefined) return "unknown";
    if (kept.ending) return "ending";
    this.schedule(session, kept.ttlMs, now + kept.ttlMs + expiryGraceMs(kept.ttlMs));
    return "alive";
  }

  /** The session's end was applied (by the client's DELETE or an expiry): forget it. */
  ended(session: string): void {
    this.sessions.delete(session);
    this.compact();
  }

  /**
   * Starts from the store's live sessions, as a new keeper does: each is
   * treated as kept alive at `heardAtMs` (on the caller's clock, at most now),
   * or now without one (late, never early); one the keeper knew and the store
   * no longer has is forgotten.
   */
  takeOver(sessions: readonly { session: string; ttlMs: number; heardAtMs?: number }[], nowMs: number): void {
    const now = this.observe(nowMs);
    const live = new Set<string>();
    for (const { session, ttlMs, heardAtMs } of sessions) {
      live.add(session);
      const kept = this.sessions.get(session);
      const ago = heardAtMs === undefined ? 0 : Math.max(nowMs - heardAtMs, 0);
      const deadlineMs = now - ago + ttlMs + expiryGraceMs(ttlMs);
      if (kept?.ending) continue;
      this.schedule(session, ttlMs, Math.max(deadlineMs, kept?.deadlineMs ?? 0));
    }
    for (const session of [...this.sessions.keys()]) if (!live.has(session)) this.sessions.delete(session);
    this.compact();
  }

  /**
   * The sessions whose deadline has passed, to end now; each is marked ending
   * (keepalives no longer extend it) and named again after expiryRetryMs if
   * ended() has not been called for it by then (the end's write was lost).
   */
  expired(nowMs: number): string[] {
    const now = this.observe(nowMs);
    const due: string[] = [];
    for (let top = this.validTop(); top !== undefined && top.deadlineMs <= now; top = this.validTop()) {
      const kept = this.sessions.get(top.session) as KeptSession;
      kept.ending = true;
      due.push(top.session);
      this.schedule(top.session, kept.ttlMs, now + this.expiryRetryMs);
    }
    return due.sort();
  }

  /**
   * When to call expired() next, on the caller's clock, or undefined when no
   * session is kept. Never more than clockStepMsMax after the last reading, so
   * that the clamp on the keeper's clock loses no time.
   */
  nextDeadlineMs(): number | undefined {
    const top = this.validTop();
    if (top === undefined || this.lastReadingMs === undefined) return undefined;
    return this.lastReadingMs + Math.min(Math.max(top.deadlineMs - this.keeperMs, 0), this.clockStepMsMax);
  }

  /** The sessions kept now, sorted, for tests and the viewer. */
  kept(): { session: string; ttlMs: number; ending: boolean }[] {
    return [...this.sessions.entries()]
      .map(([session, { ttlMs, ending }]) => ({ session, ttlMs, ending }))
      .sort((a, b) => (a.session < b.session ? -1 : a.session > b.session ? 1 : 0));
  }

  /** Takes a clock reading and returns the keeper's time. */
  private observe(nowMs: number): number {
    if (!Number.isFinite(nowMs)) throw new Error(`SessionKeeper: the clock read ${nowMs}`);
    if (this.lastReadingMs !== undefined) {
      // Backwards: stand still. Forwards: at most one step, however far it jumped.
      this.keeperMs += Math.min(Math.max(nowMs - this.lastReadingMs, 0), this.clockStepMsMax);
    }
    this.lastReadingMs = nowMs;
    return this.keeperMs;
  }

  private schedule(session: string, ttlMs: number, deadlineMs: number): void {
    const kept = this.sessions.get(session);
    if (kept === undefined) this.sessions.set(session, { ttlMs, deadlineMs, ending: false });
    else {
      kept.ttlMs = ttlMs;
      kept.deadlineMs = deadlineMs;
    }
    this.push({ deadlineMs, session });
    this.compact();
  }

  /** The earliest deadline still in force, dropping stale entries above it. */
  private validTop(): Deadline | undefined {
    for (let top = this.heap[0]; top !== undefined; top = this.heap[0]) {
      if (this.sessions.get(top.session)?.deadlineMs === top.deadlineMs) return top;
      this.pop();
    }
    return undefined;
  }

  /** Keeps the heap within twice the live entries, so that many keepalives cost no memory. */
  private compact(): void {
    if (this.heap.length <= 2 * this.sessions.size + 64) return;
    this.heap = [...this.sessions.entries()].map(([session, { deadlineMs }]) => ({ deadlineMs, session }));
    this.heap.sort((a, b) => a.deadlineMs - b.deadlineMs);
  }

  private push(entry: Deadline): void {
    const heap = this.heap;
    heap.push(entry);
    for (let at = heap.length - 1; at > 0; ) {
      const up = (at - 1) >> 1;
      if ((heap[up] as Deadline).deadlineMs <= entry.deadlineMs) break;
      heap[at] = heap[up] as Deadline;
      heap[up] = entry;
      at = up;
    }
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop();
    if (last === undefined || heap.length === 0) return;
    heap[0] = last;
    for (let at = 0; ; ) {
      const left = 2 * at + 1;
      const right = left + 1;
      let least = at;
      if (left < heap.length && (heap[left] as Deadline).deadlineMs < (heap[least] as Deadline).deadlineMs)
        least = left;
      if (right < heap.length && (heap[right] as Deadline).deadlineMs < (heap[least] as Deadline).deadlineMs)
        least = right;
      if (least === at) return;
      [heap[at], heap[least]] = [heap[least] as Deadline, heap[at] as Deadline];
      at = least;
    }
  }
}
