// The one place that says what a majority is: any two quorums of one
// membership share at least one acceptor, which is what Paxos safety rests on.

/** The smallest number of acceptors out of `acceptorCount` that is a majority. */
export function quorumOf(acceptorCount: number): number {
  if (!Number.isSafeInteger(acceptorCount) || acceptorCount < 1) {
    throw new Error(`quorumOf: ${acceptorCount} is not a positive acceptor count`);
  }
  return Math.floor(acceptorCount / 2) + 1;
}
