// Turning results and errors into HTTP answers, in one place.

import { DoozerError, errorStatus } from "../core/errors";

export function json(body: unknown, status = 200, headers: HeadersInit = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json; charset=utf-8", ...headers },
  });
}

/** Every error leaves the Worker here: a DoozerError with its status, anything else a logged 500 OTHER. */
export function errorResponse(error: unknown): Response {
  if (error instanceof DoozerError) {
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
    throw new DoozerError("TOO_LARGE", `${what} is ${declared} bytes; the limit is ${bytesMax}`);
  if (!request.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > bytesMax) {
      await reader.cancel();
      throw new DoozerError("TOO_LARGE", `${what} is over the limit of ${bytesMax} bytes`);
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
    throw new DoozerError("BAD_REQUEST", "the body is not valid JSON");
  }
}
