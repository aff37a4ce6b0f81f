// The Worker: the stateless proposer and the HTTP API in front of the
// acceptor Durable Objects, and the web viewer's files.

import { WorkerEntrypoint } from "cloudflare:workers";
import type { Env } from "./env";
import { errorResponse } from "./http";
import { runtimeFor } from "./isolate-runtime";
import { router } from "./routes";

export { AcceptorObject } from "../acceptors/acceptor-object";

/** The live web viewer's files; every other path is the API's (or its 404 NOT_FOUND). */
const viewerFiles = new Set(["/", "/index.html", "/app.js", "/app.js.map", "/style.css"]);

async function handle(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
  const { pathname } = new URL(request.url);
  if (env.ASSETS && request.method === "GET" && viewerFiles.has(pathname)) return env.ASSETS.fetch(request);
  try {
    return await router.fetch(request, env, ctx, runtimeFor(env));
  } catch (error) {
    return errorResponse(error);
  }
}

export default {
  fetch: handle,
} satisfies ExportedHandler<Env>;

/** The env a trusted caller sees: the same store, with no token asked for. One per env, so one runtime. */
const trustedEnvs = new WeakMap<Env, Env>();

/**
 * The entrypoint for service bindings (`[[services]] ... entrypoint = "DoozerService"`).
 * Only other Workers that were deliberately bound to it can reach it (it has no
 * public URL), so it is trusted: calls through it need no token, and may read
 * and write. Expose the default entrypoint instead to make a bound Worker
 * present a token like any client.
 */
export class DoozerService extends WorkerEntrypoint<Env> {
  override async fetch(request: Request): Promise<Response> {
    let trusted = trustedEnvs.get(this.env);
    if (!trusted) {
      trusted = { ...this.env, DOOZER_RWSECRET: undefined, DOOZER_ROSECRET: undefined };
      trustedEnvs.set(this.env, trusted);
    }
    return handle(request, trusted, this.ctx);
  }
}
