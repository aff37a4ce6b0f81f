// Which read-barrier round each linearizable read uses, so that reads that
// arrive while a round is in flight share the next one instead of each running
// its own (etcd's ReadIndex batching). The adapter runs the rounds; this says
// which round a read waits for and when the next one starts.
//
// Who starts the next round matters on the Workers runtime, where I/O belongs
// to the request that started it: one of the reads that wait for it, in its
// own request, not the request whose round just settled (which may be gone).
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
  /**
   * A round is in flight: the caller uses round `round`, the next. Once the
   * one in flight settles, one of the reads waiting for `round` starts it
   * (`claim`), and the others share it.
   */
  | { kind: "next"; round: number };

export class ReadBatch {
  /** The last round started; rounds are numbered from 1, in the order they start. */
  private lastStarted = 0;
  private inFlight: { round: number; startedAtMs: number } | undefined;

  /**
   * `abandonAfterMs`: a round in flight for this long is taken as lost (its
   * host stopped before it settled), so that it cannot hold back every later
   * read. Bound it above the time a round can take (its status requests'
   * timeout).
   */
  constructor(private readonly abandonAfterMs: number) {}

  /** A read arrives at `nowMs`: the round it must use. */
  arrive(nowMs: number): Arrival {
    if (this.live(nowMs)) return { kind: "next", round: this.lastStarted + 1 };
    return { kind: "start", round: this.begin(nowMs) };
  }

  /**
   * A read waiting for `round` asks to start it, once the round before it
   * settled (or was abandoned): true for the first to ask, which starts it
   * now; false for the others (it started already: they share it) and while
   * the round before is still in flight.
   */
  claim(round: number, nowMs: number): boolean {
    if (round !== this.lastStarted + 1 || this.live(nowMs)) return false;
    this.begin(nowMs);
    return true;
  }

  /**
   * Round `round` settled (a majority answered, or none can). A round that
   * was abandoned settles for its own reads only: a later one may be in flight.
   */
  settled(round: number): void {
    if (this.inFlight?.round === round) this.inFlight = undefined;
  }

  /** The round in flight, if any (for the adapter's bookkeeping and the tests). */
  get running(): number | undefined {
    return this.inFlight?.round;
  }

  private live(nowMs: number): boolean {
    const running = this.inFlight;
    return running !== undefined && nowMs - running.startedAtMs < this.abandonAfterMs;
  }

  private begin(nowMs: number): number {
    this.lastStarted++;
    this.inFlight = { round: this.lastStarted, startedAtMs: nowMs };
    return this.lastStarted;
  }
}
