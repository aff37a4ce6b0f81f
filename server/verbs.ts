// The store's verbs, checked and carried out in one place: the HTTP routes and
// the WebSocket frames are thin shapers around `Verbs.run`, so that both answer
// the same input with the same body or the same error. Arguments come in raw
// (query strings, JSON values), named as in the HTTP API, and are checked here
// into core types.

import * as args from "../core/args";
import { CodedError } from "../core/errors";
import type { Verb } from "../core/frames";
import { compileGlob } from "../core/glob";
import { readTimeoutMsDefault, valueBytesMax, waitTimeoutMsDefault } from "../core/limits";
import type { Mutation, MutationOutcome } from "../core/mutation";
import { orderedId, orderedIdRandomBytes } from "../core/ordered-id";
import { validatePath } from "../core/path";
import type { ReadQuery, ReadResult } from "../core/reads";
import type { StoreEvent, WalkFile } from "../core/store";
import { decodeValue, encodeValue } from "../core/value-encoding";
import type { Lifetime } from "./lifetime";
import type { Origin, Reader } from "./reads";
import type { KeepaliveAnswer } from "./session-keeping";

type Raw = string | number | boolean | null | undefined;

/** The verbs on the store; WATCH, CANCEL and ACCESS belong to a socket and stay with it. */
export type StoreVerb = Exclude<Verb, "WATCH" | "CANCEL" | "ACCESS">;

/** Verbs that change the store or keep a session alive: the read-only token may not use them (SPEC §6). */
export const writeVerbs: ReadonlySet<string> = new Set<StoreVerb>([
  "SET",
  "DEL",
  "NOP",
  "SESSION",
  "KEEPALIVE",
  "ENDSESSION",
  "TXN",
]);

/** The arguments a verb may take, named as in the HTTP API and the WebSocket frames. */
export interface VerbArgs {
  path?: Raw;
  glob?: Raw;
  rev?: Raw;
  /** SET: the bytes themselves (an HTTP body), or a string in `encoding` (a frame). */
  value?: Raw | Uint8Array;
  offset?: Raw;
  limit?: Raw;
  timeout?: Raw;
  stale?: Raw;
  encoding?: Raw;
  /** SET, DEL, NOP, SESSION, ENDSESSION, TXN: the mutation's id, so that a retry applies once; absent, a fresh one. */
  requestId?: Raw;
  /** SET: the owning session; KEEPALIVE, ENDSESSION, GETSESSION: the session. */
  session?: Raw;
  /** SESSION: the new session's ttl in ms. */
  ttl?: Raw;
  /** TXN: the lists of SPEC §7, as parsed from JSON. */
  checks?: unknown;
  ops?: unknown;
  /** Reads: where the caller is, when the platform says, so that a read starts at the replica nearest to it. */
  origin?: Origin;
  /** Writes: the location hint of the region the write came from, which the leader weighs (core/leader-placement.ts). */
  region?: string;
}

/** Decides a mutation; `region`, where it came from, if known. */
export type Propose = (mutation: Mutation, life: Lifetime, region?: string) => Promise<MutationOutcome>;

/** An answer's JSON body, as both protocols send it (the WebSocket adds the frame's id). */
export type VerbBody = Record<string, unknown>;

export interface FileAnswer {
  path: string;
  rev: number;
  value: Uint8Array;
  storeRev: number;
  /** The owning session, for an ephemeral file (SPEC §6). */
  session?: string;
}

export class Verbs {
  constructor(
    private readonly reader: Reader,
    /** Decides a mutation: this isolate's proposer, or the leader acceptor's (see runtime.ts). */
    private readonly propose: Propose,
    /** Asks the session keeper to extend these sessions (SPEC §6): one answer per session. */
    private readonly keepalive: (sessions: string[]) => Promise<KeepaliveAnswer[]>,
  ) {}

  /** Carries out one verb; its answer's body, or a thrown CodedError. WAIT past its timeout is `{timeout: true}`. */
  async run(verb: StoreVerb, a: VerbArgs, life: Lifetime): Promise<VerbBody> {
    switch (verb) {
      case "REV":
        return this.rev(a, life);
      case "GET": {
        const base64 = isBase64(a.encoding);
        const { path, rev, value, storeRev, session } = await this.get(a, life);
        return { path, rev, ...encodeValue(value, base64), storeRev, ...owner(session) };
      }
      case "SET":
        return this.set(a, life);
      case "DEL":
        return this.del(a, life);
      case "NOP":
        return this.nop(a, life);
      case "GETDIR":
        return this.getdir(a, life);
      case "STAT":
        return this.stat(a, life);
      case "WALK": {
        const base64 = isBase64(a.encoding);
        const { rev, files } = await this.walk(a, life);
        return {
          rev,
          files: files.map((f) => ({
            path: f.path,
            rev: f.rev,
            ...encodeValue(f.value, base64),
            ...owner(f.session),
          })),
        };
      }
      case "WAIT": {
        const base64 = isBase64(a.encoding);
        const event = await this.wait(a, life);
        return event ? eventBody(event, base64) : { timeout: true };
      }
      case "SESSION":
        return this.openSession(a, life);
      case "KEEPALIVE":
        return this.keepAlive(a);
      case "ENDSESSION":
        return this.endSession(a, life);
      case "TXN":
        return this.txn(a, life);
    }
  }

  /** Opens a session (SPEC §6): decided like a write, one rev. */
  async openSession(a: VerbArgs, life: Lifetime): Promise<{ session: string; ttl: number; rev: number }> {
    const ttlMs = args.sessionTtlMs(a.ttl);
    const id = mutationId(a.requestId);
    const outcome = await this.write(
      { op: "session-open", id, session: newSessionId(), ttlMs },
      life,
      a.region,
    );
    // A retried open answers with the first one's session, which the outcome carries.
    return { session: outcome.session ?? "", ttl: outcome.ttlMs ?? ttlMs, rev: outcome.rev };
  }

  /** Extends a session; NOSESSION when it has ended or never was. Costs no rev. */
  async keepAlive(a: VerbArgs): Promise<{ session: string; ttl: number }> {
    const session = args.sessionId(a.session);
    const [answer] = await this.keepalive([session]);
    if (!answer?.alive || answer.ttlMs === undefined) throw noSession(session);
    return { session, ttl: answer.ttlMs };
  }

  /** Ends a session: its files are deleted, one rev each (one if it owns none); NOSESSION consumes none. */
  async endSession(a: VerbArgs, life: Lifetime): Promise<{ session: string; rev: number }> {
    const session = args.sessionId(a.session);
    const id = mutationId(a.requestId);
    const outcome = await this.write({ op: "session-end", id, session, reason: "client" }, life, a.region);
    return { session, rev: outcome.rev };
  }

  /** A live session and the files it owns (a linearizable read unless stale). */
  async getSession(a: VerbArgs, life: Lifetime): Promise<{ session: string; ttl: number; files: string[] }> {
    const session = args.sessionId(a.session);
    if (a.rev !== undefined && a.rev !== null) {
      throw new CodedError("BAD_REQUEST", "sessions have no history: read them without rev");
    }
    const { result } = await this.read(a, life, { op: "session", session });
    if (result.op !== "session") throw new Error("a session read answered with another op");
    return { session, ttl: result.ttlMs, files: result.files };
  }

  /** The live sessions now, by id, paged like GETDIR (an extension, for the viewer and operators). */
  async listSessions(
    a: VerbArgs,
    life: Lifetime,
  ): Promise<{ rev: number; sessions: { session: string; ttl: number; files: string[] }[] }> {
    if (a.rev !== undefined && a.rev !== null) {
      throw new CodedError("BAD_REQUEST", "sessions have no history: read them without rev");
    }
    const offset = args.offset(a.offset);
    const limit = args.limit(a.limit);
    const { result, readAt } = await this.read(a, life, { op: "sessions", offset, limit });
    if (result.op !== "sessions") throw new Error("a sessions read answered with another op");
    return {
      rev: readAt,
      sessions: result.sessions.map((s) => ({ session: s.session, ttl: s.ttlMs, files: s.files })),
    };
  }

  /** All or nothing (SPEC §7). */
  async txn(a: VerbArgs, life: Lifetime): Promise<{ rev: number; results: { path: string; rev: number }[] }> {
    const { checks, ops } = args.txnBody({ checks: a.checks, ops: a.ops });
    const id = mutationId(a.requestId);
    const outcome = await this.write({ op: "txn", id, checks, ops }, life, a.region);
    return { rev: outcome.rev, results: outcome.results ?? [] };
  }

  async rev(a: VerbArgs, life: Lifetime): Promise<{ rev: number }> {
    const { readAt } = await this.read(a, life, { op: "rev" });
    return { rev: readAt };
  }

  /** GET with the value as bytes: HTTP sends them as the body, not in JSON. */
  async get(a: VerbArgs, life: Lifetime): Promise<FileAnswer> {
    const path = requiredPath(a.path);
    const { result, readAt } = await this.read(a, life, { op: "get", path });
    if (result.op !== "get") throw new Error("a get answered with another op");
    return { path, rev: result.rev, value: result.value, storeRev: readAt, session: result.session };
  }

  async set(a: VerbArgs, life: Lifetime): Promise<{ path: string; rev: number }> {
    const value = valueBytes(a.value, a.encoding);
    const id = mutationId(a.requestId);
    const path = requiredPath(a.path);
    const rev = args.writeRev(a.rev);
    if (value.byteLength > valueBytesMax) {
      throw new CodedError(
        "TOO_LARGE",
        `the value is ${value.byteLength} bytes; the limit is ${valueBytesMax}`,
      );
    }
    const session = args.optionalSessionId(a.session);
    const outcome = await this.write(
      session === undefined
        ? { op: "set", id, path, rev, value }
        : { op: "set", id, path, rev, value, session },
      life,
      a.region,
    );
    return { path, rev: outcome.rev };
  }

  async del(a: VerbArgs, life: Lifetime): Promise<{ path: string; rev: number }> {
    const id = mutationId(a.requestId);
    const path = requiredPath(a.path);
    const rev = args.writeRev(a.rev);
    const outcome = await this.write({ op: "del", id, path, rev }, life, a.region);
    return { path, rev: outcome.rev };
  }

  async nop(a: VerbArgs, life: Lifetime): Promise<{ rev: number }> {
    const id = mutationId(a.requestId);
    return { rev: (await this.write({ op: "nop", id }, life, a.region)).rev };
  }

  async getdir(a: VerbArgs, life: Lifetime): Promise<{ path: string; rev: number; entries: string[] }> {
    const path = requiredPath(a.path);
    const offset = args.offset(a.offset);
    const limit = args.limit(a.limit);
    const { result, readAt } = await this.read(a, life, { op: "getdir", path, offset, limit });
    return { path, rev: readAt, entries: result.op === "getdir" ? result.entries : [] };
  }

  async stat(
    a: VerbArgs,
    life: Lifetime,
  ): Promise<{ path: string; rev: number; len: number; storeRev: number; session?: string }> {
    const path = requiredPath(a.path);
    const { result, readAt } = await this.read(a, life, { op: "stat", path });
    if (result.op !== "stat") throw new Error("a stat answered with another op");
    return { path, rev: result.rev, len: result.len, storeRev: readAt, ...owner(result.session) };
  }

  async walk(a: VerbArgs, life: Lifetime): Promise<{ rev: number; files: WalkFile[] }> {
    const glob = requiredGlob(a.glob);
    const offset = args.offset(a.offset);
    const limit = args.limit(a.limit);
    const { result, readAt } = await this.read(a, life, { op: "walk", glob, offset, limit });
    return { rev: readAt, files: result.op === "walk" ? result.files : [] };
  }

  /** WAIT: the first change at or after `rev` to a file matching `glob`, or undefined at the timeout. */
  async wait(a: VerbArgs, life: Lifetime): Promise<StoreEvent | undefined> {
    const glob = requiredGlob(a.glob);
    const rev = args.waitRev(a.rev);
    const timeoutMs = args.timeoutMs(a.timeout, waitTimeoutMsDefault);
    const stale = args.flag(a.stale, "stale");
    const { event } = await this.reader.wait({ glob, rev, timeoutMs }, stale, life, a.origin);
    return event;
  }

  private async read(
    a: VerbArgs,
    life: Lifetime,
    query: ReadQuery,
  ): Promise<{ result: ReadResult; readAt: number }> {
    const rev = args.readRev(a.rev);
    const stale = args.flag(a.stale, "stale");
    const timeoutMs = args.timeoutMs(a.timeout, readTimeoutMsDefault);
    const reply = await this.reader.read({ query, rev, timeoutMs }, stale, life, a.origin);
    return { result: reply.result, readAt: reply.readAt };
  }

  private async write(
    mutation: Mutation,
    life: Lifetime,
    region: string | undefined,
  ): Promise<MutationOutcome> {
    const outcome = await this.propose(mutation, life, region);
    if (outcome.error) {
      const { code, message, ...details } = outcome.error;
      // A failed check consumed its rev; the end of a session that was not alive consumed none.
      const consumed = outcome.revsConsumed !== 0;
      throw new CodedError(code, message, consumed ? { ...details, storeRev: outcome.rev } : details);
    }
    return outcome;
  }
}

/** An event as WAIT answers it and a watch pushes it. */
export function eventBody(event: StoreEvent, base64: boolean): VerbBody {
  return {
    path: event.path,
    rev: event.rev,
    ...encodeValue(event.value, base64),
    op: event.op,
    ...owner(event.session),
  };
}

/** The owner field of SPEC §6: present for a file owned by a session, absent for a persistent one. */
function owner(session: string | undefined): { session?: string } {
  return session === undefined ? {} : { session };
}

export function isBase64(raw: Raw): boolean {
  return args.encoding(raw) === "base64";
}

export function requiredPath(raw: Raw): string {
  if (typeof raw !== "string") throw new CodedError("MISSING_ARG", "path is required, e.g. /app/config");
  validatePath(raw);
  return raw;
}

export function requiredGlob(raw: Raw): string {
  if (typeof raw !== "string") throw new CodedError("MISSING_ARG", "glob is required, e.g. /app/**");
  compileGlob(raw);
  return raw;
}

function valueBytes(raw: Raw | Uint8Array, encoding: Raw): Uint8Array {
  if (raw instanceof Uint8Array) return raw;
  if (typeof raw !== "string") throw new CodedError("MISSING_ARG", "value is required (a string)");
  const decoding = args.encoding(encoding);
  try {
    return decodeValue(raw, decoding);
  } catch {
    throw new CodedError("BAD_REQUEST", "value is not valid base64");
  }
}

function noSession(session: string): CodedError {
  return new CodedError("NOSESSION", `session ${session} is unknown or has ended`);
}

/** A new session's id: 128 random bits in the id alphabet, so no two sessions ever share one. */
function newSessionId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text).replaceAll("+", "-").replaceAll("/", "_").replaceAll("=", "");
}

const mutationIdPattern = /^[A-Za-z0-9._:-]{1,128}$/;

/** A new mutation id: time-ordered, so that it goes in at the end of every acceptor's dedup index (core/ordered-id.ts). */
function freshMutationId(): string {
  return orderedId(Date.now(), crypto.getRandomValues(new Uint8Array(orderedIdRandomBytes)));
}

/**
 * A mutation's id: the client's, when it sends one, so that a retry of a write
 * whose answer was lost applies once; otherwise a fresh one.
 */
export function mutationId(given: unknown): string {
  if (given === undefined || given === null) return freshMutationId();
  if (typeof given !== "string" || !mutationIdPattern.test(given)) {
    throw new CodedError("BAD_REQUEST", "a request id must be 1 to 128 of A-Z a-z 0-9 . _ : -");
  }
  return given;
}
