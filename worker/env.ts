import type { AcceptorObject } from "../acceptors/acceptor-object";
import type { ClusterVars } from "../core/cluster-config";

export interface Env extends ClusterVars {
  ACCEPTOR: DurableObjectNamespace<AcceptorObject>;
  /** The viewer's files (dist/viewer), served at /. */
  ASSETS?: Fetcher;
  /** Read and write token; unset leaves the store open (local development). */
  DOOZER_RWSECRET?: string;
  /** Read-only token; unset means reads need the read-write token. */
  DOOZER_ROSECRET?: string;
}
