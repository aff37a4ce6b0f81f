// The Worker: the stateless proposer and the HTTP API in front of the
// acceptor Durable Objects.

import type { Env } from "./env";
import { errorResponse } from "./http";
import { router } from "./routes";
import { runtimeFor } from "./runtime";

export { AcceptorObject } from "../acceptors/acceptor-object";

/** The live web viewer's files; every other path is the API's (or its 404 NOT_FOUND). */
const viewerFiles = new Set(["/", "/index.html", "/app.js", "/app.js.map", "/style.css"]);

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    const { pathname } = new URL(request.url);
    if (env.ASSETS && request.method === "GET" && viewerFiles.has(pathname)) return env.ASSETS.fetch(request);
    try {
      return await router.fetch(request, env, ctx, runtimeFor(env));
    } catch (error) {
      return errorResponse(error);
    }
  },
} satisfies ExportedHandler<Env>;
