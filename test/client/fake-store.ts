// An in-memory doozer store behind the client's Transport interface: files
// with revs, rev checks, events, and sessions that own ephemeral files. Enough
// of SPEC §1 and §6 for the recipes' tests, with no network between; `expire`
// ends a session as the server would when its keepalives stop.

import { NoSessionError, RevMismatchError, UnknownVerbError } from "../../client/errors";
import type { SessionSink } from "../../client/lease";
import type {
  Answer,
  Call,
  HeldSession,
  Subscription,
  Transport,
  WatchSink,
  WireEvent,
} from "../../client/transport";

interface File {
  value: Uint8Array;
  rev: number;
  session?: string;
}

interface Watcher {
  glob: string;
  nextRev: number;
  sink: WatchSink;
}

const encoder = new TextEncoder();

export class FakeStore implements Transport {
  rev = 0;
  readonly files = new Map<string, File>();
  readonly events: WireEvent[] = [];
  readonly sessions = new Map<string, { ttlMs: number; sink: SessionSink }>();
  readonly calls: Call[] = [];
  private readonly watchers = new Set<Watcher>();
  private nextSession = 1;

  async call(call: Call): Promise<Answer> {
    this.calls.push(call);
    const { args } = call;
    const path = String(args.path);
    switch (call.verb) {
      case "REV":
        return { rev: this.rev };
      case "STAT": {
        const file = this.files.get(path);
        return { path, rev: file?.rev ?? 0, len: file?.value.length ?? 0, storeRev: this.rev };
      }
      case "SET": {
        const rev = ++this.rev;
        const session = args.session === undefined ? undefined : String(args.session);
        if (session !== undefined && !this.sessions.has(session)) {
          throw new NoSessionError(`no session ${session}`, { storeRev: rev });
        }
        this.check(path, Number(args.rev), rev);
        const value = args.value instanceof Uint8Array ? args.value : encoder.encode(String(args.value));
        this.files.set(path, { value, rev, session });
        this.emit({ path, rev, op: "set", value });
        return { path, rev };
      }
      case "DEL": {
        const rev = ++this.rev;
        this.check(path, Number(args.rev), rev);
        if (this.files.delete(path)) this.emit({ path, rev, op: "del", value: new Uint8Array() });
        return { path, rev };
      }
      default:
        throw new UnknownVerbError(`the fake store has no ${call.verb}`);
    }
  }

  watch(glob: string, fromRev: number, sink: WatchSink): Subscription {
    const watcher: Watcher = { glob, nextRev: fromRev, sink };
    this.watchers.add(watcher);
    queueMicrotask(() => this.deliver(watcher));
    return { cancel: () => this.watchers.delete(watcher) };
  }

  async openSession(ttlMs: number | undefined, sink: SessionSink, _requestId: string): Promise<HeldSession> {
    const id = `s${this.nextSession++}`;
    const ttl = ttlMs ?? 15_000;
    this.sessions.set(id, { ttlMs: ttl, sink });
    const rev = ++this.rev;
    return {
      id,
      ttlMs: ttl,
      rev,
      keepAlive: async () => {
        if (!this.sessions.has(id)) throw new NoSessionError(`no session ${id}`);
      },
      end: async () => {
        if (!this.sessions.delete(id)) throw new NoSessionError(`no session ${id}`);
        return this.endFiles(id);
      },
    };
  }

  /** Ends a session as its expiry would: its files go, and its holder hears NOSESSION. */
  expire(id: string): void {
    const session = this.sessions.get(id);
    if (!session) return;
    this.sessions.delete(id);
    this.endFiles(id);
    session.sink.lost(new NoSessionError(`session ${id} expired`));
  }

  /** Writes as another client would. */
  write(path: string, value: string): number {
    const rev = ++this.rev;
    const bytes = encoder.encode(value);
    this.files.set(path, { value: bytes, rev });
    this.emit({ path, rev, op: "set", value: bytes });
    return rev;
  }

  close(): void {
    for (const watcher of this.watchers) watcher.sink.end(undefined);
    this.watchers.clear();
  }

  private check(path: string, rev: number, storeRev: number): void {
    const current = this.files.get(path)?.rev ?? 0;
    if (rev !== -1 && rev < current) {
      throw new RevMismatchError(`${path} has rev ${current}`, { rev: current, storeRev });
    }
  }

  private endFiles(id: string): number {
    let last = ++this.rev;
    const owned = [...this.files].filter(([, f]) => f.session === id).map(([p]) => p);
    owned.sort();
    for (const [i, path] of owned.entries()) {
      if (i > 0) last = ++this.rev;
      this.files.delete(path);
      this.emit({ path, rev: last, op: "del", value: new Uint8Array() });
    }
    return last;
  }

  private emit(event: WireEvent): void {
    this.events.push(event);
    queueMicrotask(() => {
      for (const watcher of this.watchers) this.deliver(watcher);
    });
  }

  private deliver(watcher: Watcher): void {
    for (const event of this.events) {
      if (!this.watchers.has(watcher)) return;
      if (event.rev < watcher.nextRev || !matches(watcher.glob, event.path)) continue;
      watcher.nextRev = event.rev + 1;
      watcher.sink.event(event);
    }
  }
}

/** Exact paths, and `/**` for everything: all the recipes ask for. */
function matches(glob: string, path: string): boolean {
  return glob === "/**" || glob === path;
}
