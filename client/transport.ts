// What the Client needs from a connection: calls that answer with the
// WebSocket protocol's answer shape (SPEC §3), and watches that push events.
// Two implementations: WebSocketTransport, and HttpTransport (also used over a
// service binding).

import type { Verb } from "../core/frames";
import { decodeValue } from "../core/value-encoding";

/** A call's arguments, named as in the protocol (path, glob, rev, value, offset, limit, timeout, stale). */
export type CallArgs = Record<string, string | number | boolean | Uint8Array | undefined>;

export interface Call {
  verb: Exclude<Verb, "WATCH" | "CANCEL" | "ACCESS">;
  args: CallArgs;
  /** SET, DEL, NOP: the mutation's id, the same on every retry. */
  requestId?: string;
  /** How long the server may hold the call (WAIT, reads at a future rev), so the transport waits longer. */
  holdMs?: number;
}

/** An answer: the JSON of SPEC §3 without the id. A value is a Uint8Array, or a string with its `encoding`. */
export type Answer = Record<string, unknown>;

export interface WireEvent {
  path: string;
  rev: number;
  op: "set" | "del";
  value: Uint8Array;
}

export interface WatchSink {
  event(event: WireEvent): void;
  /** The watch has ended: with an error (TOO_LATE, a wrong token), or cleanly (undefined) when the client closed. */
  end(error: Error | undefined): void;
}

export interface Subscription {
  cancel(): void;
}

export interface Transport {
  call(call: Call): Promise<Answer>;
  /** Streams every event matching `glob` from `fromRev` on, in rev order, resuming by itself after a reconnect. */
  watch(glob: string, fromRev: number, sink: WatchSink): Subscription;
  close(): void;
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
