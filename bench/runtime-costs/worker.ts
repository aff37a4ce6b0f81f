// The pieces of a doozer-edge write, each alone (bench/runtime-costs.ts). Five
// SQLite-backed objects stand for the five acceptors; every path below is one
// HTTP request into the Worker:
//   /http          answered by the Worker itself
//   /rpc           one RPC to an object that does nothing
//   /rpc-bytes     the same, carrying a 100-byte message and answering a small object
//   /fanout        five such RPCs at once, one to each object
//   /commit        one RPC whose object writes a row: one SQLite commit
//   /statements    one RPC whose object runs 16 statements (8 reads, 8 writes) in one commit,
//                  as many as a replica's apply of a one-write slot
//   /accept-round  one RPC to member 0, which writes a row and asks the four others to write one
//   /leader-write  what one write costs on the leader route with one writer: an RPC to the
//                  leader, whose accept round (its own row and four peers') is followed by a
//                  commit round (its own row and four peers'): 9 RPCs, 10 commits

import { DurableObject } from "cloudflare:workers";

interface Env {
  MEMBERS: DurableObjectNamespace<Member>;
}

interface Message {
  slot: number;
  bytes: Uint8Array;
}

const members = 5;

export class Member extends DurableObject<Env> {
  private slot = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS log (slot INTEGER PRIMARY KEY, bytes BLOB NOT NULL)");
  }

  noop(): void {}

  take(message: Message): { slot: number; ok: boolean } {
    return { slot: message.slot, ok: message.bytes.length > 0 };
  }

  /** One row, so one SQLite commit when this call's turn ends. */
  write(message: Message): { slot: number } {
    this.ctx.storage.sql.exec(
      "INSERT OR REPLACE INTO log (slot, bytes) VALUES (?, ?)",
      message.slot,
      message.bytes,
    );
    return { slot: message.slot };
  }

  /** Sixteen statements in one commit: a point read and a write, eight times over. */
  statements(message: Message): { slot: number } {
    const sql = this.ctx.storage.sql;
    for (let i = 0; i < 8; i++) {
      const key = message.slot * 8 + i;
      sql.exec("SELECT bytes FROM log WHERE slot = ?", key - 8).toArray();
      sql.exec("INSERT OR REPLACE INTO log (slot, bytes) VALUES (?, ?)", key, message.bytes);
    }
    return { slot: message.slot };
  }

  async acceptRound(bytes: Uint8Array): Promise<number> {
    const slot = ++this.slot;
    this.write({ slot, bytes });
    await Promise.all(peers(this.env).map((peer) => peer.write({ slot, bytes })));
    return slot;
  }

  async leaderWrite(bytes: Uint8Array): Promise<number> {
    const slot = await this.acceptRound(bytes);
    // The commit round: the leader applies the value and tells the others it was chosen.
    this.write({ slot: -slot, bytes });
    await Promise.all(peers(this.env).map((peer) => peer.write({ slot: -slot, bytes })));
    return slot;
  }
}

function member(env: Env, i: number): DurableObjectStub<Member> {
  return env.MEMBERS.get(env.MEMBERS.idFromName(`member-${i}`));
}

function peers(env: Env): DurableObjectStub<Member>[] {
  return Array.from({ length: members - 1 }, (_, i) => member(env, i + 1));
}

const payload = new Uint8Array(100).fill(7);
let requests = 0;

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const path = new URL(request.url).pathname;
    const slot = ++requests;
    switch (path) {
      case "/http":
        return new Response("ok");
      case "/rpc":
        await member(env, 0).noop();
        return new Response("ok");
      case "/rpc-bytes":
        return Response.json(await member(env, 0).take({ slot, bytes: payload }));
      case "/fanout":
        await Promise.all(Array.from({ length: members }, (_, i) => member(env, i).noop()));
        return new Response("ok");
      case "/commit":
        return Response.json(await member(env, 0).write({ slot, bytes: payload }));
      case "/statements":
        return Response.json(await member(env, 0).statements({ slot, bytes: payload }));
      case "/accept-round":
        return Response.json(await member(env, 0).acceptRound(payload));
      case "/leader-write":
        return Response.json(await member(env, 0).leaderWrite(payload));
      default:
        return new Response("not found", { status: 404 });
    }
  },
};
