import path from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const pkgs = ["common", "events", "clickhouse", "kafka", "catalog", "testing"];
const root = path.dirname(fileURLToPath(import.meta.url));
const alias = Object.fromEntries(pkgs.map((p) => [`@aff/${p}`, path.resolve(root, `packages/${p}/src/index.ts`)]));

export default defineConfig({
  resolve: { alias },
  test: {
    projects: [
      {
        resolve: { alias },
        test: {
          name: "unit",
          include: ["packages/*/src/**/*.test.ts", "services/*/src/**/*.test.ts"],
          environment: "node",
        },
      },
      {
        resolve: { alias },
        test: {
          name: "integration",
          include: ["test/**/*.test.ts"],
          // the chaos test is its own project: `npm run test:chaos`
          exclude: ["**/node_modules/**", "test/e2e/chaos.test.ts", "test/cluster/**"],
          environment: "node",
          globalSetup: ["test/global-setup.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        resolve: { alias },
        test: {
          name: "chaos",
          include: ["test/e2e/chaos.test.ts"],
          environment: "node",
          globalSetup: ["test/global-setup.ts"],
          testTimeout: 14 * 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        resolve: { alias },
        test: {
          // `npm run test:chaos:cluster`: the cluster profile (infra/stack.sh --cluster) under faults
          name: "chaos-cluster",
          include: ["test/cluster/**/*.test.ts"],
          environment: "node",
          globalSetup: ["test/cluster/global-setup.ts"],
          // one file at a time: each one kills servers the others use
          fileParallelism: false,
          testTimeout: Number(process.env.CLUSTER_CHAOS_TIMEOUT_MIN ?? 60) * 60_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
