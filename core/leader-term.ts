// Who leads, at which term. The leader role moves by a `leader-move` mutation
// decided through Paxos like any write, so every replica that has applied the
// same log agrees on the leader of each term; terms only rise. Term 0 is the
// configured leader (DOOZER_LEADER), before any move.
//
// Those who do not hold a replica (a Worker isolate) learn the leader from
// redirects, and keep the one of the highest term they heard of: a stale
// redirect from a replica behind the log never takes them back.

import { assert } from "./assert";

export interface LeaderTerm {
  term: number;
  /** The acceptor's index in the cluster's list. */
  leader: number;
}

/** The leader as a store holds it: its stored leader from term 1 on, the configured one at term 0. */
export function leaderOfTerm(stored: LeaderTerm, configured: number): LeaderTerm {
  return stored.term === 0 ? { term: 0, leader: configured } : stored;
}

/** The term a move to `to` proposes: one above the current. */
export function nextTerm(current: LeaderTerm, to: number): LeaderTerm {
  assert(to !== current.leader, () => `leader term: a move from ${current.leader} to itself`);
  return { term: current.term + 1, leader: to };
}

/** The highest-term leader heard of so far. */
export class LeaderView {
  private known: LeaderTerm;

  constructor(configured: number) {
    this.known = { term: 0, leader: configured };
  }

  get current(): LeaderTerm {
    return this.known;
  }

  /** Takes `heard` if it is of a higher term; says whether it did. */
  learn(heard: LeaderTerm): boolean {
    if (heard.term <= this.known.term) return false;
    this.known = { ...heard };
    return true;
  }
}
