import type { TestProject } from "vitest/node";
import { type ClusterEnv, type StackEnv, startClusterStack } from "../../packages/testing/src/stack";

declare module "vitest" {
  export interface ProvidedContext {
    clusterStack: StackEnv & { cluster: ClusterEnv; all: Record<string, string> };
  }
}

/** Starts the cluster profile once (idempotent); it is left running, like the single-node stack. */
export default function setup(project: TestProject) {
  project.provide("clusterStack", startClusterStack());
}
