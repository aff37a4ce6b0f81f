// The HTTP API (SPEC §2) as one route table. Each handler checks auth, hands
// its arguments to the shared Operations and shapes the answer; errors are
// thrown as DoozerError and mapped in http.ts. /v1/ws hands the socket to an
// acceptor Durable Object, which speaks the WebSocket protocol (SPEC §3).

import { type IRequest, Router } from "itty-router";
import * as args from "../core/args";
import { DoozerError } from "../core/errors";
import { valueBytesMax } from "../core/limits";
import { encodeValue } from "../core/value-encoding";
import { accessFor, authorize, bearer, requireWrite } from "./auth";
import type { Env } from "./env";
import { faultTable, setFaults } from "./faults";
import { errorResponse, json, readBody, readJson } from "./http";
import { mutationId, type VerbArgs } from "./operations";
import type { Runtime } from "./runtime";
import { connectSocket } from "./sockets";

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
  [/^\/v1\/stats$/, ["GET"]],
  [/^\/v1\/faults$/, ["GET", "POST"]],
  [/^\/v1\/ws$/, ["GET"]],
];

export const router = Router<IRequest, Args>({
  catch: (error) => errorResponse(error),
});

router
  .get("/v1/rev", async (request, env, ctx, runtime) => {
    await authorize(request, env);
    return json(await runtime.operations.rev(queryArgs(request), ctx));
  })
  .get("/v1/files/*", getFile)
  .get("/v1/files", getFile)
  .put("/v1/files/*", async (request, env, ctx, runtime) => {
    requireWrite(await authorize(request, env));
    const a = { ...queryArgs(request), path: pathAfter(request, "/v1/files") };
    const id = mutationId(request.headers.get("Doozer-Request-Id"));
    args.writeRev(a.rev); // A missing rev is MISSING_ARG before a body is read.
    const value = await readBody(request, valueBytesMax, "the value");
    return json(await runtime.operations.set(a, value, id, ctx));
  })
  .delete("/v1/files/*", async (request, env, ctx, runtime) => {
    requireWrite(await authorize(request, env));
    const a = { ...queryArgs(request), path: pathAfter(request, "/v1/files") };
    const id = mutationId(request.headers.get("Doozer-Request-Id"));
    return json(await runtime.operations.del(a, id, ctx));
  })
  .post("/v1/nop", async (request, env, ctx, runtime) => {
    requireWrite(await authorize(request, env));
    return json(await runtime.operations.nop(mutationId(request.headers.get("Doozer-Request-Id")), ctx));
  })
  .get("/v1/dirs/*", getDir)
  .get("/v1/dirs", getDir)
  .get("/v1/stat/*", stat)
  .get("/v1/stat", stat)
  .get("/v1/walk", async (request, env, ctx, runtime) => {
    await authorize(request, env);
    const a = queryArgs(request);
    const base64 = args.encoding(a.encoding) === "base64";
    const { rev, files } = await runtime.operations.walk(a, ctx);
    return json({
      rev,
      files: files.map((f) => ({ path: f.path, rev: f.rev, ...encodeValue(f.value, base64) })),
    });
  })
  .get("/v1/wait", async (request, env, ctx, runtime) => {
    await authorize(request, env);
    const a = queryArgs(request);
    const base64 = args.encoding(a.encoding) === "base64";
    const event = await runtime.operations.wait(a, ctx);
    if (!event) return new Response(null, { status: 204 });
    return json({ path: event.path, rev: event.rev, ...encodeValue(event.value, base64), op: event.op });
  })
  .get("/v1/ws", async (request, env, _ctx, runtime) => {
    const token = new URL(request.url).searchParams.get("token") ?? bearer(request);
    // Without a token the socket opens unauthenticated, for the ACCESS verb; a wrong one is refused now.
    const access = env.DOOZER_RWSECRET && token === undefined ? "none" : await accessFor(token, env);
    return connectSocket(request, runtime, access);
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
  .get("/v1/stats", async (request, env, _ctx, runtime) => {
    await authorize(request, env);
    const { acceptors, config, proposer, reader } = runtime;
    const [statuses, leader] = await Promise.all([
      reader.statuses(),
      config.writeRoute === "leader"
        ? acceptors.call(config.leader, (s) => s.proposerStats()).catch(() => null)
        : Promise.resolve(null),
    ]);
    return json({
      writeRoute: config.writeRoute,
      proposer: proposer.stats,
      leader: leader && { id: config.leader, ...leader },
      acceptors: acceptors.names.map((id, i) => ({ id, storageWrites: statuses[i]?.storageWrites ?? null })),
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
  const a = { ...queryArgs(request), path: pathAfter(request, "/v1/files") };
  const { rev, value, storeRev } = await runtime.operations.get(a, ctx);
  return new Response(value, {
    headers: {
      "Content-Type": "application/octet-stream",
      "Doozer-Rev": String(rev),
      "Doozer-Store-Rev": String(storeRev),
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
  return json(
    await runtime.operations.getdir({ ...queryArgs(request), path: pathAfter(request, "/v1/dirs") }, ctx),
  );
}

async function stat(request: IRequest, env: Env, ctx: ExecutionContext, runtime: Runtime): Promise<Response> {
  await authorize(request, env);
  return json(
    await runtime.operations.stat({ ...queryArgs(request), path: pathAfter(request, "/v1/stat") }, ctx),
  );
}

/** The query string's arguments, by the names the verbs use. */
function queryArgs(request: IRequest): VerbArgs & { encoding?: string } {
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
  };
}

/** The store path in a URL: everything after the route's prefix, not percent-decoded (SPEC §1). */
function pathAfter(request: IRequest, prefix: string): string {
  const rest = new URL(request.url).pathname.slice(prefix.length);
  return rest === "" ? "/" : rest;
}

function requireFaultSwitch(runtime: Runtime): void {
  if (!runtime.config.faultsEnabled) throw new DoozerError("NOT_FOUND", "no route /v1/faults");
}
