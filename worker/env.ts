import type { AcceptorEnv } from "../acceptors/acceptor-env";

/** The Worker's bindings: the acceptors' (with the same variables and secrets) and the viewer's files. */
export interface Env extends AcceptorEnv {
  /** The viewer's files (dist/viewer), served at /. */
  ASSETS?: Fetcher;
  /**
   * "0": no log line per request (notable events are still logged). Locally each
   * line crosses to wrangler's Node process, which then costs more CPU than the
   * request did; the benchmarks turn it off, as they turn off wrangler's own.
   */
  DOOZER_REQUEST_LOG?: string;
}
