import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

// The pure core and its simulator run in plain Node, where thousands of seeds
// run fast. The adapters run inside workerd against the real Durable Objects:
// once as the local cluster is configured, once as a deployment is.
/**
 * The Worker logs one JSON line per request (docs/DEPLOY.md); in the workerd
 * projects that is thousands of lines. They are left out of the test output
 * (test/integration/logs.test.ts still reads them through a spy).
 */
const quietRequestLines = (log: string) => (log.includes('"event":"request"') ? false : undefined);

export default defineConfig({
  test: {
    onConsoleLog: quietRequestLines,
    projects: [
      {
        test: {
          name: "core",
          include: [
            "test/core/**/*.test.ts",
            "test/sim/**/*.test.ts",
            "test/lin/**/*.test.ts",
            "test/client/**/*.test.ts",
          ],
          environment: "node",
        },
      },
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            // Short timeouts, so that the NO_QUORUM tests answer quickly.
            miniflare: { bindings: { DOOZER_WRITE_TIMEOUT_MS: "1500", DOOZER_RPC_TIMEOUT_MS: "500" } },
          }),
        ],
        test: {
          name: "workers",

          include: ["test/integration/**/*.test.ts"],
          // Run in their own projects below: a log trimmed after a few slots; a leader that moves quickly.
          exclude: ["test/integration/state-transfer.test.ts", "test/integration/leader-follows.test.ts"],
          testTimeout: 30_000,
        },
      },
      {
        // The cluster with a log kept only a few slots deep, so that an acceptor that was
        // down catches up by state transfer (test/integration/state-transfer.test.ts).
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                DOOZER_WRITE_TIMEOUT_MS: "1500",
                DOOZER_RPC_TIMEOUT_MS: "500",
                DOOZER_LOG_SLOTS_KEPT: "16",
              },
            },
          }),
        ],
        test: {
          name: "transfer",

          include: ["test/integration/state-transfer.test.ts"],
          testTimeout: 90_000,
        },
      },
      {
        // The leader follows the writers after a window of 10 writes and a tenure of 300 ms (not 50 and 10 s),
        // so that test/integration/leader-follows.test.ts moves it in a few writes.
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                DOOZER_WRITE_TIMEOUT_MS: "1500",
                DOOZER_RPC_TIMEOUT_MS: "500",
                DOOZER_LEADER_WINDOW_WRITES: "10",
                DOOZER_LEADER_TERM_MS: "300",
              },
            },
          }),
        ],
        test: {
          name: "leader",

          include: ["test/integration/leader-follows.test.ts"],
          testTimeout: 60_000,
        },
      },
      {
        // The cluster with a small store size limit, so NOSPACE (SPEC §8) is reachable.
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: { bindings: { DOOZER_STORE_BYTES_MAX: String(4 * 1024 * 1024) } },
          }),
        ],
        test: {
          name: "limits",

          include: ["test/limits/**/*.test.ts"],
          testTimeout: 60_000,
        },
      },
      {
        // The whole cluster with both secrets set, as an authenticated deployment runs.
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              // Two tokens each, as during a rotation (test/auth/rotation.test.ts).
              bindings: {
                DOOZER_RWSECRET: "rw-secret-for-tests, rw-secret-next",
                DOOZER_ROSECRET: "ro-secret-for-tests,ro-secret-next,",
              },
            },
          }),
        ],
        test: {
          name: "auth",

          include: ["test/auth/**/*.test.ts"],
          testTimeout: 30_000,
        },
      },
      {
        // The local cluster as `npm start` runs it (wrangler dev), driven over real HTTP.
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          environment: "node",
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        // The web viewer in headless Chromium (Debian's, driven by playwright-core) against wrangler dev.
        test: {
          name: "browser",
          include: ["test/browser/**/*.test.ts"],
          environment: "node",
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml", environment: "production" },
            // Tests reach loopback only: no probe of where the acceptors run (acceptors/placement.ts).
            miniflare: { bindings: { DOOZER_PLACEMENT_PROBE: "0" } },
          }),
        ],
        test: {
          name: "production",

          include: ["test/production/**/*.test.ts"],
          testTimeout: 30_000,
        },
      },
    ],
  },
});
