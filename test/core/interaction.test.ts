// Scripted interactions of the real Paxos roles, the etcd-io/raft way: each
// file in test/core/interaction/ is a script of commands, each followed by the
// trace it must print (see cluster.ts for the commands). The scripts are the
// protocol's readable documentation; UPDATE=1 rewrites their expected output.

import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InteractionCluster } from "./interaction/cluster";
import { parseCases, rewrite } from "./interaction/datadriven";

const folder = join(import.meta.dirname, "interaction");
const scripts = readdirSync(folder).filter((f) => f.endsWith(".txt"));

describe("Paxos interactions", () => {
  it("has scripts", () => {
    expect(scripts.length).toBeGreaterThan(0);
  });

  for (const script of scripts) {
    it(script, () => {
      const path = join(folder, script);
      const text = readFileSync(path, "utf8");
      const cases = parseCases(text, script);
      const cluster = new InteractionCluster();
      const outputs = cases.map((c) => {
        try {
          return cluster.run(c.command);
        } catch (error) {
          throw new Error(`${script}:${c.line}: ${c.command}: ${(error as Error).message}`);
        }
      });
      const actual = rewrite(text, cases, outputs);
      if (process.env.UPDATE === "1") writeFileSync(path, actual);
      // The whole file at once, so a failure shows the diff in the script's own layout.
      else expect(actual).toBe(text);
    });
  }
});
