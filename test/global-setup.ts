import type { TestProject } from "vitest/node";
import { startContainerStack, stopContainerStack } from "../packages/testing/src/containers";
import { type StackEnv, stackMode, startNativeStack } from "../packages/testing/src/stack";

declare module "vitest" {
  export interface ProvidedContext {
    stack: StackEnv;
  }
}

/** Brings up the real servers once for the whole run (native stack here, testcontainers where Docker runs). */
export default async function setup(project: TestProject) {
  const mode = await stackMode();
  const stack = mode === "docker" ? await startContainerStack() : startNativeStack();
  project.provide("stack", stack);
  return async () => {
    if (mode === "docker") await stopContainerStack();
  };
}
