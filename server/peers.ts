// How the server layer reaches an acceptor, whoever hosts it: the Worker hands
// out Durable Object stubs, an acceptor hands out stubs for its peers and
// itself, in process, for its own name.

import type { AcceptorRpc } from "./acceptor-rpc";

export interface Peers {
  /** The acceptor named `name`. A fresh handle per call: a stub belongs to the request that made it. */
  peer(name: string): AcceptorRpc;
  /** A call made through `handle` got no answer in `ms`: the caller gave up on it (for the logs). */
  unanswered?(handle: AcceptorRpc, ms: number): void;
}
