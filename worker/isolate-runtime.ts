// What one Worker isolate keeps between requests: a runtime (its proposer, with
// the ballot it holds, and its reader) over the ACCEPTOR binding. No I/O object
// is kept: stubs are made per call, as a stub belongs to the request that made it.

import { acceptorStub } from "../acceptors/acceptor-peers";
import { ClusterConfigError, parseClusterConfig } from "../core/cluster-config";
import { CodedError } from "../core/errors";
import { type Membership, membershipOf } from "../core/membership";
import { quorumOf } from "../core/quorum";
import { refusedMessage, secretsFrom } from "../server/auth";
import { logLine, logThrottled } from "../server/log";
import { newRuntime, type Runtime } from "../server/runtime";
import { withTimeout } from "../server/timing";
import type { Env } from "./env";
import { EnvPeers } from "./env-peers";

export interface IsolateRuntime extends Runtime {
  peers: EnvPeers;
  /** The membership this Worker counts (core/membership.ts). */
  membership: Membership;
  /** Set once a majority of acceptors stored this Worker's membership and none another. */
  membershipAgreed: boolean;
}

/** Keyed by env: the platform hands an isolate the same env on every request. */
const runtimes = new WeakMap<Env, IsolateRuntime>();

/** `trusted`: the service-binding entrypoint's env, open by design, so not worth a warning. */
export function runtimeFor(env: Env, trusted = false): IsolateRuntime {
  const existing = runtimes.get(env);
  if (existing) return existing;
  let config: ReturnType<typeof parseClusterConfig>;
  try {
    config = parseClusterConfig(env);
  } catch (error) {
    if (error instanceof ClusterConfigError) {
      logThrottled(`config:${error.message}`, 60_000, "error", "config-refused", {
        setting: error.setting,
        message: error.message,
      });
    }
    throw error;
  }
  const peers = new EnvPeers(env, config);
  const runtime: IsolateRuntime = {
    ...newRuntime({ config, peers }),
    peers,
    membership: membershipOf(config),
    membershipAgreed: false,
  };
  runtimes.set(env, runtime);
  const mode = secretsFrom(env).mode;
  if (mode === "open" && !trusted) {
    logLine("warn", "auth-open", {
      message:
        env.DOOZER_ENV === "production"
          ? "DOOZER_RWSECRET is unset and DOOZER_OPEN is 1: the store is open to anyone, on purpose"
          : "DOOZER_RWSECRET is unset, so the store is open to anyone (local development only)",
    });
  } else if (mode === "refused") {
    logLine("error", "auth-refused", { message: refusedMessage });
  }
  return runtime;
}

/** What one acceptor says of the membership it stored, or why it could not be asked. */
export interface MembershipProblem {
  id: string;
  message: string;
}

interface StoredAnswer {
  stored: Membership;
  refusal?: string;
}

/**
 * Asks every acceptor which membership it stored (at most the RPC timeout),
 * and lists those that refuse or stored another than this Worker's. Records
 * agreement in the runtime once a majority answered alike and none otherwise:
 * the acceptors store their membership only once, so the answer holds for the isolate's life.
 */
export async function membershipProblems(env: Env, runtime: IsolateRuntime): Promise<MembershipProblem[]> {
  const { config, membership } = runtime;
  const answers = await Promise.all(
    config.acceptors.map(async ({ name }) => {
      try {
        const stub = acceptorStub(env.ACCEPTOR, config, name) as unknown as {
          membership(): Promise<StoredAnswer>;
        };
        return await withTimeout(stub.membership(), config.rpcTimeoutMs);
      } catch {
        return undefined; // Unreachable: neither agreement nor a problem.
      }
    }),
  );
  const problems: MembershipProblem[] = [];
  let agreeing = 0;
  answers.forEach((answer, i) => {
    const id = config.acceptors[i]?.name ?? "";
    if (answer === undefined) return;
    if (answer.refusal) problems.push({ id, message: answer.refusal });
    else if (answer.stored.fingerprint !== membership.fingerprint) {
      problems.push({
        id,
        message: `membership: ${id} stored a cluster of ${answer.stored.acceptors.length} acceptors, and this Worker is configured for ${membership.acceptors.length} (DOOZER_ACCEPTORS); it refuses to serve, as majorities of the two would not intersect (docs/PROTOCOL.md, "Membership")`,
      });
    } else agreeing++;
  });
  if (problems.length === 0 && agreeing >= quorumOf(config.acceptors.length)) runtime.membershipAgreed = true;
  return problems;
}

/** Refuses the request (NO_QUORUM, with the reason) when the acceptors stored another membership. */
export async function requireMembership(env: Env, runtime: IsolateRuntime): Promise<void> {
  if (runtime.membershipAgreed) return;
  const problems = await membershipProblems(env, runtime);
  if (problems.length === 0) return;
  logThrottled("membership", 10_000, "error", "membership-refused", { problems });
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more acceptors alike)` : "";
  throw new CodedError("NO_QUORUM", `${problems[0]?.message}${more}`);
}
