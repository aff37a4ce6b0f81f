// The Worker: the stateless proposer and the HTTP API in front of the
// acceptor Durable Objects, and the web viewer's files. Every request leaves
// one JSON log line (worker/log.ts) and carries its request id back.

import { logLine, logThrottled } from "../server/log";
import type { Env } from "./env";
import { answerFacts, errorResponse, json } from "./http";
import { type IsolateRuntime, membershipProblems, requireMembership, runtimeFor } from "./isolate-runtime";
import { router } from "./routes";

export { AcceptorObject } from "../acceptors/acceptor-object";
/** The entrypoint for service bindings: typed RPC methods and fetch (worker/service.ts). */
export { DoozerService } from "./service";

/** The live web viewer's files; every other path is the API's (or its 404 NOT_FOUND). */
const viewerFiles = new Set(["/", "/index.html", "/app.js", "/app.js.map", "/style.css"]);

/** Routes that serve the store: refused while the acceptors stored another membership. */
const diagnosticRoutes = new Set(["/v1/health", "/v1/cluster", "/v1/stats", "/v1/faults"]);

const requestIdPattern = /^[A-Za-z0-9._:-]{1,128}$/;

async function handle(request: Request, env: Env, ctx: ExecutionContext, trusted = false): Promise<Response> {
  const started = Date.now();
  const { pathname } = new URL(request.url);
  const given = request.headers.get("Doozer-Request-Id");
  // The client's id (also the write's mutation id, server/verbs.ts) when it is a valid one; else a fresh one.
  const requestId = given !== null && requestIdPattern.test(given) ? given : crypto.randomUUID();
  const route = routeOf(pathname);
  let response: Response;
  try {
    response = await answer(request, env, ctx, trusted, pathname, route);
  } catch (error) {
    response = errorResponse(error);
  }
  const { code, rev } = answerFacts(response);
  const status = response.status;
  if (env.DOOZER_REQUEST_LOG !== "0")
    logRequest(status, {
      requestId,
      method: request.method,
      route,
      status,
      ...(code !== undefined && { code }),
      ms: Date.now() - started,
      ...(rev !== undefined && { rev }),
    });
  if (code === "NO_QUORUM") {
    logThrottled("no-quorum", 1_000, "error", "no-quorum", {
      requestId,
      route,
      message: await messageOf(response),
    });
  }
  return withRequestId(response, requestId);
}

function logRequest(status: number, fields: Record<string, unknown>): void {
  logLine(status >= 500 ? "error" : "info", "request", fields);
}

async function answer(
  request: Request,
  env: Env,
  ctx: ExecutionContext,
  trusted: boolean,
  pathname: string,
  route: string,
): Promise<Response> {
  if (env.ASSETS && request.method === "GET" && viewerFiles.has(pathname)) return env.ASSETS.fetch(request);
  const runtime = runtimeFor(env, trusted);
  if (pathname.startsWith("/v1/") && !diagnosticRoutes.has(route) && route !== "other")
    await requireMembership(env, runtime);
  const response = await router.fetch(request, env, ctx, runtime);
  if (request.method === "GET" && (route === "/v1/health" || route === "/v1/cluster"))
    return explainUnreachable(response, env, runtime, route);
  return response;
}

/**
 * /v1/health and /v1/cluster with an acceptor that did not answer: if it
 * refuses because of its stored membership, the answer says so (health:
 * `errors`, cluster: the acceptor's `error`); status and other fields unchanged.
 */
async function explainUnreachable(
  response: Response,
  env: Env,
  runtime: IsolateRuntime,
  route: string,
): Promise<Response> {
  if (response.status !== 200 && response.status !== 503) return response;
  const body = (await response.clone().json()) as {
    acceptors?: unknown;
    reachable?: unknown;
    errors?: string[];
  };
  const entries = Array.isArray(body.acceptors) ? (body.acceptors as Record<string, unknown>[]) : undefined;
  const allAnswered =
    route === "/v1/health" ? body.reachable === body.acceptors : entries?.every((a) => a.reachable === true);
  if (allAnswered) return response;
  const problems = await membershipProblems(env, runtime);
  if (problems.length === 0) return response;
  if (route === "/v1/health") body.errors = problems.map((p) => p.message);
  for (const entry of entries ?? []) {
    const problem = problems.find((p) => p.id === entry.id);
    if (problem) entry.error = problem.message;
  }
  return json(body, response.status);
}

/** The route as logged: its pattern, not the path (a path names a file, which the log should not collect). */
function routeOf(pathname: string): string {
  if (viewerFiles.has(pathname)) return "viewer";
  const store = /^\/v1\/(files|dirs|stat)(\/|$)/.exec(pathname);
  if (store) return `/v1/${store[1]}/*`;
  if (/^\/v1\/sessions\/[^/]+\/keepalive$/.test(pathname)) return "/v1/sessions/*/keepalive";
  if (/^\/v1\/sessions\/[^/]+$/.test(pathname)) return "/v1/sessions/*";
  if (/^\/v1\/(rev|walk|wait|nop|cluster|health|sessions|txn|stats|faults|ws)$/.test(pathname))
    return pathname;
  return "other";
}

async function messageOf(response: Response): Promise<string | undefined> {
  try {
    return ((await response.clone().json()) as { error?: { message?: string } }).error?.message;
  } catch {
    return undefined;
  }
}

/** Echoes the request id; a socket's 101 and a response whose headers are fixed keep theirs (copied if need be). */
function withRequestId(response: Response, requestId: string): Response {
  if (response.status === 101 || response.webSocket) return response;
  try {
    response.headers.set("Doozer-Request-Id", requestId);
    return response;
  } catch {
    const copy = new Response(response.body, response);
    copy.headers.set("Doozer-Request-Id", requestId);
    return copy;
  }
}

export default {
  fetch: (request: Request, env: Env, ctx: ExecutionContext) => handle(request, env, ctx),
} satisfies ExportedHandler<Env>;
