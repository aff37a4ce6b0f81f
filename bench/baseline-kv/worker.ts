// The single-DO baseline (bench/baseline-kv/wrangler.toml): PUT /kv/<key>
// stores the body, GET /kv/<key> answers it, GET /health answers "ok". The
// Worker forwards every request to one Durable Object by RPC, as doozer-edge's
// Worker does to its acceptors; the object writes with ctx.storage.sql, one
// SQLite transaction per write, and keeps no cache, so a read also reads SQLite.

import { DurableObject } from "cloudflare:workers";

interface Env {
  KV: DurableObjectNamespace<KvObject>;
}

export class KvObject extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL)");
  }

  put(key: string, value: ArrayBuffer): void {
    this.ctx.storage.sql.exec("INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)", key, value);
  }

  get(key: string): ArrayBuffer | null {
    const row = this.ctx.storage.sql.exec<{ value: ArrayBuffer }>("SELECT value FROM kv WHERE key = ?", key);
    return row.toArray()[0]?.value ?? null;
  }
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/health") return new Response("ok");
    if (!url.pathname.startsWith("/kv/")) return new Response("not found", { status: 404 });
    const key = url.pathname.slice("/kv/".length);
    const kv = env.KV.get(env.KV.idFromName("kv"));
    if (request.method === "PUT") {
      await kv.put(key, await request.arrayBuffer());
      return new Response(null, { status: 204 });
    }
    if (request.method === "GET") {
      const value = await kv.get(key);
      return value === null ? new Response("no such key", { status: 404 }) : new Response(value);
    }
    return new Response("method not allowed", { status: 405 });
  },
} satisfies ExportedHandler<Env>;
