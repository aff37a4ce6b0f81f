// Which read-barrier round each linearizable read uses, so that reads that
// arrive while a round is in flight share the next one instead of each running
// its own (etcd's ReadIndex batching). The adapter runs the rounds; this says
// which round a read waits for and when the next one starts.
//
// The rule that keeps batching linearizable: a read uses only a round that
// STARTED after the read arrived. A round's barrier covers every write
// acknowledged before its status requests left (core/read-barrier.ts); a round
// already in flight when the read arrived may have sent them before a write
// that was acknowledged before the read started, and would miss it. So a read
// never joins the round in flight: it waits for the next one, which starts when
// the one in flight settles, and which every read arriving meanwhile shares.
//
// Pure: the adapter hands in the clock.

/** What a read arriving does. */
export type Arrival =
  /** No round is in flight: the caller starts round `round` now and uses it. */
  | { kind: "start"; round: number }
  /** A round is in flight: the caller uses round `round`, the next, started when the one in flight settles. */
  | { kind: "next"; round: number };

export class ReadBatch {
  /** The last round started; rounds are numbered from 1, in the order they start. */
  private lastStarted = 0;
  private inFlight: { round: number; startedAtMs: number } | undefined;
  /** Whether some read waits for the round after the one in flight. */
  private nextWanted = false;

  /**
   * `abandonAfterMs`: a round in flight for this long is taken as lost (its
   * host stopped before it settled), so that it cannot hold back every later
   * read; the next arrival starts a round of its own. Bound it above the time a
   * round can take (its status requests' timeout).
   */
  constructor(private readonly abandonAfterMs: number) {}

  /** A read arrives at `nowMs`: the round it must use. */
  arrive(nowMs: number): Arrival {
    const running = this.inFlight;
    if (running && nowMs - running.startedAtMs < this.abandonAfterMs) {
      this.nextWanted = true;
      return { kind: "next", round: running.round + 1 };
    }
    return { kind: "start", round: this.begin(nowMs) };
  }

  /**
   * Round `round` settled (a majority answered, or none can): the round to
   * start now, for the reads that arrived while it was in flight, if any. A
   * round that was abandoned settles for its own reads but starts nothing: a
   * later round is in flight already.
   */
  settled(round: number, nowMs: number): number | undefined {
    if (this.inFlight?.round !== round) return undefined;
    this.inFlight = undefined;
    return this.nextWanted ? this.begin(nowMs) : undefined;
  }

  /** The round in flight, if any (for the adapter's bookkeeping and the tests). */
  get running(): number | undefined {
    return this.inFlight?.round;
  }

  private begin(nowMs: number): number {
    this.lastStarted++;
    this.inFlight = { round: this.lastStarted, startedAtMs: nowMs };
    this.nextWanted = false;
    return this.lastStarted;
  }
}
