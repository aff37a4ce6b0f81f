// The local cluster as a fixture of a vitest file.

import { afterAll, beforeAll } from "vitest";
import { type LocalCluster, startLocalCluster } from "./local-cluster";

/**
 * Starts a local cluster before the file's tests and stops it after them;
 * returns a getter for it (the cluster exists only once beforeAll has run).
 */
export function useLocalCluster(vars: Record<string, string> = {}): () => LocalCluster {
  let cluster: LocalCluster | undefined;
  beforeAll(async () => {
    cluster = await startLocalCluster(vars);
  }, 90_000);
  afterAll(async () => {
    await cluster?.stop();
  });
  return () => {
    if (!cluster) throw new Error("the local cluster is not started yet");
    return cluster;
  };
}
