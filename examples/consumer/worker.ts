// An edge function that uses doozer-edge through a service binding to its
// `DoozerService` entrypoint (`env.DOOZER`, typed `Service<DoozerService>`):
// a feature flag read on every request, flipped with a compare-and-set, and a
// wait for the next change. `connect(env.DOOZER)` calls the entrypoint's typed
// RPC methods (no HTTP in between); `env.DOOZER.get(...)` works too, typed.
//
//   GET  /flag            → the flag's value and rev
//   PUT  /flag?rev=R      → sets it (body = value) if its rev is still R
//   GET  /flag/next?rev=R → the first change at or after rev R (waits up to 10 s)
//   GET  /flag/raw        → the flag read with the binding's own RPC method

import { connect, DoozerError } from "../../client/index";
import type { DoozerService } from "../../worker/service";

export interface Env {
  /** Read-write, or read-only when the binding's props say `readOnly = true` (wrangler.toml). */
  DOOZER: Service<DoozerService>;
}

const flagPath = "/flags/checkout";

export default {
  async fetch(request: Request, env: Env, _ctx: ExecutionContext): Promise<Response> {
    const doozer = connect(env.DOOZER);
    const url = new URL(request.url);
    try {
      if (url.pathname === "/flag" && request.method === "GET") {
        const { value, rev } = await doozer.get(flagPath);
        return Response.json({ value: value.text(), rev });
      }
      if (url.pathname === "/flag/raw") {
        // The typed RPC method itself: bytes and revs, errors as `[CODE {details}] message`.
        const file = await env.DOOZER.get(flagPath);
        return Response.json({ value: new TextDecoder().decode(file.value), rev: file.rev });
      }
      if (url.pathname === "/flag" && request.method === "PUT") {
        const rev = await doozer.set(
          flagPath,
          Number(url.searchParams.get("rev") ?? "0"),
          await request.text(),
        );
        return Response.json({ rev });
      }
      if (url.pathname === "/flag/next") {
        const event = await doozer.wait(flagPath, Number(url.searchParams.get("rev") ?? "0"), {
          timeoutMs: 10_000,
        });
        return event
          ? Response.json({ rev: event.rev, op: event.op, value: event.value.text() })
          : new Response(null, { status: 204 });
      }
      return Response.json(
        { error: "GET /flag, PUT /flag?rev=R, GET /flag/next?rev=R, GET /flag/raw" },
        { status: 404 },
      );
    } catch (error) {
      if (error instanceof DoozerError) {
        return Response.json({ code: error.code, message: error.message, rev: error.rev }, { status: 409 });
      }
      throw error;
    } finally {
      doozer.close();
    }
  },
} satisfies ExportedHandler<Env>;
