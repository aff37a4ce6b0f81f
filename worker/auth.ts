// Bearer tokens against DOOZER_RWSECRET and DOOZER_ROSECRET (SPEC §2),
// compared in constant time: both sides are hashed first, so neither the
// content nor the length of a secret shows in the time a comparison takes.

import { DoozerError } from "../core/errors";
import type { Env } from "./env";

export type Access = "read-write" | "read-only";

export async function authorize(request: Request, env: Env): Promise<Access> {
  if (!env.DOOZER_RWSECRET) return "read-write";
  return accessFor(bearer(request), env);
}

/** The token of an `Authorization: Bearer <token>` header. */
export function bearer(request: Request): string | undefined {
  const header = request.headers.get("Authorization") ?? "";
  return header.startsWith("Bearer ") ? header.slice("Bearer ".length) : undefined;
}

/** The access a token gives; UNAUTHORIZED for none or a wrong one. Shared with the WebSocket ACCESS verb. */
export async function accessFor(token: string | undefined, env: Env): Promise<Access> {
  if (!env.DOOZER_RWSECRET) return "read-write";
  if (token !== undefined) {
    if (await sameSecret(token, env.DOOZER_RWSECRET)) return "read-write";
    if (env.DOOZER_ROSECRET && (await sameSecret(token, env.DOOZER_ROSECRET))) return "read-only";
  }
  throw new DoozerError(
    "UNAUTHORIZED",
    token === undefined ? "a token is required (Authorization: Bearer <token>)" : "wrong token",
  );
}

export function requireWrite(access: Access): void {
  if (access !== "read-write") throw new DoozerError("READONLY", "this token may only read");
}

const encoder = new TextEncoder();

async function sameSecret(given: string, secret: string): Promise<boolean> {
  const [a, b] = await Promise.all([
    crypto.subtle.digest("SHA-256", encoder.encode(given)),
    crypto.subtle.digest("SHA-256", encoder.encode(secret)),
  ]);
  const x = new Uint8Array(a);
  const y = new Uint8Array(b);
  let difference = 0;
  for (let i = 0; i < x.length; i++) difference |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return difference === 0;
}
