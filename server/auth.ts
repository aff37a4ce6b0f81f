// Bearer tokens against the read-write and read-only secrets (SPEC §2),
// compared in constant time: both sides are hashed first, so neither the
// content nor the length of a secret shows in the time a comparison takes.
//
// Each secret holds one or more tokens, comma-separated, all valid at once, so
// that an old and a new token overlap while clients move to the new one
// (docs/DEPLOY.md, "Rotating a token"). A token is compared with every token
// of both secrets, whatever matched first: the time taken depends on how many
// tokens there are, never on which one matched or how much of it.
//
// Secure by default: a production Worker (DOOZER_ENV = "production") without
// DOOZER_RWSECRET refuses every request but /v1/health, unless DOOZER_OPEN = "1"
// says the open store is meant. Elsewhere (npm start, the tests) no read-write
// secret leaves the store open, and the Worker says so in its log.

import { CodedError } from "../core/errors";

export type Access = "read-write" | "read-only";

/**
 * - `open`: no read-write secret; anyone may read and write (local development, or DOOZER_OPEN = "1").
 * - `tokens`: the read-write (and maybe read-only) tokens below.
 * - `refused`: a production Worker with no read-write secret and no DOOZER_OPEN: nobody gets in.
 */
export type AuthMode = "open" | "tokens" | "refused";

/** The tokens; no read-write token leaves the store open (local development) or closed (production). */
export interface Secrets {
  mode: AuthMode;
  /** The read-write secret as set, only when it holds a token (mode `tokens`): tokens are asked for. */
  readWrite?: string | undefined;
  /** Every valid read-write token (empty unless mode is `tokens`). */
  readWriteTokens: string[];
  /** Every valid read-only token; none means reads need a read-write token. */
  readOnlyTokens: string[];
}

/** The variables the secrets come from (`wrangler secret put`) and the two switches beside them. */
export interface SecretVars {
  DOOZER_RWSECRET?: string | undefined;
  DOOZER_ROSECRET?: string | undefined;
  /** "production" in [env.production.vars]: a Worker with no DOOZER_RWSECRET is then closed. */
  DOOZER_ENV?: string | undefined;
  /** "1": a production Worker with no DOOZER_RWSECRET is open to anyone, on purpose. */
  DOOZER_OPEN?: string | undefined;
}

/** The message every request gets from a production Worker that has no read-write token. */
export const refusedMessage =
  "this production Worker has no DOOZER_RWSECRET, so it serves nobody: set it " +
  "(wrangler secret put DOOZER_RWSECRET --env production), or set DOOZER_OPEN = " +
  '"1" in [env.production.vars] to run an open store on purpose';

/** Splits a secret into its tokens: comma-separated, spaces around each ignored, empty entries dropped. */
export function tokenList(secret: string | undefined): string[] {
  if (secret === undefined) return [];
  return secret
    .split(",")
    .map((token) => token.trim())
    .filter((token) => token !== "");
}

const cache = new WeakMap<SecretVars, Secrets>();

export function secretsFrom(vars: SecretVars): Secrets {
  const known = cache.get(vars);
  if (known) return known;
  const readWrite = tokenList(vars.DOOZER_RWSECRET);
  const readOnly = tokenList(vars.DOOZER_ROSECRET);
  let mode: AuthMode = "tokens";
  if (readWrite.length === 0) {
    const production = vars.DOOZER_ENV === "production";
    mode = production && vars.DOOZER_OPEN !== "1" ? "refused" : "open";
  }
  const secrets: Secrets =
    mode === "tokens"
      ? { mode, readWrite: vars.DOOZER_RWSECRET, readWriteTokens: readWrite, readOnlyTokens: readOnly }
      : { mode, readWriteTokens: [], readOnlyTokens: readOnly };
  cache.set(vars, secrets);
  return secrets;
}

/** Whether a request with no token at all is let in (an open store). */
export function isOpen(secrets: Secrets): boolean {
  return secrets.mode === "open";
}

export async function authorize(request: Request, secrets: Secrets): Promise<Access> {
  return accessFor(bearer(request), secrets);
}

/** The token of an `Authorization: Bearer <token>` header. */
export function bearer(request: Request): string | undefined {
  const header = request.headers.get("Authorization") ?? "";
  return header.startsWith("Bearer ") ? header.slice("Bearer ".length) : undefined;
}

/** The access a token gives; UNAUTHORIZED for none or a wrong one. Shared with the WebSocket ACCESS verb. */
export async function accessFor(token: string | undefined, secrets: Secrets): Promise<Access> {
  if (secrets.mode === "open") return "read-write";
  if (secrets.mode === "refused") throw new CodedError("UNAUTHORIZED", refusedMessage);
  if (token !== undefined) {
    const given = await digest(token);
    // Every comparison runs, whichever matched: no early exit.
    const [rw, ro] = await Promise.all([
      matchesAny(given, secrets.readWriteTokens),
      matchesAny(given, secrets.readOnlyTokens),
    ]);
    if (rw) return "read-write";
    if (ro) return "read-only";
  }
  throw new CodedError(
    "UNAUTHORIZED",
    token === undefined ? "a token is required (Authorization: Bearer <token>)" : "wrong token",
  );
}

export function requireWrite(access: Access): void {
  if (access !== "read-write") throw new CodedError("READONLY", "this token may only read");
}

const encoder = new TextEncoder();

async function digest(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
}

/** True when `given` (a digest) equals the digest of one of `tokens`; compares with all of them. */
async function matchesAny(given: Uint8Array, tokens: readonly string[]): Promise<boolean> {
  const digests = await Promise.all(tokens.map(digest));
  let matched = 0;
  for (const d of digests) {
    let difference = 0;
    for (let i = 0; i < given.length; i++) difference |= (given[i] ?? 0) ^ (d[i] ?? 0);
    matched |= difference === 0 ? 1 : 0;
  }
  return matched === 1;
}
