// The leader role at one acceptor (docs/ARCHITECTURE.md, "The leader follows
// the writers"). Who leads at which term is what this acceptor's replica has
// applied (leader-move mutations, core/leader-term.ts), so every replica at
// the same slot agrees. A write asked of an acceptor that does not lead is
// answered with the leader it knows; the leader weighs where its writes come
// from (core/leader-placement.ts) and, when another acceptor would serve them
// clearly better and it has led long enough, proposes a move to it through
// Paxos like any write. The new leader raises its ballot above the old one's
// before it proposes anything.

import type { ClusterConfig } from "../core/cluster-config";
import { placeLeader, placementDefaults, WriteWindow } from "../core/leader-placement";
import { type LeaderTerm, leaderOfTerm, nextTerm } from "../core/leader-term";
import type { Mutation, MutationOutcome } from "../core/mutation";
import { isRttHint } from "../core/region-rtt";
import type { NotLeader } from "./acceptor-rpc";

export interface LeaderRoleHost {
  self: string;
  config: ClusterConfig;
  /** The leader's term as this acceptor's store holds it (term 0: none moved yet). */
  stored(): LeaderTerm;
  /** The round of the ballot this acceptor last promised: at least the old leader's. */
  promisedRound(): number;
  raiseRound(round: number): void;
  /** Proposes with this acceptor's proposer, resolved once its own replica has applied it. */
  propose(mutation: Mutation): Promise<MutationOutcome>;
  waitUntil(work: Promise<unknown>): void;
  nowMs(): number;
  /** Says that the role moved, for the log. */
  moved?(from: LeaderTerm, to: LeaderTerm, detail: { currentMs: number; bestMs: number }): void;
}

export class LeaderRole {
  private readonly names: string[];
  private readonly hints: string[];
  private readonly selfIndex: number;
  private readonly window: WriteWindow;
  /** The term last seen in the store, and when this acceptor first saw it. */
  private seen: LeaderTerm | undefined;
  private termSeenAtMs = 0;
  /** A move this leader proposed and has not seen decided yet: one at a time. */
  private moving = false;

  constructor(private readonly host: LeaderRoleHost) {
    this.names = host.config.acceptors.map((a) => a.name);
    this.hints = host.config.acceptors.map((a) => a.location);
    this.selfIndex = this.names.indexOf(host.self);
    this.window = new WriteWindow(host.config.leaderWindowWrites);
  }

  /** The leader and its term as this replica knows them. */
  get current(): { leader: string; term: number } {
    const term = this.observe();
    return { leader: this.names[term.leader] ?? this.host.config.leader, term: term.term };
  }

  /** Undefined when this acceptor leads the write; else where to send it. */
  redirect(): NotLeader | undefined {
    const term = this.observe();
    if (term.leader === this.selfIndex) return undefined;
    return { notLeader: true, leader: this.names[term.leader] ?? this.host.config.leader, term: term.term };
  }

  /** A write this acceptor led was decided: weigh where it came from, and move the role if that is due. */
  led(origin: string | undefined): void {
    const term = this.observe();
    if (!this.host.config.leaderFollows || term.leader !== this.selfIndex) return;
    if (origin === undefined || !isRttHint(origin)) return;
    this.window.record(origin);
    if (this.moving) return;
    const decision = placeLeader({
      hints: this.hints,
      current: this.selfIndex,
      window: this.window,
      termAgeMs: this.host.nowMs() - this.termSeenAtMs,
      settings: {
        windowWrites: this.host.config.leaderWindowWrites,
        tenureMs: this.host.config.leaderTermMs,
        marginRatio: placementDefaults.marginRatio,
        marginMs: placementDefaults.marginMs,
      },
    });
    if (!decision.move) return;
    const next = nextTerm(term, decision.to);
    this.moving = true;
    // The id names the term: two acceptors that both believe they lead at a term propose one move, not two.
    const move: Mutation = {
      op: "leader-move",
      id: `leader.${next.term}`,
      term: next.term,
      leader: next.leader,
    };
    const done = this.host.propose(move).then(
      (outcome) => {
        if (!outcome.error) this.host.moved?.(term, next, decision);
      },
      () => {
        // Not decided in time: the next write weighs again.
      },
    );
    this.host.waitUntil(done.finally(() => (this.moving = false)));
  }

  /**
   * The term in force, noticing a new one: the window starts empty (the last
   * leader weighed the writes before), the tenure starts now, and a new leader
   * raises its ballot above the old one's before it proposes.
   */
  private observe(): LeaderTerm {
    const term = leaderOfTerm(this.host.stored(), this.names.indexOf(this.host.config.leader));
    if (this.seen?.term !== term.term) {
      this.seen = term;
      this.termSeenAtMs = this.host.nowMs();
      this.window.clear();
      if (term.leader === this.selfIndex && term.term > 0) this.host.raiseRound(this.host.promisedRound());
    }
    return term;
  }
}
