import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

// Two projects: the pure core (and its simulator) in plain Node, where thousands
// of seeds run fast; the adapters inside workerd against the real Durable Objects.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "core",
          include: ["test/core/**/*.test.ts", "test/sim/**/*.test.ts"],
          environment: "node",
        },
      },
      {
        plugins: [cloudflareTest({ wrangler: { configPath: "./wrangler.test.toml" } })],
        test: {
          name: "workers",
          include: ["test/integration/**/*.test.ts"],
        },
      },
    ],
  },
});
