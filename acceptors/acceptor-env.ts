import type { ClusterVars } from "../core/cluster-config";
import type { SecretVars } from "../server/auth";
import type { AcceptorObject } from "./acceptor-object";

/** What an acceptor Durable Object is given: the cluster's variables, the secrets, and its peers' namespace. */
export interface AcceptorEnv extends ClusterVars, SecretVars {
  ACCEPTOR: DurableObjectNamespace<AcceptorObject>;
}
