// The HTTP API (SPEC §2) as one route table. Each handler checks auth, hands
// its arguments to the shared verbs (server/verbs.ts) and shapes the answer; errors are
// thrown as CodedError and mapped in http.ts. /v1/ws hands the socket to an
// acceptor Durable Object, which speaks the WebSocket protocol (SPEC §3).

import { type IRequest, Router } from "itty-router";
import * as args from "../core/args";
import { CodedError } from "../core/errors";
import { keeperOfTerm } from "../core/keeper-lease";
import { txnBodyBytesMax, valueBytesMax } from "../core/limits";
import type { AcceptorStatus } from "../server/acceptor-rpc";
import { accessFor, authorize, bearer, requireWrite, secretsFrom } from "../server/auth";
import { mutationId, type StoreVerb, type VerbArgs, writeVerbs } from "../server/verbs";
import type { Env } from "./env";
import { faultTable, setFaults } from "./faults";
import { errorResponse, json, readBody, readJson } from "./http";
import type { IsolateRuntime } from "./isolate-runtime";
import { originOf, originRegionOf } from "./origin";
import { connectSocket } from "./sockets";

export type Args = [Env, ExecutionContext, IsolateRuntime];

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
  [/^\/v1\/health$/, ["GET"]],
  [/^\/v1\/sessions$/, ["GET", "POST"]],
  [/^\/v1\/sessions\/[^/]*$/, ["GET", "DELETE"]],
  [/^\/v1\/sessions\/[^/]*\/keepalive$/, ["POST"]],
  [/^\/v1\/txn$/, ["POST"]],
  [/^\/v1\/stats$/, ["GET"]],
  [/^\/v1\/faults$/, ["GET", "POST"]],
  [/^\/v1\/ws$/, ["GET"]],
];

export const router = Router<IRequest, Args>({
  catch: (error) => errorResponse(error),
});

router
  .get("/v1/rev", (request, env, ctx, runtime) => verb("REV", queryArgs(request), request, env, ctx, runtime))
  .get("/v1/files/*", getFile)
  .get("/v1/files", getFile)
  .put("/v1/files/*", async (request, env, ctx, runtime) => {
    requireWrite(await authorize(request, secretsFrom(env)));
    const a = { ...queryArgs(request), path: pathAfter(request, "/v1/files") };
    const requestId = mutationId(request.headers.get("Doozer-Request-Id"));
    args.writeRev(a.rev); // A missing rev is MISSING_ARG before a body is read.
    const value = await readBody(request, valueBytesMax, "the value");
    const region = originRegionOf(request, runtime.config.faultsEnabled);
    return json(await runtime.verbs.run("SET", { ...a, value, requestId, region }, ctx));
  })
  .delete("/v1/files/*", (request, env, ctx, runtime) => {
    const a = { ...queryArgs(request), path: pathAfter(request, "/v1/files") };
    return verb("DEL", a, request, env, ctx, runtime);
  })
  .post("/v1/nop", (request, env, ctx, runtime) => verb("NOP", {}, request, env, ctx, runtime))
  .get("/v1/dirs/*", getDir)
  .get("/v1/dirs", getDir)
  .get("/v1/stat/*", stat)
  .get("/v1/stat", stat)
  .get("/v1/walk", (request, env, ctx, runtime) =>
    verb("WALK", queryArgs(request), request, env, ctx, runtime),
  )
  .get("/v1/wait", (request, env, ctx, runtime) =>
    verb("WAIT", queryArgs(request), request, env, ctx, runtime),
  )
  .post("/v1/sessions", (request, env, ctx, runtime) =>
    verb("SESSION", { ttl: queryArgs(request).ttl }, request, env, ctx, runtime),
  )
  .get("/v1/sessions", async (request, env, ctx, runtime) => {
    // The router also matches "/v1/sessions/": that names the empty session id (BAD_REQUEST, SPEC §6), not the list.
    if (new URL(request.url).pathname !== "/v1/sessions") return undefined;
    await authorize(request, secretsFrom(env));
    return json(await runtime.verbs.listSessions(queryArgs(request), ctx));
  })
  .post("/v1/sessions/*", (request, env, ctx, runtime) => {
    const rest = new URL(request.url).pathname.slice("/v1/sessions/".length);
    if (!rest.endsWith("/keepalive") || rest.slice(0, -"/keepalive".length).includes("/"))
      throw new CodedError("NOT_FOUND", `no route ${new URL(request.url).pathname}`);
    return verb("KEEPALIVE", { session: rest.slice(0, -"/keepalive".length) }, request, env, ctx, runtime);
  })
  .get("/v1/sessions/*", async (request, env, ctx, runtime) => {
    await authorize(request, secretsFrom(env));
    const a = { ...queryArgs(request), session: sessionInPath(request) };
    return json(await runtime.verbs.getSession(a, ctx));
  })
  .delete("/v1/sessions/*", (request, env, ctx, runtime) =>
    verb("ENDSESSION", { session: sessionInPath(request) }, request, env, ctx, runtime),
  )
  .post("/v1/txn", async (request, env, ctx, runtime) => {
    requireWrite(await authorize(request, secretsFrom(env)));
    const body = await readJson(request, txnBodyBytesMax);
    if (typeof body !== "object" || body === null || Array.isArray(body))
      throw new CodedError("BAD_REQUEST", "a transaction is a JSON object with checks and ops");
    const { checks, ops } = body as { checks?: unknown; ops?: unknown };
    return verb("TXN", { checks, ops }, request, env, ctx, runtime);
  })
  .get("/v1/ws", async (request, env, _ctx, runtime) => {
    const token = new URL(request.url).searchParams.get("token") ?? bearer(request);
    // Without a token the socket opens unauthenticated, for the ACCESS verb; a wrong one is refused now.
    const secrets = secretsFrom(env);
    const access = secrets.readWrite && token === undefined ? "none" : await accessFor(token, secrets);
    return connectSocket(request, runtime, access);
  })
  .get("/v1/cluster", async (request, env, _ctx, runtime) => {
    await authorize(request, secretsFrom(env));
    const statuses = await runtime.reader.statuses();
    return json({
      acceptors: runtime.acceptors.names.map((name, i) => {
        const s = statuses[i];
        return {
          id: name,
          location: runtime.acceptors.location(name),
          // Where it really runs, as far as the platform tells (deployed Workers only); null when unknown.
          runsIn: s?.colo ?? null,
          reachable: s !== undefined,
          promised: s ? `${s.promised.round}.${s.promised.proposer}` : null,
          accepted: s?.maxAccepted ?? null,
          chosen: s?.chosenThrough ?? null,
          rev: s?.rev ?? null,
          keeper: s?.keeper ?? false,
        };
      }),
      keeper: sessionKeeper(runtime.acceptors.names, statuses, runtime.config.leader),
      leader: writeLeader(statuses, runtime.leader()),
    });
  })
  .get("/v1/health", async (_request, _env, _ctx, runtime) => {
    // No token asked for, and one given is ignored: a load balancer or an alert must always reach it (SPEC §8).
    const statuses = await runtime.reader.statuses();
    const answered = statuses.filter((s) => s !== undefined);
    const ok = answered.length >= runtime.acceptors.quorum;
    // The highest rev among those that answered: a quick look, not a linearizable read.
    const rev = answered.reduce((highest, s) => Math.max(highest, s.rev), 0);
    return json(
      { ok, acceptors: runtime.acceptors.names.length, reachable: answered.length, rev },
      ok ? 200 : 503,
    );
  })
  .get("/v1/stats", async (request, env, _ctx, runtime) => {
    await authorize(request, secretsFrom(env));
    const { acceptors, config, proposer, reader } = runtime;
    const [statuses, leader] = await Promise.all([
      reader.statuses(),
      config.writeRoute === "leader"
        ? acceptors.call(runtime.leader().leader, (s) => s.proposerStats()).catch(() => null)
        : Promise.resolve(null),
    ]);
    return json({
      writeRoute: config.writeRoute,
      proposer: proposer.stats,
      leader: leader && { id: runtime.leader().leader, ...leader },
      reader: reader.stats,
      acceptors: acceptors.names.map((id, i) => ({ id, storageWrites: statuses[i]?.storageWrites ?? null })),
    });
  })
  .get("/v1/faults", async (request, env, _ctx, runtime) => {
    requireFaultSwitch(runtime);
    await authorize(request, secretsFrom(env));
    return json(await faultTable(runtime.acceptors));
  })
  .post("/v1/faults", async (request, env, _ctx, runtime) => {
    requireFaultSwitch(runtime);
    requireWrite(await authorize(request, secretsFrom(env)));
    return json(await setFaults(runtime.acceptors, await readJson(request, 4096)));
  })
  .all("*", (request, _env, _ctx, runtime) => {
    const path = new URL(request.url).pathname;
    const methods = allowed.find(([pattern]) => pattern.test(path))?.[1];
    if (!methods || (path === "/v1/faults" && !runtime.config.faultsEnabled))
      throw new CodedError("NOT_FOUND", `no route ${path}`);
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

/**
 * One verb with a JSON answer: auth first (writes need the read-write token),
 * then the verb. A WAIT that times out answers 204 with no body.
 */
async function verb(
  name: StoreVerb,
  a: VerbArgs,
  request: IRequest,
  env: Env,
  ctx: ExecutionContext,
  runtime: IsolateRuntime,
): Promise<Response> {
  const access = await authorize(request, secretsFrom(env));
  if (writeVerbs.has(name)) {
    requireWrite(access);
    a.requestId = mutationId(request.headers.get("Doozer-Request-Id"));
    a.region = originRegionOf(request, runtime.config.faultsEnabled);
  }
  const body = await runtime.verbs.run(name, a, ctx);
  if (name === "WAIT" && body.timeout === true) return new Response(null, { status: 204 });
  return json(body);
}

/** GET /v1/files: the value's bytes as the body, its revs in headers. */
async function getFile(
  request: IRequest,
  env: Env,
  ctx: ExecutionContext,
  runtime: IsolateRuntime,
): Promise<Response> {
  await authorize(request, secretsFrom(env));
  const a = { ...queryArgs(request), path: pathAfter(request, "/v1/files") };
  const { rev, value, storeRev, session } = await runtime.verbs.get(a, ctx);
  const headers: Record<string, string> = {
    "Content-Type": "application/octet-stream",
    "Doozer-Rev": String(rev),
    "Doozer-Store-Rev": String(storeRev),
  };
  // The owner at the rev read (SPEC §6); absent for a persistent file.
  if (session !== undefined) headers["Doozer-Session"] = session;
  return new Response(value, { headers });
}

function getDir(request: IRequest, env: Env, ctx: ExecutionContext, runtime: IsolateRuntime) {
  return verb(
    "GETDIR",
    { ...queryArgs(request), path: pathAfter(request, "/v1/dirs") },
    request,
    env,
    ctx,
    runtime,
  );
}

function stat(request: IRequest, env: Env, ctx: ExecutionContext, runtime: IsolateRuntime) {
  return verb(
    "STAT",
    { ...queryArgs(request), path: pathAfter(request, "/v1/stat") },
    request,
    env,
    ctx,
    runtime,
  );
}

/** The query string's arguments, by the names the verbs use. */
function queryArgs(request: IRequest): VerbArgs {
  const params = new URL(request.url).searchParams;
  const get = (name: string) => params.get(name) ?? undefined;
  return {
    glob: get("glob"),
    rev: get("rev"),
    offset: get("offset"),
    limit: get("limit"),
    timeout: get("timeout"),
    stale: get("stale"),
    encoding: get("encoding"),
    session: get("session"),
    ttl: get("ttl"),
    origin: () => originOf(request),
  };
}

/** The session id in `/v1/sessions/<id>`; a malformed one is BAD_REQUEST when the verb checks it. */
function sessionInPath(request: IRequest): string {
  const rest = new URL(request.url).pathname.slice("/v1/sessions/".length);
  if (rest.includes("/")) throw new CodedError("NOT_FOUND", `no route ${new URL(request.url).pathname}`);
  return rest;
}

/** The store path in a URL: everything after the route's prefix, not percent-decoded (SPEC §1). */
function pathAfter(request: IRequest, prefix: string): string {
  const rest = new URL(request.url).pathname.slice(prefix.length);
  return rest === "" ? "/" : rest;
}

function requireFaultSwitch(runtime: IsolateRuntime): void {
  if (!runtime.config.faultsEnabled) throw new CodedError("NOT_FOUND", "no route /v1/faults");
}

/**
 * Who holds the session keeper's role, as the answering acceptors tell: the
 * one that says it holds it, else the keeper of the latest term any store
 * shows (null before the first claim, or when none answered).
 */
function sessionKeeper(
  names: readonly string[],
  statuses: readonly (AcceptorStatus | undefined)[],
  preferred: string,
): { acceptor: string | null; term: number } {
  const term = Math.max(0, ...statuses.map((s) => s?.keeperTerm ?? 0));
  const holder = names.find((_, i) => statuses[i]?.keeper === true);
  return { acceptor: holder ?? keeperOfTerm(term, names, preferred) ?? null, term };
}

/**
 * Who leads the writes (server/leader-role.ts): the leader of the highest term
 * any answering replica has applied, or this isolate's own view if that is
 * higher (a replica behind the log shows an older term).
 */
function writeLeader(
  statuses: readonly (AcceptorStatus | undefined)[],
  known: { leader: string; term: number },
): { acceptor: string; term: number } {
  let best = { acceptor: known.leader, term: known.term };
  for (const s of statuses) {
    if (s !== undefined && s.leaderTerm > best.term) best = { acceptor: s.leader, term: s.leaderTerm };
  }
  return best;
}
