// The session keeper's role on one acceptor (docs/PROTOCOL.md, "Sessions"):
// any acceptor can hold it, one at a time, so sessions keep expiring while a
// majority is up. To hold it, an acceptor gets a lease from a majority
// (core/keeper-lease.ts), brings its replica to the read barrier, and claims a
// keeper term through Paxos; only then does it take the sessions over
// (SessionKeeping: each from when the majority that granted it last heard it
// kept alive) and answer keepalives, each once a lease round has carried it.
// It renews the lease while sessions live and steps down when it cannot. An acceptor that does not hold the role
// points a keepalive at the one its grants name, or, when no grant stands,
// takes the role itself. Every acceptor whose store holds sessions watches for
// the holder's grants to lapse, so that a keeper that dies is replaced without
// any request arriving; the preferred keeper (DOOZER_LEADER) tries first and
// the others a rank's delay later each, so they rarely duel.

import { candidateRank, KeeperLease, nextTermOf, type PeerGrantAnswer } from "../core/keeper-lease";
import {
  keeperLeaseDriftMargin,
  keeperLeaseMs,
  keeperLeaseSafetyMs,
  keeperRankDelayMs,
  keeperRenewEveryMs,
} from "../core/limits";
import type { Mutation, MutationOutcome } from "../core/mutation";
import { quorumOf } from "../core/quorum";
import type { Store } from "../core/store";
import { logLine } from "./log";
import { type KeepaliveAnswer, SessionKeeping } from "./session-keeping";

/** A keepalive that this acceptor cannot answer: go to `keeper` if named, else try another acceptor. */
export interface KeeperRedirect {
  notKeeper: string;
  keeper?: string;
}

export interface KeeperRoleHost {
  readonly self: string;
  /** Every acceptor, in configuration order. */
  readonly acceptors: readonly string[];
  /** The acceptor that tries first (DOOZER_LEADER). */
  readonly preferred: string;
  store(): Store;
  /** The host's clock reading (Date.now() on an acceptor). */
  now(): number;
  /** A number in [0, 1): rivals that collided back off by different amounts. */
  random(): number;
  /**
   * This acceptor's own grant to itself, as a peer's would be: marking the
   * sessions `heard` if granted, and with its heard marks when `wantHeard`.
   */
  grantLocally(heard: readonly string[], wantHeard: boolean): PeerGrantAnswer;
  /** Asks a peer the same; rejects when the peer cannot be reached. */
  requestGrant(peer: string, heard: readonly string[], wantHeard: boolean): Promise<PeerGrantAnswer>;
  /**
   * A peer's log is chosen through `slot`: the holder's replica catches up if
   * it is behind, so that it hears of sessions opened through any proposer even
   * when a commit to it was lost and no write follows.
   */
  peerChosenThrough(slot: number): void;
  /** How far this replica's log is chosen. */
  chosenThrough(): number;
  /** Lets this acceptor's own grant to itself go (after a lost round). */
  releaseLocally(): void;
  /** Asks a peer to let its grant to this acceptor go; best effort. */
  requestRelease(peer: string): Promise<void>;
  /** The candidate this acceptor's own grants name now, if one stands. */
  grantHolder(): string | undefined;
  /** How long until this acceptor's own grant runs out (0 when none stands). */
  grantRemainingMs(): number;
  /** Brings the replica to the read barrier, finishing slots if need be; rejects when it cannot. */
  syncToBarrier(): Promise<void>;
  /** Brings the replica to the read barrier if it can; never rejects (SessionKeeping's catchUp). */
  catchUp(): Promise<void>;
  /** Decides a mutation with this acceptor's proposer, resolving once its own replica applied it. */
  propose(mutation: Mutation): Promise<MutationOutcome>;
  waitUntil(work: Promise<unknown>): void;
  /** Makes sure wake() runs by nextWakeMs() (the acceptor's alarm), e.g. for a keepalive waiting on a round. */
  scheduleWake(): void;
}

/** The longest a host sleeps between two wakes while the role matters (KeeperGrants' clock step). */
const wakeEveryMsMax = 1000;

export class KeeperRole {
  private readonly lease = new KeeperLease(keeperLeaseMs, keeperLeaseDriftMargin, keeperLeaseSafetyMs);
  private keeping: SessionKeeping | undefined;
  private term = 0;
  private starting: Promise<boolean> | undefined;
  private renewing = false;
  private renewedAtMs = Number.NEGATIVE_INFINITY;
  /** When this acceptor first saw no grant standing, for its rank's delay. */
  private vacantSinceMs: number | undefined;
  /** The holder named by the peers that refused the last grant request. */
  private lastHolderHint: string | undefined;
  /**
   * When the lease last began without a gap, on the host's clock: no other
   * keeper has answered a keepalive since (their lease ended before a majority
   * granted this one), so the takeover counts every session as kept alive from
   * here, not from after the barrier and the claim.
   */
  private heldSinceMs = Number.NEGATIVE_INFINITY;
  /** Keepalives waiting for the next lease round to carry their sessions (resolved with whether it won). */
  private waitingForRound: ((won: boolean) => void)[] = [];
  /**
   * When a majority last heard each session kept alive, on the host's clock,
   * from the round that began the lease's current stretch: what takeOver()
   * starts the sessions from.
   */
  private marks = new Map<string, number>();
  /** After a lost round, no new one before this (host clock): candidates that collided try again a rank apart. */
  private backoffUntilMs = Number.NEGATIVE_INFINITY;

  constructor(private readonly host: KeeperRoleHost) {}

  /** Whether this acceptor holds the role now: a valid lease, and its term in force. */
  active(): boolean {
    if (this.keeping === undefined) return false;
    if (!this.lease.valid(this.host.now())) {
      this.stepDown("lease lapsed");
      return false;
    }
    if (this.host.store().keeperTerm !== this.term) {
      // Another acceptor's claim, decided late (Paxos may finish an old proposal at any time).
      // It holds no lease while this one does, so nobody has answered for it: claim again.
      void this.reclaim();
      return false;
    }
    return true;
  }

  /** Answers keepalives, taking the role first if nobody holds it. */
  async keepalive(sessions: readonly string[]): Promise<KeepaliveAnswer[] | KeeperRedirect> {
    if (!this.active()) {
      const holder = this.host.grantHolder();
      if (holder !== undefined && holder !== this.host.self) return this.redirect(holder);
      // Another acceptor ranks before this one and may be taking the role: not yet.
      if (holder === undefined && !this.rankDelayPassed()) return this.redirect(undefined);
      if (!(await this.start())) return this.redirect(this.lastHolderHint);
    }
    const keeping = this.keeping as SessionKeeping;
    const answers = await keeping.keepalive(sessions, this.host.now);
    const alive = answers.filter((a) => a.alive).map((a) => a.session);
    if (alive.length > 0) {
      // Answered only once a lease round carrying them has won a majority: whoever takes the
      // role next meets a grantor that heard them, and does not end them early.
      keeping.markHeard(alive);
      const carried = this.nextRound();
      this.host.scheduleWake();
      if (!(await carried)) return this.redirect(undefined);
    }
    // The lease held when each keepalive was counted only if it still holds now; otherwise the
    // next keeper may not have heard of them, so none is answered.
    if (!this.active() || this.keeping !== keeping) return this.redirect(undefined);
    return answers;
  }

  /** Takes the role (single flight); resolves whether this acceptor holds it. */
  start(): Promise<boolean> {
    if (this.active()) return Promise.resolve(true);
    this.starting ??= this.takeOver().finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  /**
   * Work for the host's alarm: the holder renews its lease and ends the
   * sessions whose time is up; another acceptor takes the role over when no
   * grant has stood for its rank's delay and the store holds sessions.
   */
  async wake(): Promise<void> {
    if (this.keeping !== undefined) {
      await this.renew();
      if (this.active()) this.keeping?.tick(this.host.now());
      return;
    }
    if (this.host.store().sessionCount === 0) {
      this.vacantSinceMs = undefined;
      return;
    }
    const holder = this.host.grantHolder();
    if (holder === this.host.self) {
      // Granted, but the takeover stopped short (the barrier, the claim): try again.
      await this.start();
      return;
    }
    if (holder !== undefined) {
      this.vacantSinceMs = undefined;
      return;
    }
    if (this.rankDelayPassed()) await this.start();
  }

  /** Whether no grant has stood for this acceptor's rank's delay (the preferred keeper: at once). */
  private rankDelayPassed(): boolean {
    const now = this.host.now();
    this.vacantSinceMs ??= now;
    if (now < this.vacantSinceMs) this.vacantSinceMs = now;
    const rank = candidateRank(this.host.self, this.host.acceptors, this.host.preferred);
    return now - this.vacantSinceMs >= rank * keeperRankDelayMs;
  }

  /** The holder hears of sessions opened or ended through any proposer as its replica applies them. */
  afterApply(): void {
    if (this.active()) this.keeping?.tick(this.host.now());
  }

  /** When wake() is next due, on the host's clock; undefined when nothing needs it. */
  nextWakeMs(): number | undefined {
    const now = this.host.now();
    // Readings kept from before a clock jumped back would put a wake far off: none is ever
    // more than the grants' clock step (a second) away while the role matters.
    const soon = (at: number) => Math.min(Math.max(at, now + 1), now + wakeEveryMsMax);
    if (this.keeping !== undefined) {
      const deadline = this.keeping.nextDeadlineMs() ?? Number.POSITIVE_INFINITY;
      const renewal = this.needsRenewal() ? this.renewedAtMs + keeperRenewEveryMs : this.lease.untilMs;
      return soon(Math.min(deadline, renewal));
    }
    if (this.host.store().sessionCount === 0) return undefined;
    if (this.host.grantHolder() === this.host.self)
      return soon(Math.max(this.backoffUntilMs, now + keeperRankDelayMs));
    const remaining = this.host.grantRemainingMs();
    if (remaining > 0) {
      // Right after a lost round the rival's grant here may be released any moment: look again then.
      const poll = now + remaining;
      return soon(this.backoffUntilMs > now ? Math.min(poll, this.backoffUntilMs) : poll);
    }
    const rank = candidateRank(this.host.self, this.host.acceptors, this.host.preferred);
    const since = Math.min(this.vacantSinceMs ?? now, now);
    return soon(Math.max(since + rank * keeperRankDelayMs, this.backoffUntilMs));
  }

  /** The term this acceptor holds the role under, or undefined. */
  get heldTerm(): number | undefined {
    return this.active() ? this.term : undefined;
  }

  private async takeOver(): Promise<boolean> {
    this.stepDown(undefined);
    const now = this.host.now();
    // A backoff longer than any this class sets came from a clock that jumped back: drop it.
    if (this.backoffUntilMs - now > 4 * this.host.acceptors.length * keeperRankDelayMs)
      this.backoffUntilMs = now;
    if (now < this.backoffUntilMs) return false;
    try {
      if (!(await this.acquireLease())) return false;
      // Caught up to the barrier, the store's term is the latest decided: claim the next one of ours.
      await this.host.syncToBarrier();
      const term = await this.claimTerm();
      if (term === undefined) return false;
      if (!this.lease.valid(this.host.now()) && !(await this.acquireLease())) return false;
      this.term = term;
      this.keeping = new SessionKeeping(
        {
          store: () => this.host.store(),
          propose: (mutation) => this.host.propose(mutation),
          catchUp: () => this.host.catchUp(),
          waitUntil: (work) => this.host.waitUntil(work),
        },
        this.heldSinceMs,
        term,
        this.marks,
      );
      this.vacantSinceMs = undefined;
      logLine("info", "session-keeper-started", {
        acceptor: this.host.self,
        term,
        sessions: this.keeping.kept().length,
      });
      return true;
    } catch (error) {
      // No majority, or the barrier out of reach: a later keepalive or wake tries again.
      logLine("warn", "session-keeper-waiting", { acceptor: this.host.self, message: String(error) });
      return false;
    }
  }

  private reclaiming = false;
  /** A slot peers accepted above this replica's chosen log, seen at the last renewal; undefined if none. */
  private acceptedAbove: number | undefined;

  /**
   * A slot accepted by peers but never learnt as chosen here (its commit was
   * lost, and no later write came): at two renewals in a row, the holder
   * finishes it with its own proposer, else a session opened there would wait
   * for some later write to be seen.
   */
  private noteAcceptedAbove(peerAccepted: number): void {
    const chosen = this.host.chosenThrough();
    if (this.keeping === undefined) {
      this.acceptedAbove = undefined;
      return;
    }
    if (this.acceptedAbove !== undefined && this.acceptedAbove > chosen && !this.finishing) {
      // Seen a renewal ago, and still not learnt.
      this.finishing = true;
      this.host
        .syncToBarrier()
        .catch(() => undefined)
        .finally(() => {
          this.finishing = false;
        });
    }
    this.acceptedAbove = peerAccepted > chosen ? peerAccepted : undefined;
  }

  private finishing = false;

  /**
   * Claims the next term of this acceptor's above the store's (the caller has
   * brought the replica to the barrier); the term once applied here, or
   * undefined when another claim won.
   */
  private async claimTerm(): Promise<number | undefined> {
    const term = nextTermOf(
      this.host.self,
      this.host.store().keeperTerm,
      this.host.acceptors,
      this.host.preferred,
    );
    const outcome = await this.host.propose({ op: "keeper-claim", id: `keeper.${term}`, term });
    // Read anew: a state transfer may have replaced the store meanwhile.
    const inForce = this.host.store().keeperTerm;
    if (outcome.error === undefined && inForce === term) return term;
    logLine("warn", "session-keeper-claim-lost", { acceptor: this.host.self, term, inForce });
    return undefined;
  }

  /** Claims a term above a late one, keeping the sessions' deadlines: the lease never lapsed. */
  private async reclaim(): Promise<void> {
    const keeping = this.keeping;
    if (this.reclaiming || keeping === undefined) return;
    this.reclaiming = true;
    try {
      await this.host.syncToBarrier();
      if (this.host.store().keeperTerm === this.term) return;
      const term = await this.claimTerm();
      if (term === undefined || this.keeping !== keeping) return;
      this.term = term;
      keeping.setTerm(term);
      logLine("info", "session-keeper-reclaimed", { acceptor: this.host.self, term });
    } catch (error) {
      logLine("warn", "session-keeper-waiting", { acceptor: this.host.self, message: String(error) });
    } finally {
      this.reclaiming = false;
    }
  }

  private needsRenewal(): boolean {
    return this.host.store().sessionCount > 0 || (this.keeping?.kept().length ?? 0) > 0;
  }

  private async renew(): Promise<void> {
    if (this.keeping === undefined || !this.lease.valid(this.host.now())) return;
    if (!this.needsRenewal()) return; // No session to keep: the lease may lapse, and the role with it.
    if (this.renewing || this.host.now() - this.renewedAtMs < keeperRenewEveryMs - 10) return;
    this.renewing = true;
    try {
      await this.acquireLease();
    } finally {
      this.renewing = false;
    }
    this.active();
  }

  /** One round of grant requests; true when a majority granted (the lease then runs from before the round). */
  private nextRound(): Promise<boolean> {
    return new Promise((resolve) => this.waitingForRound.push(resolve));
  }

  private async acquireLease(): Promise<boolean> {
    const round = this.lease.sending(this.host.now());
    this.renewedAtMs = round.sentAtMs;
    const waiting = this.waitingForRound;
    this.waitingForRound = [];
    const heard = this.keeping?.drainHeard() ?? [];
    // Taking the role over: ask what each grantor heard, to start the sessions from there.
    const wantHeard = this.keeping === undefined;
    const marks = new Map<string, number>();
    const noteMarks = (answer: PeerGrantAnswer) => {
      if (!answer.granted || answer.heard === undefined) return;
      const now = this.host.now();
      for (const [session, agoMs] of answer.heard) {
        marks.set(session, Math.max(marks.get(session) ?? Number.NEGATIVE_INFINITY, now - agoMs));
      }
    };
    const peers = this.host.acceptors.filter((a) => a !== this.host.self);
    const quorum = quorumOf(this.host.acceptors.length);
    let granted = 0;
    let refused = 0;
    let askedSelf = false;
    let peerAccepted = 0;
    const grantedBy: string[] = [];
    const won = await new Promise<boolean>((resolve) => {
      const settle = () => {
        // Its own grant last, once the peers' make a majority with it: a candidate that grants
        // itself first blocks its rivals while it waits for a peer that is down, and they it.
        if (!askedSelf && granted + 1 >= quorum) {
          askedSelf = true;
          const local = this.host.grantLocally(heard, wantHeard);
          noteMarks(local);
          if (local.granted) granted++;
          else {
            refused++;
            this.lastHolderHint = local.holder;
          }
        }
        if (granted >= quorum) resolve(true);
        else if (refused > this.host.acceptors.length - quorum) resolve(false);
      };
      settle();
      for (const peer of peers) {
        this.host.requestGrant(peer, heard, wantHeard).then(
          (answer) => {
            noteMarks(answer);
            if (answer.chosenThrough !== undefined) this.host.peerChosenThrough(answer.chosenThrough);
            if (answer.maxAccepted !== undefined) peerAccepted = Math.max(peerAccepted, answer.maxAccepted);
            if (answer.granted) {
              granted++;
              grantedBy.push(peer);
            } else {
              refused++;
              if (answer.holder !== undefined && answer.holder !== this.host.self)
                this.lastHolderHint = answer.holder;
            }
            settle();
          },
          () => {
            refused++;
            settle();
          },
        );
      }
    });
    this.noteAcceptedAbove(peerAccepted);
    for (const resolve of waiting) resolve(won);
    if (won) {
      const now = this.host.now();
      if (!this.lease.valid(now)) {
        // A new stretch: nobody else answered keepalives since the grants they had ran out, and
        // what anyone answered before, a majority heard, this one among it.
        this.heldSinceMs = now;
        this.marks = marks;
      } else if (wantHeard) {
        for (const [session, at] of marks)
          this.marks.set(session, Math.max(this.marks.get(session) ?? at, at));
      }
      this.lease.granted(round);
      return true;
    }
    if (this.keeping === undefined) {
      // A lost first round: let go of what was granted, so that one rival can win the next, and
      // wait a rank's delay per rank and a random part before another (late grants simply run out).
      this.host.releaseLocally();
      for (const peer of grantedBy) this.host.requestRelease(peer).catch(() => undefined);
      const rank = candidateRank(this.host.self, this.host.acceptors, this.host.preferred);
      this.backoffUntilMs = this.host.now() + (rank + 1 + 2 * this.host.random()) * keeperRankDelayMs;
    }
    return false;
  }

  private redirect(keeper: string | undefined): KeeperRedirect {
    const notKeeper = `${this.host.self} does not hold the session keeper's role`;
    return keeper === undefined || keeper === this.host.self ? { notKeeper } : { notKeeper, keeper };
  }

  private stepDown(why: string | undefined): void {
    if (this.keeping === undefined) return;
    this.keeping = undefined;
    this.lease.end();
    for (const resolve of this.waitingForRound.splice(0)) resolve(false);
    if (why !== undefined)
      logLine("info", "session-keeper-stopped", { acceptor: this.host.self, term: this.term, why });
  }
}
