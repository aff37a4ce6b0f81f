// A service binding to doozer-edge's `DoozerService` entrypoint: its typed RPC
// methods (worker/service.ts) when the binding has them, its `fetch` (the HTTP
// API) otherwise. Which one is decided once, by asking `rpcVersion()`: an RPC
// stub answers any method name, so only a call tells. Sessions and their
// keepalives come from HttpTransport, over whichever of the two is in use; a
// watch is the entrypoint's stream of events, resumed at the last rev + 1.

import { base64ToBytes } from "../core/value-encoding";
import { backoffDelay, defaultBackoff, sleep } from "./backoff";
import { ConnectionError, DoozerError, errorFromAnswer, isRetryable } from "./errors";
import { type FetchLike, HttpTransport } from "./http-transport";
import {
  type Answer,
  type Call,
  type CallArgs,
  type Subscription,
  sessionField,
  type WatchSink,
  type WireItem,
} from "./transport";

type Options = Record<string, string | number | boolean | undefined>;

/** The RPC surface of the `DoozerService` entrypoint, as the client uses it (loosely typed on purpose). */
export interface DoozerRpc {
  rpcVersion(): Promise<number>;
  rev(options?: Options): Promise<Answer>;
  get(path: string, options?: Options): Promise<Answer>;
  set(path: string, rev: number, value: string | Uint8Array, options?: Options): Promise<Answer>;
  del(path: string, rev: number, options?: Options): Promise<Answer>;
  nop(options?: Options): Promise<Answer>;
  getdir(path: string, options?: Options): Promise<Answer>;
  stat(path: string, options?: Options): Promise<Answer>;
  walk(glob: string, options?: Options): Promise<Answer>;
  wait(glob: string, rev: number, options?: Options): Promise<Answer | null>;
  watch(glob: string, options?: { from?: number }): Promise<ReadableStream<Uint8Array>>;
  openSession(options?: Options): Promise<Answer>;
  keepAlive(session: string): Promise<Answer>;
  endSession(session: string, options?: Options): Promise<Answer>;
  txn(body: { checks: WireItem[]; ops: WireItem[] }, options?: Options): Promise<Answer>;
}

/** Whether `target` may have the RPC methods (an RPC stub, or an object that has them). */
export function mayHaveRpc(target: object): boolean {
  return typeof (target as Partial<DoozerRpc>).rpcVersion === "function";
}

const rpcErrorPattern = /^\[([A-Z_]+)(?: (\{[^{}]*\}))?\] ([\s\S]*)$/;

/**
 * An error thrown by an RPC method, as the client's error classes: the entrypoint sends
 * `[CODE {details}] message` (RPC keeps an error's message only). Anything else (the
 * binding's connection broke) is a ConnectionError, which is retried.
 */
export function errorFromRpc(error: unknown): DoozerError {
  if (error instanceof DoozerError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const match = rpcErrorPattern.exec(message);
  if (!match) return new ConnectionError(`the service binding failed: ${message}`);
  let details: Record<string, unknown> = {};
  try {
    details = match[2] ? (JSON.parse(match[2]) as Record<string, unknown>) : {};
  } catch {
    // Not ours after all: keep the code and the message.
  }
  return errorFromAnswer({ ...details, code: match[1], message: match[3] });
}

export class BindingTransport extends HttpTransport {
  private mode: Promise<"rpc" | "fetch"> | undefined;
  private readonly rpcSinks = new Set<WatchSink>();
  private closedHere = false;

  constructor(
    private readonly binding: object,
    options: { token?: string; fetch: FetchLike },
  ) {
    super("http://doozer", options);
  }

  /** "rpc" once the binding answered rpcVersion(); "fetch" when it has no such method. */
  private usesRpc(): Promise<"rpc" | "fetch"> {
    this.mode ??= (async () => {
      if (!mayHaveRpc(this.binding)) return "fetch";
      try {
        const version = await (this.binding as DoozerRpc).rpcVersion();
        return typeof version === "number" && version >= 1 ? "rpc" : "fetch";
      } catch {
        return "fetch";
      }
    })();
    return this.mode;
  }

  override async call(call: Call): Promise<Answer> {
    if ((await this.usesRpc()) === "fetch") return super.call(call);
    if (this.closedHere) throw new ConnectionError("the client is closed");
    try {
      return await this.rpcCall(call);
    } catch (error) {
      throw errorFromRpc(error);
    }
  }

  private async rpcCall(call: Call): Promise<Answer> {
    const rpc = this.binding as DoozerRpc;
    const { verb, args } = call;
    const requestId = call.requestId;
    const path = String(args.path ?? "");
    const rev = Number(args.rev);
    switch (verb) {
      case "REV":
        return rpc.rev({ stale: flag(args.stale) });
      case "GET":
        return rpc.get(path, readOptions(args));
      case "SET": {
        const value = args.value instanceof Uint8Array ? args.value : String(args.value ?? "");
        return rpc.set(path, rev, value, { session: str(args.session), requestId });
      }
      case "DEL":
        return rpc.del(path, rev, { requestId });
      case "NOP":
        return rpc.nop({ requestId });
      case "GETDIR":
        return rpc.getdir(path, { ...readOptions(args), offset: num(args.offset), limit: num(args.limit) });
      case "STAT":
        return rpc.stat(path, readOptions(args));
      case "WALK":
        return rpc.walk(String(args.glob ?? ""), {
          ...readOptions(args),
          offset: num(args.offset),
          limit: num(args.limit),
        });
      case "WAIT": {
        const event = await rpc.wait(String(args.glob ?? ""), rev, {
          timeoutMs: num(args.timeout),
          stale: flag(args.stale),
        });
        return event ?? { timeout: true };
      }
      case "SESSION":
        // No socket to attach a session to: attaching is a keepalive.
        if (args.session !== undefined) return rpc.keepAlive(String(args.session));
        return rpc.openSession({ ttlMs: num(args.ttl), requestId });
      case "KEEPALIVE":
        return rpc.keepAlive(String(args.session));
      case "ENDSESSION":
        return rpc.endSession(String(args.session), { requestId });
      case "TXN":
        return rpc.txn(
          { checks: (args.checks ?? []) as WireItem[], ops: (args.ops ?? []) as WireItem[] },
          { requestId },
        );
    }
  }

  override watch(glob: string, fromRev: number, sink: WatchSink): Subscription {
    let cancelled = false;
    let inner: Subscription | undefined;
    let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
    const run = async () => {
      if ((await this.usesRpc()) === "fetch") {
        if (!cancelled) inner = super.watch(glob, fromRev, sink);
        return;
      }
      this.rpcSinks.add(sink);
      let next = fromRev;
      let failures = 0;
      try {
        while (!cancelled && !this.closedHere) {
          try {
            const stream = await (this.binding as DoozerRpc).watch(glob, { from: next });
            reader = stream.getReader();
            const decoder = new TextDecoder();
            let buffered = "";
            for (;;) {
              const { done, value } = await reader.read();
              if (done) break;
              buffered += decoder.decode(value, { stream: true });
              let end = buffered.indexOf("\n");
              while (end >= 0) {
                const item = JSON.parse(buffered.slice(0, end)) as Record<string, unknown>;
                buffered = buffered.slice(end + 1);
                end = buffered.indexOf("\n");
                if (item.error) throw errorFromAnswer(item.error as Record<string, unknown>);
                if (cancelled) return;
                const rev = Number(item.rev);
                sink.event({
                  path: String(item.path),
                  rev,
                  op: item.op === "del" ? "del" : "set",
                  value: base64ToBytes(String(item.value ?? "")),
                  ...sessionField(item),
                });
                next = rev + 1;
                failures = 0;
              }
            }
          } catch (error) {
            if (cancelled || this.closedHere) return;
            const failure = errorFromRpc(error);
            if (!isRetryable(failure)) {
              sink.end(failure);
              return;
            }
            await sleep(backoffDelay(failures++, defaultBackoff)).catch(() => undefined);
          }
        }
      } finally {
        this.rpcSinks.delete(sink);
      }
    };
    void run();
    return {
      cancel: () => {
        cancelled = true;
        inner?.cancel();
        reader?.cancel().catch(() => undefined);
      },
    };
  }

  override close(): void {
    this.closedHere = true;
    super.close();
    for (const sink of this.rpcSinks) sink.end(undefined);
    this.rpcSinks.clear();
  }
}

function readOptions(args: CallArgs): Options {
  return { rev: num(args.rev), stale: flag(args.stale), timeoutMs: num(args.timeout) };
}

function num(raw: unknown): number | undefined {
  return raw === undefined || raw === null ? undefined : Number(raw);
}

function str(raw: unknown): string | undefined {
  return raw === undefined || raw === null ? undefined : String(raw);
}

function flag(raw: unknown): boolean | undefined {
  return raw === undefined ? undefined : raw === true || raw === 1 || raw === "1" || raw === "true";
}
