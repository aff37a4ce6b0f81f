import type { AcceptorEnv } from "../acceptors/acceptor-env";

/** The Worker's bindings: the acceptors' (with the same variables and secrets) and the viewer's files. */
export interface Env extends AcceptorEnv {
  /** The viewer's files (dist/viewer), served at /. */
  ASSETS?: Fetcher;
}
