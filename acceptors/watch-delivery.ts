// Watch delivery off the write's path (issue 15). Applying a slot only marks
// that there is something to send; the events go out in later turns, in
// rounds: a round takes the store rev of its start, the watches running then
// and the events they still need (read and encoded once), and sends them
// `chunk` watches per turn, so that the commit's answer leaves first and other
// requests interleave with a large fan-out.
//
// Order and gaps are per watch, not per round: each watch keeps the next rev it
// needs (`nextRev`), a send only takes events at or above it and moves it on,
// so a watch added meanwhile (its backlog sent by the WATCH itself), one the
// round skips (cancelled, its socket closed) and the next round never repeat
// or skip an event. A watch whose next rev has left the history window when a
// round starts ends with TOO_LATE, never with a gap.

import type { FrameId } from "../core/frames";
import type { Glob } from "../core/glob";
import type { Store, StoreEvent } from "../core/store";
import { eventBody } from "../server/verbs";

export interface LiveWatch {
  ws: WebSocket;
  socket: string;
  id: FrameId;
  /** The id as JSON: the watch's key among its socket's and the start of each of its frames. */
  idJson: string;
  glob: Glob;
  /** The next rev this watch needs; every event below it has been sent (or did not match). */
  nextRev: number;
  base64: boolean;
}

export interface DeliveryHost {
  store(): Store;
  /** Runs `work` in a later turn (after the answers of this one have gone out). */
  later(work: () => void): void;
  /** The watch needed `watch.nextRev`, which left the window (oldest event rev `oldestRev`): end it. */
  tooLate(watch: LiveWatch, oldestRev: number): void;
}

/** One event of a round, its value read while it was in the window, encoded at most once per shape. */
class RoundEvent {
  private readonly json: [string | undefined, string | undefined] = [undefined, undefined];
  /** Whether a glob (by its source) matches the path: watches of one glob share the answer. */
  private readonly matched = new Map<string, boolean>();

  constructor(private stored: StoreEvent) {}

  get event(): StoreEvent {
    return this.stored;
  }

  /** Reads a value the backend loads on demand, now, while the event is in the window. */
  readValue(): void {
    this.stored = { ...this.stored };
  }

  matches(glob: Glob): boolean {
    let hit = this.matched.get(glob.source);
    if (hit === undefined) {
      hit = glob.matches(this.event.path);
      this.matched.set(glob.source, hit);
    }
    return hit;
  }

  /** The `"event"` member of a frame, as JSON text. */
  body(base64: boolean): string {
    const shape = base64 ? 1 : 0;
    let text = this.json[shape];
    if (text === undefined) {
      text = JSON.stringify(eventBody(this.event, base64));
      this.json[shape] = text;
    }
    return text;
  }
}

interface Round {
  watches: LiveWatch[];
  next: number;
  /** The store rev at the round's start: every watch of the round is brought to it. */
  throughRev: number;
  /** The events from the lowest rev a watch of the round needed through `throughRev`, in rev order. */
  events: RoundEvent[];
}

export class WatchDelivery {
  /** Watches by socket id, then by the WATCH frame's id as JSON. */
  private readonly watches = new Map<string, Map<string, LiveWatch>>();
  private round: Round | undefined;
  private scheduled = false;
  /** Set by tests: while held, no round runs (the write's answer must not need one). */
  private held = false;

  constructor(
    private readonly host: DeliveryHost,
    /** Watches served per turn: bounds the time other requests wait behind a fan-out. */
    private chunk: number,
  ) {}

  get watching(): boolean {
    for (const perSocket of this.watches.values()) if (perSocket.size > 0) return true;
    return false;
  }

  /** For tests: whether every watch has been sent every event up to the store rev. */
  get idle(): boolean {
    return this.round === undefined && !this.scheduled && !this.behind();
  }

  get(socket: string, idJson: string): LiveWatch | undefined {
    return this.watches.get(socket)?.get(idJson);
  }

  count(socket: string): number {
    return this.watches.get(socket)?.size ?? 0;
  }

  add(watch: LiveWatch): void {
    let perSocket = this.watches.get(watch.socket);
    if (!perSocket) {
      perSocket = new Map();
      this.watches.set(watch.socket, perSocket);
    }
    perSocket.set(watch.idJson, watch);
  }

  remove(socket: string, idJson: string): void {
    this.watches.get(socket)?.delete(idJson);
  }

  forgetSocket(socket: string): void {
    this.watches.delete(socket);
  }

  /**
   * Sends a new watch its backlog (from its next rev through the store rev) now,
   * in the WATCH's own turn: the store does not move meanwhile, so it is then
   * level with the rounds' starting point and they go on from there.
   */
  backlog(watch: LiveWatch): void {
    const store = this.host.store();
    if (watch.nextRev > store.rev) return;
    for (const event of store.eventsFrom(watch.nextRev)) this.offer(watch, new RoundEvent(event));
    watch.nextRev = Math.max(watch.nextRev, store.rev + 1);
  }

  /** The replica applied slots: their events go out in later turns, never in this one. */
  applied(): void {
    // No scan for who is behind here: that is the round's start, in a later turn.
    if (this.scheduled || this.round !== undefined || this.held || !this.watching) return;
    this.schedule();
  }

  /**
   * For tests: holds every round until released, to show that nothing else
   * waits for them (a new watch's backlog still goes out with its WATCH).
   */
  hold(held: boolean): void {
    this.held = held;
    if (!held && !this.scheduled) this.schedule();
  }

  /** For tests: the watches served per turn. */
  setChunk(chunk: number): void {
    this.chunk = Math.max(1, chunk);
  }

  private schedule(): void {
    this.scheduled = true;
    this.host.later(() => {
      this.scheduled = false;
      this.turn();
    });
  }

  /** One turn of delivery: starts a round if none runs, serves up to `chunk` of its watches. */
  private turn(): void {
    if (this.held) return;
    const round = this.round ?? this.start();
    if (round === undefined) return;
    const end = Math.min(round.watches.length, round.next + this.chunk);
    for (; round.next < end; round.next++) {
      const watch = round.watches[round.next] as LiveWatch;
      // Cancelled or closed since the round began: its frames must not follow the CANCEL's answer.
      if (this.get(watch.socket, watch.idJson) !== watch) continue;
      this.serve(watch, round);
    }
    if (round.next < round.watches.length) {
      this.schedule();
      return;
    }
    this.round = undefined;
    // Slots applied during the round: the next round picks them up.
    if (this.host.store().rev > round.throughRev) this.schedule();
  }

  private start(): Round | undefined {
    const store = this.host.store();
    const throughRev = store.rev;
    const oldest = store.oldestEventRev;
    const watches: LiveWatch[] = [];
    let firstRev = throughRev + 1;
    for (const perSocket of this.watches.values()) {
      for (const watch of perSocket.values()) {
        if (watch.nextRev > throughRev) continue;
        if (watch.nextRev < oldest) {
          this.host.tooLate(watch, oldest);
          continue;
        }
        watches.push(watch);
        firstRev = Math.min(firstRev, watch.nextRev);
      }
    }
    if (watches.length === 0) return undefined;
    // A value the backend reads on demand is read now, while it is in the window, and
    // only for an event some watch of the round will be sent: a large value nobody
    // watches is never read.
    const events = store.eventsFrom(firstRev).map((stored) => {
      const event = new RoundEvent(stored);
      if (watches.some((w) => w.nextRev <= stored.rev && event.matches(w.glob))) event.readValue();
      return event;
    });
    this.round = { watches, next: 0, throughRev, events };
    return this.round;
  }

  private serve(watch: LiveWatch, round: Round): void {
    const { events } = round;
    // Where this watch's next rev starts (watches that lag need older events than the rest).
    let lo = 0;
    let hi = events.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((events[mid] as RoundEvent).event.rev < watch.nextRev) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < events.length; i++) this.offer(watch, events[i] as RoundEvent);
    watch.nextRev = Math.max(watch.nextRev, round.throughRev + 1);
  }

  private offer(watch: LiveWatch, event: RoundEvent): void {
    if (event.event.rev < watch.nextRev || !event.matches(watch.glob)) return;
    watch.nextRev = event.event.rev + 1;
    send(watch.ws, `{"id":${watch.idJson},"event":${event.body(watch.base64)}}`);
  }

  /** Whether some watch still needs an event the store has applied. */
  private behind(): boolean {
    const rev = this.host.store().rev;
    for (const perSocket of this.watches.values()) {
      for (const watch of perSocket.values()) if (watch.nextRev <= rev) return true;
    }
    return false;
  }
}

function send(ws: WebSocket, frame: string): void {
  try {
    ws.send(frame);
  } catch {
    // The socket closed meanwhile: its close handler forgets it.
  }
}
