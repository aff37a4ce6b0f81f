// A session (SPEC §6): a lease the client keeps alive, to which files can
// belong (ephemeral files). They are deleted when the session ends, whether
// the client ends it or stops keeping it alive (a crash, a partition), which
// is what makes a lock or a leadership safe against a holder that dies.
//
// The transport keeps the session alive (the socket's frames and pings, or an
// HTTP keepalive every ttl / 3). `signal` aborts the moment the session is
// over: lost (NOSESSION on a keepalive or a reattach, or no keepalive answered
// within the ttl, after which the server may have ended it) or ended here.

import type { Client } from "./client";
import { NoSessionError } from "./errors";
import { electLeader, type Leadership, type Lock, lock } from "./recipes";
import type { HeldSession } from "./transport";

export interface SessionOptions {
  /** The lease, in ms: 1,000 to 3,600,000 (default: the server's, 15,000). */
  ttlMs?: number;
}

/** Carries a loss the transport reports before the Session object exists. */
export interface LossRelay {
  lost?: Error;
  target?: (error: Error) => void;
}

type Retry = <T>(send: () => Promise<T>) => Promise<T>;

export class Session {
  readonly id: string;
  /** The lease in ms, as the server granted it. */
  readonly ttlMs: number;
  /** The rev opening the session consumed. */
  readonly rev: number;
  /**
   * Aborts when the session is over: lost (the reason says why; every ephemeral file of it is
   * gone or going) or ended by `end()`.
   */
  readonly signal: AbortSignal;
  private readonly controller = new AbortController();
  private readonly lostListeners = new Set<(error: Error) => void>();
  private lostError: Error | undefined;
  private endCalled = false;

  constructor(
    readonly client: Client,
    private readonly held: HeldSession,
    private readonly retry: Retry,
    relay: LossRelay,
  ) {
    this.id = held.id;
    this.ttlMs = held.ttlMs;
    this.rev = held.rev;
    this.signal = this.controller.signal;
    relay.target = (error) => this.lose(error);
    if (relay.lost) this.lose(relay.lost);
  }

  /** Why the session was lost, or undefined while it lives (or after it was ended). */
  get lost(): Error | undefined {
    return this.lostError;
  }

  /** Calls `listener` once if the session is lost (at once if it is already); returns an unsubscribe. */
  onLost(listener: (error: Error) => void): () => void {
    if (this.lostError) {
      listener(this.lostError);
      return () => undefined;
    }
    this.lostListeners.add(listener);
    return () => this.lostListeners.delete(listener);
  }

  /** One explicit KEEPALIVE; throws NoSessionError (and the session is lost) if it has ended. */
  keepAlive(): Promise<void> {
    if (this.lostError) return Promise.reject(this.lostError);
    return this.retry(() => this.held.keepAlive());
  }

  /**
   * Ends the session: every file it owns is deleted. A session already lost is ended too, as far
   * as the server still has it (a lease that ran out here may live a little longer there), and
   * without an error.
   */
  async end(): Promise<void> {
    if (this.endCalled) return;
    this.endCalled = true;
    const lost = this.lostError;
    if (!this.signal.aborted)
      this.controller.abort(new NoSessionError(`session ${this.id} was ended by this client`));
    try {
      await this.retry(() => this.held.end());
    } catch (error) {
      if (!lost && !(error instanceof NoSessionError)) throw error;
    }
  }

  /** Takes the lock at `path` under this session; see recipes.ts. */
  lock(path: string, options: { owner?: string; signal?: AbortSignal } = {}): Promise<Lock> {
    return lock(this, path, options);
  }

  /** Resolves once this session leads at `path` under `id`; see recipes.ts. */
  electLeader(path: string, id: string, options: { signal?: AbortSignal } = {}): Promise<Leadership> {
    return electLeader(this, path, id, options);
  }

  private lose(error: Error): void {
    if (this.signal.aborted) return;
    this.lostError = error;
    this.controller.abort(error);
    for (const listener of this.lostListeners) listener(error);
    this.lostListeners.clear();
  }
}
