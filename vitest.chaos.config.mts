import path from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// The chaos test alone (`npm run test:chaos`); the integration project of vitest.config.mts excludes it.
const pkgs = ["common", "events", "clickhouse", "kafka", "catalog", "testing"];
const root = path.dirname(fileURLToPath(import.meta.url));
const alias = Object.fromEntries(pkgs.map((p) => [`@aff/${p}`, path.resolve(root, `packages/${p}/src/index.ts`)]));

export default defineConfig({
  resolve: { alias },
  test: {
    name: "chaos",
    include: ["test/e2e/chaos.test.ts"],
    environment: "node",
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 14 * 60_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
