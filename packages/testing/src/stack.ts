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
export type StackEnv = {
  mode: "native" | "docker" | "cluster";
  KAFKA_BROKERS: string;
  CLICKHOUSE_URL: string;
  REDIS_URL: string;
  /** the cluster profile's extras (infra/stack.sh --cluster), passed on to every service of a test world */
  cluster?: ClusterEnv;
};
/** The variables that point a service at the cluster profile (from .stack/cluster.env). */
export type ClusterEnv = {
  CLICKHOUSE_CLUSTER: string;
  REDIS_SENTINELS: string;
  REDIS_SENTINEL_NAME: string;
  KAFKA_REPLICATION_FACTOR: string;
  KAFKA_MIN_INSYNC_REPLICAS: string;
  KAFKA_IDEMPOTENT: string;
};
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
export function readStackEnv(name = "env"): Record<string, string> {
  const file = path.join(process.env.STACK_DIR ?? path.join(REPO_ROOT, ".stack"), name);
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

/** Starts (idempotently) the cluster profile (`infra/stack.sh --cluster start`) and returns its addresses. */
export function startClusterStack(): StackEnv & { cluster: ClusterEnv; all: Record<string, string> } {
  execFileSync("bash", [STACK_SH, "--cluster", "start"], { stdio: ["ignore", "inherit", "inherit"] });
  const env = readStackEnv("cluster.env");
  const need = (k: string) => {
    const v = env[k];
    if (!v) throw new Error(`.stack/cluster.env has no ${k}`);
    return v;
  };
  return {
    mode: "cluster",
    KAFKA_BROKERS: need("KAFKA_BROKERS"),
    CLICKHOUSE_URL: need("CLICKHOUSE_URL"),
    REDIS_URL: need("REDIS_URL"),
    cluster: {
      CLICKHOUSE_CLUSTER: need("CLICKHOUSE_CLUSTER"),
      REDIS_SENTINELS: need("REDIS_SENTINELS"),
      REDIS_SENTINEL_NAME: need("REDIS_SENTINEL_NAME"),
      KAFKA_REPLICATION_FACTOR: need("KAFKA_REPLICATION_FACTOR"),
      KAFKA_MIN_INSYNC_REPLICAS: need("KAFKA_MIN_INSYNC_REPLICAS"),
      KAFKA_IDEMPOTENT: need("KAFKA_IDEMPOTENT"),
    },
    all: env,
  };
}

/** Runs `infra/stack.sh --cluster start|stop INSTANCE` (c-kafka-2, c-ch-1-1, c-redis-1, ...). */
export function controlClusterInstance(action: "stop" | "start", instance: string): void {
  execFileSync("bash", [STACK_SH, "--cluster", action, instance], { stdio: ["ignore", "inherit", "inherit"] });
}
