// The WebSocket protocol's frames (SPEC §3), shared by the server and the
// client library: JSON text frames, a request carries an id that its answer,
// or a watch's events, carry back.

import type { ErrorCode, ErrorDetails } from "./errors";

export const verbs = [
  "REV",
  "GET",
  "SET",
  "DEL",
  "NOP",
  "GETDIR",
  "STAT",
  "WALK",
  "WAIT",
  "WATCH",
  "CANCEL",
  "ACCESS",
  "SESSION",
  "KEEPALIVE",
  "ENDSESSION",
  "TXN",
] as const;
export type Verb = (typeof verbs)[number];

export type FrameId = number | string;

/** A request frame; arguments are named as in the HTTP API. */
export interface RequestFrame {
  id: FrameId;
  verb: Verb;
  path?: string;
  glob?: string;
  rev?: number | string;
  value?: string;
  offset?: number | string;
  limit?: number | string;
  timeout?: number | string;
  stale?: boolean | number | string;
  encoding?: "base64";
  token?: string;
  /** CANCEL: the id of the WATCH to end. */
  watch?: FrameId;
  /** SET, DEL, NOP, SESSION, ENDSESSION, TXN: the mutation's id, so that a retry applies once (an extension of SPEC §3). */
  requestId?: string;
  /** SET: the owning session; SESSION (attach), KEEPALIVE, ENDSESSION: the session. */
  session?: string;
  /** SESSION (open): the session's ttl in ms. */
  ttl?: number | string;
  /** TXN (SPEC §7). */
  checks?: unknown;
  ops?: unknown;
}

export interface ErrorFrame {
  id: FrameId | null;
  error: { code: ErrorCode; message: string } & ErrorDetails;
}

export interface EventBody {
  path: string;
  rev: number;
  value: string;
  encoding?: "base64";
  op: "set" | "del";
  /** A SET under a session: its owner (SPEC §6). */
  session?: string;
}

export interface EventFrame {
  id: FrameId;
  event: EventBody;
}

export function isVerb(verb: unknown): verb is Verb {
  return typeof verb === "string" && (verbs as readonly string[]).includes(verb);
}

export function isFrameId(id: unknown): id is FrameId {
  return (typeof id === "number" && Number.isFinite(id)) || (typeof id === "string" && id.length <= 128);
}
