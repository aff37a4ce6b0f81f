// A ballot orders proposals. Rounds grow; the proposer id breaks ties, and is
// fresh for every proposer incarnation, so no two proposers ever share a ballot.

export interface Ballot {
  round: number;
  proposer: string;
}

/** Below every real ballot: what an acceptor has promised before its first prepare. */
export const zeroBallot: Ballot = { round: 0, proposer: "" };

export function compareBallots(a: Ballot, b: Ballot): number {
  if (a.round !== b.round) return a.round < b.round ? -1 : 1;
  if (a.proposer === b.proposer) return 0;
  return a.proposer < b.proposer ? -1 : 1;
}

export function ballotsEqual(a: Ballot, b: Ballot): boolean {
  return a.round === b.round && a.proposer === b.proposer;
}

export function formatBallot(b: Ballot): string {
  return `${b.round}.${b.proposer}`;
}
