import type { Lifecycle, Logger } from "@aff/common";
import { Redis, type RedisOptions } from "ioredis";
import { Catalog } from "./store";

/** Where Redis is: a URL, or Sentinels that name the current primary (the REDIS_* variables of `redisEnv`). */
export type RedisTarget = { REDIS_URL: string; REDIS_SENTINELS?: string; REDIS_SENTINEL_NAME?: string };

/** Fail fast instead of queueing commands forever while the server is away. */
const FAIL_FAST: RedisOptions = {
  maxRetriesPerRequest: 1,
  enableOfflineQueue: true,
  connectTimeout: 2_000,
  retryStrategy: (times) => Math.min(times * 200, 2_000),
  lazyConnect: false,
};

/** `host:port,host:port` as ioredis sentinel addresses. */
export function parseSentinels(list: string): { host: string; port: number }[] {
  return list
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => {
      const at = s.lastIndexOf(":");
      return { host: s.slice(0, at), port: Number(s.slice(at + 1)) };
    });
}

/**
 * With Sentinels, the options that find the primary through them: ioredis asks a Sentinel for the primary, checks
 * its role on every connect, and reconnects to the promoted replica after a failover. The database number and
 * password still come from REDIS_URL.
 */
export function sentinelOptions(target: RedisTarget): RedisOptions | undefined {
  const sentinels = parseSentinels(target.REDIS_SENTINELS ?? "");
  if (sentinels.length === 0) return undefined;
  const url = new URL(target.REDIS_URL);
  const db = Number(url.pathname.slice(1) || 0);
  return {
    sentinels,
    name: target.REDIS_SENTINEL_NAME ?? "aff",
    db,
    password: url.password ? decodeURIComponent(url.password) : undefined,
    sentinelRetryStrategy: (times) => Math.min(times * 200, 2_000),
    // Not `failoverDetector`: when its +switch-master arrives while the client is already reconnecting (the primary
    // died), it closes the connector under the pending connect, and ioredis then ends the client for good (status
    // "end", seen in the cluster chaos test). A dead primary closes the connection anyway; a primary demoted while
    // alive answers writes with READONLY, which reconnects through the Sentinels below.
    reconnectOnError: (err) => err.message.startsWith("READONLY"),
  };
}

/** A Redis client that fails fast; through Sentinels when the target names them, else to the URL. */
export function createRedis(target: string | RedisTarget): Redis {
  const t = typeof target === "string" ? { REDIS_URL: target } : target;
  const viaSentinels = sentinelOptions(t);
  return viaSentinels ? new Redis({ ...FAIL_FAST, ...viaSentinels }) : new Redis(t.REDIS_URL, FAIL_FAST);
}

/** The catalog on its own Redis connection, closed with the service. */
export function connectCatalog(
  config: RedisTarget & { REDIS_PREFIX: string },
  deps: { log: Logger; lifecycle: Lifecycle },
): Catalog {
  const redis = createRedis(config);
  redis.on("error", (err) => deps.log.debug({ err: err.message }, "redis_error"));
  deps.lifecycle.defer("redis", () => void redis.disconnect());
  return new Catalog(redis, config.REDIS_PREFIX);
}
