// A DevTools-protocol session with the isolate that runs the Worker and its
// Durable Objects, through the runtime workerd's inspector (wrangler dev
// starts it with --inspector-addr on a free port). The bench reads the heap
// and takes CPU profiles through it.

import { listeningPorts } from "./wrangler-dev";

interface InspectorTarget {
  id: string;
  webSocketDebuggerUrl: string;
}

export interface Inspector {
  call<T = Record<string, unknown>>(method: string, params?: Record<string, unknown>): Promise<T>;
  /** Calls `handler` with the params of every event named `method` from now on. */
  on(method: string, handler: (params: Record<string, unknown>) => void): void;
  close(): void;
}

/** Connects to `worker` (wrangler names it core:user:<name>) in the process `pid`; undefined if no inspector has it. */
/**
 * workerd serves its inspector only while the isolate runs a request, so an idle
 * one would never answer: `poke` sends it a request, every 100 ms while a call waits.
 */
export async function connectInspector(
  pid: number,
  worker: string,
  poke: () => Promise<unknown>,
): Promise<Inspector | undefined> {
  for (const port of listeningPorts(pid)) {
    let targets: InspectorTarget[];
    try {
      const response = await fetch(`http://127.0.0.1:${port}/json`, { signal: AbortSignal.timeout(2_000) });
      if (!response.ok) continue;
      targets = (await response.json()) as InspectorTarget[];
    } catch {
      continue;
    }
    const target = targets.find((t) => t.id === `core:user:${worker}`);
    if (target) return await open(target.webSocketDebuggerUrl, poke);
  }
  return undefined;
}

async function open(url: string, poke: () => Promise<unknown>): Promise<Inspector> {
  const socket = new WebSocket(url);
  socket.binaryType = "arraybuffer";
  const replies = new Map<number, (message: { result?: unknown; error?: { message: string } }) => void>();
  const handlers = new Map<string, (params: Record<string, unknown>) => void>();
  socket.addEventListener("message", (event) => {
    const text =
      typeof event.data === "string" ? event.data : new TextDecoder().decode(event.data as ArrayBuffer);
    const message = JSON.parse(text) as {
      id?: number;
      method?: string;
      params?: Record<string, unknown>;
      result?: unknown;
      error?: { message: string };
    };
    if (message.id !== undefined) replies.get(message.id)?.(message);
    else if (message.method !== undefined) handlers.get(message.method)?.(message.params ?? {});
  });
  await new Promise((resolve, reject) => {
    socket.addEventListener("open", resolve);
    socket.addEventListener("error", () => reject(new Error(`inspector ${url} refused the connection`)));
  });
  let lastId = 0;
  const call = <T>(method: string, params: Record<string, unknown> = {}) =>
    new Promise<T>((resolve, reject) => {
      const id = ++lastId;
      const timer = setTimeout(() => {
        clearInterval(poking);
        reject(new Error(`inspector: no answer to ${method}`));
      }, 60_000);
      const poking = setInterval(() => void poke().catch(() => undefined), 100);
      replies.set(id, (message) => {
        clearTimeout(timer);
        clearInterval(poking);
        replies.delete(id);
        if (message.error) reject(new Error(`inspector: ${method}: ${message.error.message}`));
        else resolve(message.result as T);
      });
      socket.send(JSON.stringify({ id, method, params }));
    });
  // workerd's inspector answers nothing before Runtime.enable; disabled again, it stops
  // sending every console line (one per request here), which would cost CPU under load.
  await call("Runtime.enable");
  await call("Runtime.disable");
  return { call, on: (method, handler) => handlers.set(method, handler), close: () => socket.close() };
}
