// A DevTools-protocol session with the isolate that runs the Worker and its
// Durable Objects. The bench reads the heap and takes CPU profiles through it.
//
// It goes through wrangler dev's inspector proxy (served by the proxy workerd),
// not the runtime workerd's own inspector: wrangler holds the runtime's one
// session for the isolate, and a second one is accepted but never answered.
// The proxy lets one client in at a time, and only with a local Origin.

import type { Watched } from "./cpu";
import { listeningPorts } from "./wrangler-dev";

interface InspectorTarget {
  id: string;
  title: string;
  webSocketDebuggerUrl: string;
}

export interface Inspector {
  call<T = Record<string, unknown>>(method: string, params?: Record<string, unknown>): Promise<T>;
  /** Calls `handler` with the params of every event named `method` from now on. */
  on(method: string, handler: (params: Record<string, unknown>) => void): void;
  close(): void;
}

/**
 * Connects to the Worker of a `wrangler dev` whose processes are `processes`;
 * undefined if its inspector proxy lists no Worker. workerd dispatches the
 * inspector's messages only while the isolate runs a request, so an idle one
 * would never answer: `poke` sends it a request, every 100 ms while a call waits.
 */
export async function connectInspector(
  processes: Watched[],
  poke: () => Promise<unknown>,
): Promise<Inspector | undefined> {
  for (const { pid } of processes.filter((p) => p.role === "workerd (proxy)")) {
    for (const port of listeningPorts(pid)) {
      let targets: InspectorTarget[];
      try {
        const response = await fetch(`http://127.0.0.1:${port}/json`, { signal: AbortSignal.timeout(2_000) });
        if (!response.ok) continue;
        targets = (await response.json()) as InspectorTarget[];
      } catch {
        continue;
      }
      // One Worker per config here, so wrangler lists one target, titled "Cloudflare Worker".
      const target = targets.find((t) => t.title === "Cloudflare Worker");
      if (target) return await open(target.webSocketDebuggerUrl, poke);
    }
  }
  return undefined;
}

async function open(url: string, poke: () => Promise<unknown>): Promise<Inspector> {
  // Node's WebSocket takes headers as an extension of the standard constructor.
  const socket = new WebSocket(url, { headers: { Origin: "http://localhost" } } as unknown as string[]);
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
  await call("Runtime.enable");
  return { call, on: (method, handler) => handlers.set(method, handler), close: () => socket.close() };
}
