import type { ClusterVars } from "../core/cluster-config";
import type { SecretVars } from "../server/auth";
import type { AcceptorObject } from "./acceptor-object";

/** What an acceptor Durable Object is given: the cluster's variables, the secrets, and its peers' namespace. */
export interface AcceptorEnv extends ClusterVars, SecretVars {
  ACCEPTOR: DurableObjectNamespace<AcceptorObject>;
  /** "1": learn the data centre this object runs in (acceptors/placement.ts); deployed Workers only. */
  DOOZER_PLACEMENT_PROBE?: string;
}
