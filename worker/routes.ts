// The HTTP API (SPEC §2) as one route table. Each handler checks its input
// into core types, hands a write to the proposer or a read to the Reader, and
// shapes the answer; errors are thrown as DoozerError and mapped in http.ts.

import { type IRequest, Router } from "itty-router";
import * as args from "../core/args";
import { DoozerError } from "../core/errors";
import { compileGlob } from "../core/glob";
import { readTimeoutMsDefault, valueBytesMax, waitTimeoutMsDefault } from "../core/limits";
import type { Mutation, MutationOutcome } from "../core/mutation";
import { validatePath } from "../core/path";
import type { ReadQuery, ReadResult } from "../core/reads";
import { encodeValue } from "../core/value-encoding";
import { authorize, requireWrite } from "./auth";
import type { Env } from "./env";
import { faultTable, setFaults } from "./faults";
import { errorResponse, json, readBody, readJson } from "./http";
import type { Runtime } from "./runtime";

export type Args = [Env, ExecutionContext, Runtime];

/** Which methods each path answers, for telling 405 BAD_METHOD from 404 NOT_FOUND. */
const allowed: [RegExp, string[]][] = [
  [/^\/v1\/rev$/, ["GET"]],
  [/^\/v1\/files(\/.*)?$/, ["GET", "PUT", "DELETE"]],
  [/^\/v1\/dirs(\/.*)?$/, ["GET"]],
  [/^\/v1\/stat(\/.*)?$/, ["GET"]],
  [/^\/v1\/walk$/, ["GET"]],
  [/^\/v1\/wait$/, ["GET"]],
  [/^\/v1\/nop$/, ["POST"]],
  [/^\/v1\/cluster$/, ["GET"]],
  [/^\/v1\/faults$/, ["GET", "POST"]],
];

export const router = Router<IRequest, Args>({
  catch: (error) => errorResponse(error),
});

router
  .get("/v1/rev", async (request, env, ctx, runtime) => {
    await authorize(request, env);
    const { readAt } = await read(request, runtime, ctx, { op: "rev" });
    return json({ rev: readAt });
  })
  .get("/v1/files/*", getFile)
  .get("/v1/files", getFile)
  .put("/v1/files/*", async (request, env, ctx, runtime) => {
    requireWrite(await authorize(request, env));
    const path = pathAfter(request, "/v1/files");
    const rev = args.writeRev(query(request, "rev"));
    const value = await readBody(request, valueBytesMax, "the value");
    const outcome = await write(runtime, ctx, { op: "set", id: mutationId(request), path, rev, value });
    return json({ path, rev: outcome.rev });
  })
  .delete("/v1/files/*", async (request, env, ctx, runtime) => {
    requireWrite(await authorize(request, env));
    const path = pathAfter(request, "/v1/files");
    const rev = args.writeRev(query(request, "rev"));
    const outcome = await write(runtime, ctx, { op: "del", id: mutationId(request), path, rev });
    return json({ path, rev: outcome.rev });
  })
  .post("/v1/nop", async (request, env, ctx, runtime) => {
    requireWrite(await authorize(request, env));
    const outcome = await write(runtime, ctx, { op: "nop", id: mutationId(request) });
    return json({ rev: outcome.rev });
  })
  .get("/v1/dirs/*", getDir)
  .get("/v1/dirs", getDir)
  .get("/v1/stat/*", stat)
  .get("/v1/stat", stat)
  .get("/v1/walk", async (request, env, ctx, runtime) => {
    await authorize(request, env);
    const glob = requiredGlob(request);
    const offset = args.offset(query(request, "offset"));
    const limit = args.limit(query(request, "limit"));
    const base64 = args.encoding(query(request, "encoding")) === "base64";
    const { result, readAt } = await read(request, runtime, ctx, { op: "walk", glob, offset, limit });
    const files = result.op === "walk" ? result.files : [];
    return json({
      rev: readAt,
      files: files.map((f) => ({ path: f.path, rev: f.rev, ...encodeValue(f.value, base64) })),
    });
  })
  .get("/v1/wait", async (request, env, ctx, runtime) => {
    await authorize(request, env);
    const glob = requiredGlob(request);
    const rev = args.waitRev(query(request, "rev"));
    const timeoutMs = args.timeoutMs(query(request, "timeout"), waitTimeoutMsDefault);
    const base64 = args.encoding(query(request, "encoding")) === "base64";
    const stale = args.flag(query(request, "stale"), "stale");
    const { event } = await runtime.reader.wait({ glob, rev, timeoutMs }, stale, ctx);
    if (!event) return new Response(null, { status: 204 });
    return json({ path: event.path, rev: event.rev, ...encodeValue(event.value, base64), op: event.op });
  })
  .get("/v1/cluster", async (request, env, _ctx, runtime) => {
    await authorize(request, env);
    const statuses = await runtime.reader.statuses();
    return json({
      acceptors: runtime.acceptors.names.map((name, i) => {
        const s = statuses[i];
        return {
          id: name,
          location: runtime.acceptors.location(name),
          reachable: s !== undefined,
          promised: s ? `${s.promised.round}.${s.promised.proposer}` : null,
          accepted: s?.maxAccepted ?? null,
          chosen: s?.chosenThrough ?? null,
          rev: s?.rev ?? null,
        };
      }),
    });
  })
  .get("/v1/faults", async (request, env, _ctx, runtime) => {
    requireFaultSwitch(runtime);
    await authorize(request, env);
    return json(await faultTable(runtime.acceptors));
  })
  .post("/v1/faults", async (request, env, _ctx, runtime) => {
    requireFaultSwitch(runtime);
    requireWrite(await authorize(request, env));
    return json(await setFaults(runtime.acceptors, await readJson(request, 4096)));
  })
  .all("*", (request, _env, _ctx, runtime) => {
    const path = new URL(request.url).pathname;
    const methods = allowed.find(([pattern]) => pattern.test(path))?.[1];
    if (!methods || (path === "/v1/faults" && !runtime.config.faultsEnabled))
      throw new DoozerError("NOT_FOUND", `no route ${path}`);
    return json(
      {
        error: {
          code: "BAD_METHOD",
          message: `${request.method} is not allowed on ${path}; use ${methods.join(", ")}`,
        },
      },
      405,
      { Allow: methods.join(", ") },
    );
  });

async function getFile(
  request: IRequest,
  env: Env,
  ctx: ExecutionContext,
  runtime: Runtime,
): Promise<Response> {
  await authorize(request, env);
  const path = pathAfter(request, "/v1/files");
  const { result, readAt } = await read(request, runtime, ctx, { op: "get", path });
  if (result.op !== "get") throw new Error("a get answered with another op");
  return new Response(result.value, {
    headers: {
      "Content-Type": "application/octet-stream",
      "Doozer-Rev": String(result.rev),
      "Doozer-Store-Rev": String(readAt),
    },
  });
}

async function getDir(
  request: IRequest,
  env: Env,
  ctx: ExecutionContext,
  runtime: Runtime,
): Promise<Response> {
  await authorize(request, env);
  const path = pathAfter(request, "/v1/dirs");
  const offset = args.offset(query(request, "offset"));
  const limit = args.limit(query(request, "limit"));
  const { result, readAt } = await read(request, runtime, ctx, { op: "getdir", path, offset, limit });
  return json({ path, rev: readAt, entries: result.op === "getdir" ? result.entries : [] });
}

async function stat(request: IRequest, env: Env, ctx: ExecutionContext, runtime: Runtime): Promise<Response> {
  await authorize(request, env);
  const path = pathAfter(request, "/v1/stat");
  const { result, readAt } = await read(request, runtime, ctx, { op: "stat", path });
  if (result.op !== "stat") throw new Error("a stat answered with another op");
  return json({ path, rev: result.rev, len: result.len, storeRev: readAt });
}

async function read(
  request: IRequest,
  runtime: Runtime,
  ctx: ExecutionContext,
  readQuery: ReadQuery,
): Promise<{ result: ReadResult; readAt: number }> {
  const rev = args.readRev(query(request, "rev"));
  const stale = args.flag(query(request, "stale"), "stale");
  const timeoutMs = args.timeoutMs(query(request, "timeout"), readTimeoutMsDefault);
  const reply = await runtime.reader.read({ query: readQuery, rev, timeoutMs }, stale, ctx);
  return { result: reply.result, readAt: reply.readAt };
}

async function write(runtime: Runtime, ctx: ExecutionContext, mutation: Mutation): Promise<MutationOutcome> {
  const outcome = await runtime.proposer.write(mutation, ctx);
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

/** The store path in a URL: everything after the route's prefix, not percent-decoded (SPEC §1). */
function pathAfter(request: IRequest, prefix: string): string {
  const rest = new URL(request.url).pathname.slice(prefix.length);
  const path = rest === "" ? "/" : rest;
  validatePath(path);
  return path;
}

function requiredGlob(request: IRequest): string {
  const glob = query(request, "glob");
  if (glob === undefined) throw new DoozerError("MISSING_ARG", "glob is required, e.g. glob=/app/**");
  compileGlob(glob);
  return glob;
}

function query(request: IRequest, name: string): string | undefined {
  return new URL(request.url).searchParams.get(name) ?? undefined;
}

const requestIdPattern = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The mutation's id: the client's Doozer-Request-Id when it sends one, so that a
 * retry of a write whose answer was lost applies once; otherwise a fresh one.
 */
function mutationId(request: IRequest): string {
  const given = request.headers.get("Doozer-Request-Id");
  if (given === null) return crypto.randomUUID();
  if (!requestIdPattern.test(given)) {
    throw new DoozerError("BAD_REQUEST", "Doozer-Request-Id must be 1 to 128 of A-Z a-z 0-9 . _ : -");
  }
  return given;
}

function requireFaultSwitch(runtime: Runtime): void {
  if (!runtime.config.faultsEnabled) throw new DoozerError("NOT_FOUND", "no route /v1/faults");
}
