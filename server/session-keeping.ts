// The session keeper's host (SPEC §6): the acceptor that keeps sessions alive
// and ends the ones that went quiet. The timing rules are core's
// (core/session-keeper.ts, the clock handed in); the store is the truth about
// which sessions exist. Here are the I/O around them: answering keepalives,
// noticing sessions opened or ended through any proposer, and proposing the
// end of an expired session like any other write.

import type { Mutation, MutationOutcome } from "../core/mutation";
import { SessionKeeper } from "../core/session-keeper";
import type { Store } from "../core/store";
import { logLine } from "./log";

/** What a keepalive learnt about one session: alive (extended, with its ttl), or not (NOSESSION). */
export interface KeepaliveAnswer {
  session: string;
  alive: boolean;
  ttlMs?: number;
}

export interface SessionKeepingHost {
  store(): Store;
  /** Decides a mutation (the keeper's own proposer). */
  propose(mutation: Mutation): Promise<MutationOutcome>;
  /** Brings this replica up to the linearizable point, so that a session just opened elsewhere is seen. */
  catchUp(): Promise<void>;
  /** Lets background work outlive the request that started it. */
  waitUntil(work: Promise<unknown>): void;
}

export class SessionKeeping {
  private readonly keeper = new SessionKeeper();
  /** Ends being decided, by session: a keepalive for one of them waits for the decision. */
  private readonly ending = new Map<string, Promise<void>>();
  /** The store rev at the last full comparison of the keeper with the store. */
  private reconciledAt = -1;
  /** Sessions kept alive (or first heard of) since the last drainHeard(): the next lease round carries them. */
  private heard = new Set<string>();

  /**
   * A new keeper starts each live session from when a majority last heard it
   * kept alive (`heardAtMs`, on the caller's clock: core/keeper-lease.ts), or,
   * without a mark, as kept alive now (late, never early). Its expiries name
   * `keeperTerm`, the term it claimed: the store refuses them under another.
   */
  constructor(
    private readonly host: SessionKeepingHost,
    nowMs: number,
    private keeperTerm: number,
    heardAtMs: ReadonlyMap<string, number> = new Map(),
  ) {
    const leases = host.store().sessionLeases();
    this.keeper.takeOver(
      leases.map((lease) => {
        const at = heardAtMs.get(lease.session);
        return at === undefined ? lease : { ...lease, heardAtMs: at };
      }),
      nowMs,
    );
    // Those with no mark count from now: the next round marks them so for whoever comes next.
    for (const { session } of leases) if (!heardAtMs.has(session)) this.heard.add(session);
    this.reconciledAt = host.store().rev;
  }

  /** Sessions whose keepalives are about to be answered alive: the next lease round carries them. */
  markHeard(sessions: readonly string[]): void {
    for (const session of sessions) this.heard.add(session);
  }

  /** The sessions to carry in the next lease round (server/keeper-role.ts), and forgets them. */
  drainHeard(): string[] {
    const out = [...this.heard];
    this.heard = new Set();
    return out;
  }

  /** Answers keepalives for `sessions`, in order; a session it is ending answers NOSESSION, never alive. */
  async keepalive(sessions: readonly string[], now: () => number): Promise<KeepaliveAnswer[]> {
    let caughtUp = false;
    const answers: KeepaliveAnswer[] = [];
    for (const session of sessions) {
      let result = this.keeper.keptAlive(session, now());
      if (result === "unknown") {
        // Opened through another proposer, and perhaps not yet applied here.
        if (this.host.store().sessionTtlMs(session) === undefined && !caughtUp) {
          await this.host.catchUp();
          caughtUp = true;
        }
        const openedTtlMs = this.host.store().sessionTtlMs(session);
        if (openedTtlMs !== undefined) {
          this.keeper.opened(session, openedTtlMs, now());
          result = this.keeper.keptAlive(session, now());
        }
      }
      if (result === "ending") await this.ending.get(session);
      if (result !== "alive") {
        answers.push({ session, alive: false });
        continue;
      }
      const ttlMs = this.host.store().sessionTtlMs(session);
      if (ttlMs === undefined) {
        // Kept here, gone from the store: a client's DELETE ended it since the last tick.
        this.keeper.ended(session);
        answers.push({ session, alive: false });
        continue;
      }
      answers.push({ session, alive: true, ttlMs });
    }
    return answers;
  }

  /** Ends the sessions whose time is up; call it by nextDeadlineMs() at the latest. */
  tick(nowMs: number): void {
    this.reconcile(nowMs);
    for (const session of this.keeper.expired(nowMs)) {
      if (this.ending.has(session)) continue;
      if (this.host.store().sessionTtlMs(session) === undefined) {
        this.keeper.ended(session);
        continue;
      }
      const end = this.end(session);
      this.ending.set(session, end);
      this.host.waitUntil(end);
    }
  }

  /** The keeper claimed a later term without a gap in its lease: its expiries name that one from now on. */
  setTerm(keeperTerm: number): void {
    this.keeperTerm = keeperTerm;
  }

  /** When tick() is due next, on the caller's clock; undefined when no session is kept. */
  nextDeadlineMs(): number | undefined {
    return this.keeper.nextDeadlineMs();
  }

  /** Live sessions the keeper knows, with whether their end is under way (for the viewer). */
  kept(): { session: string; ttlMs: number; ending: boolean }[] {
    return this.keeper.kept();
  }

  /**
   * Brings the keeper in line with the store once the store has moved: a
   * session opened through any proposer starts its lease now, one ended by a
   * client's DELETE is forgotten.
   */
  private reconcile(nowMs: number): void {
    const store = this.host.store();
    if (store.rev === this.reconciledAt) return;
    this.reconciledAt = store.rev;
    const known = new Set(this.keeper.kept().map((k) => k.session));
    for (const { session, ttlMs } of store.sessionLeases()) {
      if (known.delete(session)) continue;
      this.keeper.opened(session, ttlMs, nowMs);
      this.heard.add(session);
    }
    for (const gone of known) if (!this.ending.has(gone)) this.keeper.ended(gone);
  }

  private async end(session: string): Promise<void> {
    try {
      // One id per session and term: if this end is proposed again after a lost answer, it
      // applies once; a later keeper's end of the same session is another intent.
      const outcome = await this.host.propose({
        op: "session-end",
        id: `expire.${this.keeperTerm}.${session}`,
        session,
        reason: "expired",
        keeperTerm: this.keeperTerm,
      });
      if (outcome.error === undefined || outcome.error.code === "NOSESSION") this.keeper.ended(session);
      if (outcome.error === undefined) logLine("info", "session-expired", { session, rev: outcome.rev });
    } catch (error) {
      // No quorum: the keeper names the session again after its retry interval.
      logLine("warn", "session-expiry-failed", { session, message: String(error) });
    } finally {
      this.ending.delete(session);
    }
  }
}
