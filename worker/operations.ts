// The store's verbs, checked and carried out: one place shared by the HTTP
// routes and the WebSocket verbs, so that both answer the same input with the
// same result or the same error. Arguments come in raw (query strings, JSON
// values) and are checked here into core types.

import * as args from "../core/args";
import { DoozerError } from "../core/errors";
import { compileGlob } from "../core/glob";
import { readTimeoutMsDefault, valueBytesMax, waitTimeoutMsDefault } from "../core/limits";
import type { Mutation, MutationOutcome } from "../core/mutation";
import { validatePath } from "../core/path";
import type { ReadQuery, ReadResult } from "../core/reads";
import type { StoreEvent } from "../core/store";
import type { Reader } from "./reads";

type Raw = string | number | boolean | null | undefined;

/** The arguments a verb may take, named as in the HTTP API and the WebSocket frames. */
export interface VerbArgs {
  path?: Raw;
  glob?: Raw;
  rev?: Raw;
  offset?: Raw;
  limit?: Raw;
  timeout?: Raw;
  stale?: Raw;
}

/** What keeps a request's background work alive: a Worker's ExecutionContext or a Durable Object's state. */
export type Lifetime = Pick<ExecutionContext, "waitUntil">;

export interface FileAnswer {
  path: string;
  rev: number;
  value: Uint8Array;
  storeRev: number;
}

export class Operations {
  constructor(
    private readonly reader: Reader,
    /** Decides a mutation: this isolate's proposer, or the leader acceptor's (see runtime.ts). */
    private readonly propose: (mutation: Mutation, life: Lifetime) => Promise<MutationOutcome>,
  ) {}

  async rev(a: VerbArgs, life: Lifetime): Promise<{ rev: number }> {
    const { readAt } = await this.read(a, life, { op: "rev" });
    return { rev: readAt };
  }

  async get(a: VerbArgs, life: Lifetime): Promise<FileAnswer> {
    const path = requiredPath(a.path);
    const { result, readAt } = await this.read(a, life, { op: "get", path });
    if (result.op !== "get") throw new Error("a get answered with another op");
    return { path, rev: result.rev, value: result.value, storeRev: readAt };
  }

  async set(
    a: VerbArgs,
    value: Uint8Array,
    id: string,
    life: Lifetime,
  ): Promise<{ path: string; rev: number }> {
    const path = requiredPath(a.path);
    const rev = args.writeRev(a.rev);
    if (value.byteLength > valueBytesMax) {
      throw new DoozerError(
        "TOO_LARGE",
        `the value is ${value.byteLength} bytes; the limit is ${valueBytesMax}`,
      );
    }
    const outcome = await this.write({ op: "set", id, path, rev, value }, life);
    return { path, rev: outcome.rev };
  }

  async del(a: VerbArgs, id: string, life: Lifetime): Promise<{ path: string; rev: number }> {
    const path = requiredPath(a.path);
    const rev = args.writeRev(a.rev);
    const outcome = await this.write({ op: "del", id, path, rev }, life);
    return { path, rev: outcome.rev };
  }

  async nop(id: string, life: Lifetime): Promise<{ rev: number }> {
    return { rev: (await this.write({ op: "nop", id }, life)).rev };
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
  ): Promise<{ path: string; rev: number; len: number; storeRev: number }> {
    const path = requiredPath(a.path);
    const { result, readAt } = await this.read(a, life, { op: "stat", path });
    if (result.op !== "stat") throw new Error("a stat answered with another op");
    return { path, rev: result.rev, len: result.len, storeRev: readAt };
  }

  async walk(
    a: VerbArgs,
    life: Lifetime,
  ): Promise<{ rev: number; files: { path: string; rev: number; value: Uint8Array }[] }> {
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
    const { event } = await this.reader.wait({ glob, rev, timeoutMs }, stale, life);
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
    const reply = await this.reader.read({ query, rev, timeoutMs }, stale, life);
    return { result: reply.result, readAt: reply.readAt };
  }

  private async write(mutation: Mutation, life: Lifetime): Promise<MutationOutcome> {
    const outcome = await this.propose(mutation, life);
    if (outcome.error) {
      const { code, message, rev } = outcome.error;
      throw new DoozerError(
        code,
        message,
        rev === undefined ? { storeRev: outcome.rev } : { rev, storeRev: outcome.rev },
      );
    }
    return outcome;
  }
}

export function requiredPath(raw: Raw): string {
  if (typeof raw !== "string") throw new DoozerError("MISSING_ARG", "path is required, e.g. /app/config");
  validatePath(raw);
  return raw;
}

export function requiredGlob(raw: Raw): string {
  if (typeof raw !== "string") throw new DoozerError("MISSING_ARG", "glob is required, e.g. /app/**");
  compileGlob(raw);
  return raw;
}

const mutationIdPattern = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * A mutation's id: the client's, when it sends one, so that a retry of a write
 * whose answer was lost applies once; otherwise a fresh one.
 */
export function mutationId(given: unknown): string {
  if (given === undefined || given === null) return crypto.randomUUID();
  if (typeof given !== "string" || !mutationIdPattern.test(given)) {
    throw new DoozerError("BAD_REQUEST", "a request id must be 1 to 128 of A-Z a-z 0-9 . _ : -");
  }
  return given;
}
