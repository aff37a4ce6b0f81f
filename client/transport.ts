// What the Client needs from a connection: calls that answer with the
// WebSocket protocol's answer shape (SPEC §3), and watches that push events.
// Two implementations: WebSocketTransport, and HttpTransport (also used over a
// service binding).

import type { Verb } from "../core/frames";
import { decodeValue } from "../core/value-encoding";
import type { SessionSink } from "./lease";

/** A transaction's check or op as it goes over the wire (SPEC §7): values already strings. */
export type WireItem = Record<string, string | number | undefined>;

/**
 * A call's arguments, named as in the protocol (path, glob, rev, value, offset, limit, timeout, stale,
 * session, ttl; a TXN's checks and ops).
 */
export type CallArgs = Record<string, string | number | boolean | Uint8Array | WireItem[] | undefined>;

export interface Call {
  /** The session and transaction verbs are named here too, whether or not the core's list has them yet. */
  verb: Exclude<Verb, "WATCH" | "CANCEL" | "ACCESS"> | "SESSION" | "KEEPALIVE" | "ENDSESSION" | "TXN";
  args: CallArgs;
  /** SET, DEL, NOP, TXN, SESSION (open), ENDSESSION: the mutation's id, the same on every retry. */
  requestId?: string;
  /** How long the server may hold the call (WAIT, reads at a future rev), so the transport waits longer. */
  holdMs?: number;
  /** Gives up on the call (HTTP aborts its request with ConnectionError); transports may ignore it. */
  signal?: AbortSignal;
}

/** An answer: the JSON of SPEC §3 without the id. A value is a Uint8Array, or a string with its `encoding`. */
export type Answer = Record<string, unknown>;

export interface WireEvent {
  path: string;
  rev: number;
  op: "set" | "del";
  value: Uint8Array;
  /** The session that owns the file after a set under one (SPEC §6); absent otherwise. */
  session?: string;
}

export interface WatchSink {
  event(event: WireEvent): void;
  /** The watch has ended: with an error (TOO_LATE, a wrong token), or cleanly (undefined) when the client closed. */
  end(error: Error | undefined): void;
}

export interface Subscription {
  cancel(): void;
}

/** A session the transport keeps alive until it is ended or lost (SPEC §6). */
export interface HeldSession {
  id: string;
  ttlMs: number;
  /** The rev opening it consumed. */
  rev: number;
  /** One explicit keepalive; NoSessionError (and the sink told) if the session is gone. */
  keepAlive(): Promise<void>;
  /** Ends the session (its ephemeral files are deleted); the last rev its end consumed. Every call carries one request id. */
  end(): Promise<number>;
}

export interface Transport {
  call(call: Call): Promise<Answer>;
  /** Streams every event matching `glob` from `fromRev` on, in rev order, resuming by itself after a reconnect. */
  watch(glob: string, fromRev: number, sink: WatchSink): Subscription;
  /**
   * Opens a session (ttl undefined: the server's default) and keeps it alive: a socket by its
   * frames and pings and by attaching it again after a reconnect, HTTP by a keepalive every ttl / 3.
   */
  openSession(ttlMs: number | undefined, sink: SessionSink, requestId: string): Promise<HeldSession>;
  /** Ends the connection: calls fail, watches finish, held sessions are no longer kept alive. */
  close(): void;
}

/** An answer's or event's `session` (the owner of an ephemeral file, SPEC §6), as a field to spread in. */
export function sessionField(answer: { session?: unknown }): { session?: string } {
  return typeof answer.session === "string" ? { session: answer.session } : {};
}

/** The bytes of an answer's value: raw already, or a string in its `encoding`. */
export function decodeAnswerValue(answer: { value?: unknown; encoding?: unknown }): Uint8Array {
  const { value } = answer;
  if (value instanceof Uint8Array) return value;
  return decodeValue(
    typeof value === "string" ? value : "",
    answer.encoding === "base64" ? "base64" : undefined,
  );
}
