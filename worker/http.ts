// Turning results and errors into HTTP answers, in one place.

import { ClusterConfigError } from "../core/cluster-config";
import { CodedError, errorStatus } from "../core/errors";

/** What the request log says of an answer beside its status: the error code, the rev. */
export interface AnswerFacts {
  code?: string;
  rev?: number;
}

const facts = new WeakMap<Response, AnswerFacts>();

/** The code and rev of an answer made by `json` (or a file's Doozer-Store-Rev), for the request log. */
export function answerFacts(response: Response): AnswerFacts {
  const known = facts.get(response);
  if (known) return known;
  const storeRev = Number(response.headers.get("Doozer-Store-Rev") ?? Number.NaN);
  return Number.isSafeInteger(storeRev) ? { rev: storeRev } : {};
}

export function json(body: unknown, status = 200, headers: HeadersInit = {}): Response {
  const response = new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json; charset=utf-8", ...headers },
  });
  facts.set(response, factsOf(body));
  return response;
}

function factsOf(body: unknown): AnswerFacts {
  if (typeof body !== "object" || body === null) return {};
  const { error, rev } = body as { error?: { code?: unknown; storeRev?: unknown }; rev?: unknown };
  const out: AnswerFacts = {};
  if (typeof error?.code === "string") out.code = error.code;
  const known = typeof rev === "number" ? rev : error?.storeRev;
  if (typeof known === "number") out.rev = known;
  return out;
}

/**
 * Every error leaves the Worker here: a CodedError with its status; a refused
 * setting (core/cluster-config.ts) as 500 OTHER with its message and the
 * setting's name, for the operator; anything else a logged 500 OTHER.
 */
export function errorResponse(error: unknown): Response {
  if (error instanceof ClusterConfigError) {
    const message = `the Worker's configuration is refused: ${error.message}`;
    return json({ error: { code: "OTHER", message, setting: error.setting } }, 500);
  }
  if (error instanceof CodedError) {
    const headers: Record<string, string> = {};
    if (error.code === "NOENT") {
      headers["Doozer-Rev"] = String(error.details.rev ?? 0);
      if (error.details.storeRev !== undefined) headers["Doozer-Store-Rev"] = String(error.details.storeRev);
    }
    return json(error.toJSON(), errorStatus[error.code], headers);
  }
  console.error("doozer-edge: unexpected error", error);
  return json({ error: { code: "OTHER", message: "internal error (a bug, logged)" } }, 500);
}

/** Reads a body of at most `bytesMax` bytes, or fails with TOO_LARGE before reading more. */
export async function readBody(request: Request, bytesMax: number, what: string): Promise<Uint8Array> {
  const declared = Number(request.headers.get("Content-Length") ?? "0");
  if (declared > bytesMax)
    throw new CodedError("TOO_LARGE", `${what} is ${declared} bytes; the limit is ${bytesMax}`);
  if (!request.body) return new Uint8Array(0);
  // A declared length within the limit is read in one piece: the runtime then
  // allocates the body once instead of in many small chunks to be copied.
  if (request.headers.has("Content-Length")) return new Uint8Array(await request.arrayBuffer());
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > bytesMax) {
      await reader.cancel();
      throw new CodedError("TOO_LARGE", `${what} is over the limit of ${bytesMax} bytes`);
    }
    chunks.push(value);
  }
  const body = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    body.set(chunk, at);
    at += chunk.byteLength;
  }
  return body;
}

export async function readJson(request: Request, bytesMax: number): Promise<unknown> {
  const body = await readBody(request, bytesMax, "the body");
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(body));
  } catch {
    throw new CodedError("BAD_REQUEST", "the body is not valid JSON");
  }
}
