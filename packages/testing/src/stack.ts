import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";

/**
 * Where the real servers for tests come from, decided here and nowhere else:
 * - a reachable Docker engine -> testcontainers (the same images as docker-compose.yml);
 * - otherwise the native stack of infra/stack.sh (started if it is not running).
 * STACK_MODE=native|docker overrides the detection.
 */
export type StackEnv = { mode: "native" | "docker"; KAFKA_BROKERS: string; CLICKHOUSE_URL: string; REDIS_URL: string };
export type StackService = "kafka" | "clickhouse" | "redis";

export const REPO_ROOT = path.resolve(__dirname, "..", "..", "..");
const STACK_SH = path.join(REPO_ROOT, "infra", "stack.sh");

function dockerReachable(): Promise<boolean> {
  const socket = process.env.DOCKER_HOST?.startsWith("unix://")
    ? process.env.DOCKER_HOST.slice(7)
    : "/var/run/docker.sock";
  if (process.env.DOCKER_HOST && !process.env.DOCKER_HOST.startsWith("unix://")) return Promise.resolve(true);
  if (!existsSync(socket)) return Promise.resolve(false);
  return new Promise((resolve) => {
    const req = http.get({ socketPath: socket, path: "/_ping", timeout: 2_000 }, (res) =>
      resolve(res.statusCode === 200),
    );
    req.on("error", () => resolve(false));
    req.on("timeout", () => req.destroy());
  });
}

export async function stackMode(): Promise<"native" | "docker"> {
  const forced = process.env.STACK_MODE;
  if (forced === "native" || forced === "docker") return forced;
  return (await dockerReachable()) ? "docker" : "native";
}

/** The addresses `infra/stack.sh start` wrote to `.stack/env` ({} when the stack was never started). */
export function readStackEnv(): Record<string, string> {
  const file = path.join(process.env.STACK_DIR ?? path.join(REPO_ROOT, ".stack"), "env");
  if (!existsSync(file)) return {};
  return Object.fromEntries(
    readFileSync(file, "utf8")
      .split("\n")
      .filter((l) => l.includes("="))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
}

/** Starts (idempotently) the native stack and returns its addresses. */
export function startNativeStack(): StackEnv {
  execFileSync("bash", [STACK_SH, "start"], { stdio: ["ignore", "inherit", "inherit"] });
  const env = readStackEnv();
  return {
    mode: "native",
    KAFKA_BROKERS: env.KAFKA_BROKERS ?? "",
    CLICKHOUSE_URL: env.CLICKHOUSE_URL ?? "",
    REDIS_URL: env.REDIS_URL ?? "",
  };
}

/** Stops or starts one server of the native stack, for tests of outages. */
export function controlService(action: "stop" | "start", service: StackService): void {
  execFileSync("bash", [STACK_SH, action, service], { stdio: ["ignore", "inherit", "inherit"] });
}
