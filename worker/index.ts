// The Worker: the stateless proposer and the HTTP API in front of the
// acceptor Durable Objects.

import type { Env } from "./env";
import { errorResponse } from "./http";
import { router } from "./routes";
import { runtimeFor } from "./runtime";

export { AcceptorObject } from "../acceptors/acceptor-object";

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    try {
      return await router.fetch(request, env, ctx, runtimeFor(env));
    } catch (error) {
      return errorResponse(error);
    }
  },
} satisfies ExportedHandler<Env>;
