// doozer-edge's client library. ESM, typed, and free of Node built-ins: it runs
// in Workers, browsers, Node >= 22, Deno and Bun.
//
//   import { connect } from "./client/index";
//   const doozer = connect("ws://127.0.0.1:8787");
//   const rev = await doozer.set("/app/color", 0, "blue");
//   for await (const e of doozer.watch("/app/**")) console.log(e.rev, e.path, e.value.text());

export type { BackoffOptions } from "./backoff";
export {
  type Binding,
  Client,
  type ClientOptions,
  type ClusterMember,
  type ConnectOptions,
  connect,
  type FileStat,
  type FileValue,
  type PageOptions,
  type ReadOptions,
  type TxnCheck,
  type TxnOp,
  type TxnResult,
  type WalkedFile,
} from "./client";
export * from "./errors";
export { type Config, config, electLeader, type Leadership, type Lock, lock } from "./recipes";
export { type DoozerRpc, errorFromRpc } from "./rpc-transport";
export { Session, type SessionOptions } from "./session";
export { Value } from "./value";
export { Watch, type WatchEvent } from "./watch";
