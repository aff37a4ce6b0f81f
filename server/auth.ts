// Bearer tokens against the read-write and read-only secrets (SPEC §2),
// compared in constant time: both sides are hashed first, so neither the
// content nor the length of a secret shows in the time a comparison takes.

import { DoozerError } from "../core/errors";

export type Access = "read-write" | "read-only";

/** The two tokens; no read-write secret leaves the store open (local development). */
export interface Secrets {
  readWrite?: string | undefined;
  /** Unset means reads need the read-write token. */
  readOnly?: string | undefined;
}

/** The variables the secrets come from (`wrangler secret put`). */
export interface SecretVars {
  DOOZER_RWSECRET?: string | undefined;
  DOOZER_ROSECRET?: string | undefined;
}

export function secretsFrom(vars: SecretVars): Secrets {
  return { readWrite: vars.DOOZER_RWSECRET, readOnly: vars.DOOZER_ROSECRET };
}

export async function authorize(request: Request, secrets: Secrets): Promise<Access> {
  if (!secrets.readWrite) return "read-write";
  return accessFor(bearer(request), secrets);
}

/** The token of an `Authorization: Bearer <token>` header. */
export function bearer(request: Request): string | undefined {
  const header = request.headers.get("Authorization") ?? "";
  return header.startsWith("Bearer ") ? header.slice("Bearer ".length) : undefined;
}

/** The access a token gives; UNAUTHORIZED for none or a wrong one. Shared with the WebSocket ACCESS verb. */
export async function accessFor(token: string | undefined, secrets: Secrets): Promise<Access> {
  if (!secrets.readWrite) return "read-write";
  if (token !== undefined) {
    if (await sameSecret(token, secrets.readWrite)) return "read-write";
    if (secrets.readOnly && (await sameSecret(token, secrets.readOnly))) return "read-only";
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
