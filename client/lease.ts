// The client's side of a session's lease (SPEC §6), shared by both transports:
// when the session is known to be alive until, and the moment it may not be.
//
// The server never ends a session before `ttl` ms have passed since the client
// sent a keepalive that was answered with success. So the client counts from
// the send time of its last answered keepalive: until that time plus the ttl
// the session is certainly alive; after it, the server may have ended it and
// released its ephemeral files (and the locks they stand for), so the client
// must stop counting on it, even if no NOSESSION has come yet.

import { NoSessionError } from "./errors";

export interface SessionSink {
  /** The session is over without the client ending it; called at most once. */
  lost(error: Error): void;
}

export class Lease {
  private confirmedAtMs: number;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private isOver = false;

  constructor(
    readonly id: string,
    readonly ttlMs: number,
    /** When the request that opened or attached the session was sent. */
    sentAtMs: number,
    private readonly sink: SessionSink,
    /** Called once when the lease is over, lost or stopped: the transport forgets it. */
    private readonly onOver: () => void,
  ) {
    this.confirmedAtMs = sentAtMs;
    this.schedule();
  }

  get over(): boolean {
    return this.isOver;
  }

  /** A keepalive sent at `sentAtMs` was answered with success. */
  confirm(sentAtMs: number): void {
    if (this.isOver || sentAtMs <= this.confirmedAtMs) return;
    this.confirmedAtMs = sentAtMs;
    this.schedule();
  }

  lose(error: Error): void {
    if (this.finish()) this.sink.lost(error);
  }

  /** The client ended the session (or forgot it): no loss to report. */
  stop(): void {
    this.finish();
  }

  private finish(): boolean {
    if (this.isOver) return false;
    this.isOver = true;
    clearTimeout(this.timer);
    this.onOver();
    return true;
  }

  private schedule(): void {
    clearTimeout(this.timer);
    const deadlineMs = this.confirmedAtMs + this.ttlMs;
    this.timer = setTimeout(
      () =>
        this.lose(
          new NoSessionError(
            `session ${this.id} was not kept alive within its ttl of ${this.ttlMs} ms; the server may have ended it`,
          ),
        ),
      Math.max(0, deadlineMs - Date.now()),
    );
  }
}
