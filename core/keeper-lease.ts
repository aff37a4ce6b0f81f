// Who may act as the session keeper (docs/PROTOCOL.md, "Sessions"). One
// acceptor at a time answers keepalives and ends sessions; if it dies, another
// takes over while a majority is up. Two mechanisms make "one at a time" hold:
//
// - A lease in time, granted by a majority. Each acceptor grants the keeper's
//   role to one candidate at a time, for leaseMs of its own clock (grants).
//   A candidate that a majority granted may act until leaseMs after it SENT its
//   requests, less a margin, on its own clock (KeeperLease). Any two majorities
//   share an acceptor, which granted the second candidate only once its grant
//   to the first had run out: so the first has stopped acting by then, as long
//   as clocks drift less than the margin. This is what keeps a keepalive
//   answered by a deposed keeper from being missed by the next one.
// - A term in the store, decided by Paxos (store.ts, "keeper-claim"): a new
//   keeper claims a term above the last before it answers anything, and the
//   store applies an expiry only under the term in force. A deposed keeper's
//   end of a session, decided however late, is then refused.
//
// Pure: clocks are readings handed in; this file keeps no time of its own.

/** The keeper of `term`: terms rotate over the acceptors starting at the preferred one; term 0 has none. */
export function keeperOfTerm(
  term: number,
  acceptors: readonly string[],
  preferred: string,
): string | undefined {
  if (term <= 0 || acceptors.length === 0) return undefined;
  const first = Math.max(acceptors.indexOf(preferred), 0);
  return acceptors[(first + term - 1) % acceptors.length];
}

/** The first term above `current` whose keeper is `self`. */
export function nextTermOf(
  self: string,
  current: number,
  acceptors: readonly string[],
  preferred: string,
): number {
  const n = acceptors.length;
  for (let term = current + 1; term <= current + n; term++) {
    if (keeperOfTerm(term, acceptors, preferred) === self) return term;
  }
  throw new Error(`keeper-lease: ${self} is not one of the acceptors`);
}

/** The rank of `self` among candidates: the preferred keeper is 0, the next in rotation 1, … */
export function candidateRank(self: string, acceptors: readonly string[], preferred: string): number {
  const n = acceptors.length;
  const first = Math.max(acceptors.indexOf(preferred), 0);
  const at = acceptors.indexOf(self);
  return at < 0 ? n : (at - first + n) % n;
}

export type GrantAnswer = { granted: true } | { granted: false; holder: string | undefined };

/**
 * A peer's answer to a grant request: with how far its log is chosen and
 * accepted (the keeper's replica follows), and, to a candidate taking over,
 * how long ago it last heard of each session kept alive (`heard`).
 */
export type PeerGrantAnswer = GrantAnswer & {
  chosenThrough?: number;
  maxAccepted?: number;
  heard?: [session: string, agoMs: number][];
};

/** What a grantor keeps across restarts: its grantee, and each session's heard mark as an age. */
export interface StoredGrants {
  lastGrantee?: string;
  heard?: [session: string, agoMs: number][];
}

export interface KeeperGrantsOptions {
  leaseMs: number;
  /** The grantor's clock advances at most this much between two readings (see below). */
  stepMsMax: number;
  /** What it stored before a restart (see StoredGrants); nothing when it never granted. */
  stored?: StoredGrants;
}

/**
 * One acceptor's grants: at most one candidate holds an unexpired grant.
 *
 * The grantor's time is its clock readings with each step clamped to
 * [0, stepMsMax]: a clock that jumps forward can shorten a grant by less than
 * stepMsMax, and one that jumps back only lengthens it. Readings come with each
 * request, every renewal interval from the holder, so the clamp costs nothing
 * while the holder lives, and lengthens a dead holder's grant only when
 * candidates ask less often than every stepMsMax.
 *
 * After a restart the grantor does not know when it last granted: it treats
 * its last grantee (stored) as holding a grant for a full leaseMs from now.
 * One that never granted (nothing stored) holds no grant.
 *
 * It also keeps, per session, when it last heard that the keeper counted a
 * keepalive for it (or learnt of it): a keeper answers a keepalive only once
 * a round of grants that carried it won a majority, so whichever candidate a
 * majority grants next meets at least one grantor that heard it, and takes
 * the session over from there instead of from scratch (server/keeper-role.ts).
 * Marks are on the grantor's clamped time, which never runs ahead of true
 * time; the time a grantor was down counts as none. Both make a mark look
 * newer than it was: a session may then end late, never early.
 */
export class KeeperGrants {
  private readonly leaseMs: number;
  private readonly stepMsMax: number;
  private grantorMs = 0;
  private lastReadingMs: number | undefined;
  private grantee: string | undefined;
  /** On the grantor's time; grants from before a restart count as this one. */
  private untilMs: number;
  /** Per session, on the grantor's time: when it last heard the keeper counted it alive. */
  private readonly heardAt = new Map<string, number>();

  constructor(options: KeeperGrantsOptions, nowMs: number) {
    if (!(options.leaseMs > 0) || !(options.stepMsMax > 0)) throw new Error("KeeperGrants: bad options");
    this.leaseMs = options.leaseMs;
    this.stepMsMax = options.stepMsMax;
    this.observe(nowMs);
    this.grantee = options.stored?.lastGrantee;
    this.untilMs = this.grantee === undefined ? this.grantorMs : this.grantorMs + this.leaseMs;
    for (const [session, agoMs] of options.stored?.heard ?? [])
      this.heardAt.set(session, this.grantorMs - agoMs);
  }

  /**
   * Grants `candidate` the role for leaseMs from now, unless another holds an
   * unexpired grant; a granted request marks the sessions it says were heard.
   */
  request(candidate: string, nowMs: number, heard: readonly string[] = []): GrantAnswer {
    const now = this.observe(nowMs);
    if (now < this.untilMs && this.grantee !== candidate) return { granted: false, holder: this.grantee };
    this.grantee = candidate;
    this.untilMs = now + this.leaseMs;
    for (const session of heard) this.heardAt.set(session, now);
    return { granted: true };
  }

  /** How long ago each session was last heard of. */
  heard(nowMs: number): [session: string, agoMs: number][] {
    const now = this.observe(nowMs);
    return [...this.heardAt].map(([session, at]) => [session, Math.max(now - at, 0)]);
  }

  /** Forgets the marks of sessions `keep` rejects (ended ones); returns them, for storage. */
  forget(keep: (session: string) => boolean): string[] {
    const dropped: string[] = [];
    for (const session of this.heardAt.keys()) {
      if (keep(session)) continue;
      this.heardAt.delete(session);
      dropped.push(session);
    }
    return dropped;
  }

  /** The number of sessions with a mark, to bound them. */
  get heardCount(): number {
    return this.heardAt.size;
  }

  /** The grantor's time now (clamped readings): a stored mark is this value, and its age after a restart is measured from the last one stored. */
  get clockMs(): number {
    return this.grantorMs;
  }

  /** Lets `candidate`'s grant go at once (it stepped down); does nothing if another holds it. */
  release(candidate: string): void {
    if (this.grantee === candidate) this.untilMs = this.grantorMs;
  }

  /** The candidate holding an unexpired grant now, if any. */
  holder(nowMs: number): string | undefined {
    return this.observe(nowMs) < this.untilMs ? this.grantee : undefined;
  }

  /** How long, on the caller's clock, until no grant stands (0 if none does now). */
  remainingMs(nowMs: number): number {
    return Math.max(this.untilMs - this.observe(nowMs), 0);
  }

  /** The candidate last granted, to store. */
  get lastGrantee(): string | undefined {
    return this.grantee;
  }

  private observe(nowMs: number): number {
    if (!Number.isFinite(nowMs)) throw new Error(`KeeperGrants: the clock read ${nowMs}`);
    if (this.lastReadingMs !== undefined) {
      this.grantorMs += Math.min(Math.max(nowMs - this.lastReadingMs, 0), this.stepMsMax);
    }
    this.lastReadingMs = nowMs;
    return this.grantorMs;
  }
}

/**
 * The holder's side: until when it may act, from the reading it took before
 * sending its requests. The margin covers clocks that run at different rates
 * (driftMargin of leaseMs) and the grantors' clamped forward jumps (safetyMs).
 * A reading that goes backwards ends the lease, and a round sent before it
 * counts for nothing: the holder cannot tell how long it really has.
 */
export class KeeperLease {
  private validUntilMs = Number.NEGATIVE_INFINITY;
  private lastReadingMs = Number.NEGATIVE_INFINITY;
  /** Bumped by every backwards reading: a round sent in an earlier epoch grants nothing. */
  private epoch = 0;

  constructor(
    private readonly leaseMs: number,
    private readonly driftMargin: number,
    private readonly safetyMs: number,
  ) {
    if (!(leaseMs * (1 - driftMargin) - safetyMs > 0))
      throw new Error("KeeperLease: the margins eat the lease");
  }

  /** Takes a reading before a round of requests; hand the answer to granted(). */
  sending(nowMs: number): { sentAtMs: number; epoch: number } {
    this.observe(nowMs);
    return { sentAtMs: nowMs, epoch: this.epoch };
  }

  /** A majority granted the round `sending()` began. */
  granted(round: { sentAtMs: number; epoch: number }): void {
    if (round.epoch !== this.epoch) return;
    const until = round.sentAtMs + this.leaseMs * (1 - this.driftMargin) - this.safetyMs;
    this.validUntilMs = Math.max(this.validUntilMs, until);
  }

  /** Whether the holder may act now. */
  valid(nowMs: number): boolean {
    this.observe(nowMs);
    return nowMs < this.validUntilMs;
  }

  /** Ends the lease now (stepping down). */
  end(): void {
    this.validUntilMs = Number.NEGATIVE_INFINITY;
  }

  /** When the lease runs out, on the holder's clock. */
  get untilMs(): number {
    return this.validUntilMs;
  }

  private observe(nowMs: number): void {
    if (!Number.isFinite(nowMs)) throw new Error(`KeeperLease: the clock read ${nowMs}`);
    if (nowMs < this.lastReadingMs) {
      this.epoch++;
      this.validUntilMs = Number.NEGATIVE_INFINITY;
    }
    this.lastReadingMs = nowMs;
  }
}
