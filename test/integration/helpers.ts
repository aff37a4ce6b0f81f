import { SELF } from "cloudflare:test";
import { expect } from "vitest";

export const base = "http://doozer.test";

export function api(path: string, init?: RequestInit): Promise<Response> {
  return SELF.fetch(`${base}${path}`, init);
}

export async function put(path: string, rev: number | string, value: string | Uint8Array): Promise<Response> {
  return api(`/v1/files${path}?rev=${rev}`, { method: "PUT", body: value });
}

export async function del(path: string, rev: number | string): Promise<Response> {
  return api(`/v1/files${path}?rev=${rev}`, { method: "DELETE" });
}

export async function json<T = Record<string, unknown>>(response: Response): Promise<T> {
  return (await response.json()) as T;
}

/** The error code of a failed answer, checking that the status matches it. */
export async function errorOf(
  response: Response,
): Promise<{ status: number; code: string; body: Record<string, unknown> }> {
  const body = (await response.json()) as { error: Record<string, unknown> };
  return { status: response.status, code: String(body.error.code), body: body.error };
}

export async function setFault(
  acceptor: string,
  mode: string,
  extra: Record<string, unknown> = {},
): Promise<void> {
  const response = await api("/v1/faults", {
    method: "POST",
    body: JSON.stringify({ acceptor, mode, ...extra }),
  });
  if (response.status !== 200)
    throw new Error(`fault switch answered ${response.status}: ${await response.text()}`);
}

export async function healAll(): Promise<void> {
  await setFault("*", "ok");
}

let counter = 0;
/** A path no other test uses, so tests share one cluster without meeting. */
export function freshPath(name = "f"): string {
  counter++;
  return `/t${Date.now().toString(36)}${counter}/${name}`;
}

export async function storeRev(): Promise<number> {
  return (await json<{ rev: number }>(await api("/v1/rev"))).rev;
}

/** A file's value as text (the body is raw bytes, so Response.text() would warn). */
export async function text(response: Response): Promise<string> {
  return new TextDecoder().decode(await response.arrayBuffer());
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A PUT that must succeed; its new rev. */
export async function write(path: string, value = "v", rev: number | string = -1): Promise<number> {
  const response = await put(path, rev, value);
  expect(response.status).toBe(200);
  return (await json<{ rev: number }>(response)).rev;
}

/** Polls `check` until it holds, or fails naming `what` after `ms`. */
export async function until(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check() && Date.now() < deadline) await sleep(5);
  if (!check()) throw new Error(`timed out waiting for ${what}`);
}

/** A frame of the WebSocket protocol (SPEC §3), as JSON. */
export type Frame = Record<string, unknown>;

/**
 * A WebSocket to the Worker's /v1/ws: every frame it receives is kept
 * (`pong` counted apart), and `ask` sends a request with a fresh id and waits
 * for its answer (not an event of a watch with that id).
 */
export async function openSocket() {
  const response = await SELF.fetch(`${base}/v1/ws`, { headers: { Upgrade: "websocket" } });
  expect(response.status).toBe(101);
  const ws = response.webSocket as WebSocket;
  ws.accept();
  const frames: Frame[] = [];
  let pongs = 0;
  let closeCode: number | undefined;
  ws.addEventListener("message", (e) => {
    const data = String(e.data);
    if (data === "pong") pongs++;
    else frames.push(JSON.parse(data) as Frame);
  });
  ws.addEventListener("close", (e) => {
    closeCode = e.code;
  });
  let next = 1;
  const answerTo = (id: number) => frames.find((f) => f.id === id && !("event" in f));
  /** The answer to `frame`, or undefined if the socket closed first. */
  const answerOrClose = async (frame: Frame, ms = 5000): Promise<Frame | undefined> => {
    const id = next++;
    ws.send(JSON.stringify({ id, ...frame }));
    await until(
      () => closeCode !== undefined || answerTo(id) !== undefined,
      `an answer to ${String(frame.verb)}`,
      ms,
    );
    return answerTo(id);
  };
  /** The answer to `frame`; the socket closing first fails the test. */
  const ask = async (frame: Frame, ms = 5000): Promise<Frame> => {
    const answer = await answerOrClose(frame, ms);
    if (answer === undefined)
      throw new Error(`the socket closed (${closeCode}) before answering ${String(frame.verb)}`);
    return answer;
  };
  const ping = async (): Promise<void> => {
    const before = pongs;
    ws.send("ping");
    await until(() => pongs > before, "pong");
  };
  const events = (watch: number) =>
    frames.filter((f) => f.id === watch && "event" in f).map((f) => f.event as Frame);
  return {
    ws,
    frames,
    ask,
    answerOrClose,
    ping,
    events,
    isClosed: () => closeCode !== undefined,
    closeCode: () => closeCode,
    nextId: () => next,
  };
}
