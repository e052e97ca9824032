import type { Lifecycle, Logger } from "@aff/common";
import { Redis } from "ioredis";
import { Catalog } from "./store";

/** A Redis client that fails fast instead of queueing commands forever while the server is away. */
export function createRedis(url: string): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
    connectTimeout: 2_000,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
    lazyConnect: false,
  });
}

/** The catalog on its own Redis connection, closed with the service. */
export function connectCatalog(
  config: { REDIS_URL: string; REDIS_PREFIX: string },
  deps: { log: Logger; lifecycle: Lifecycle },
): Catalog {
  const redis = createRedis(config.REDIS_URL);
  redis.on("error", (err) => deps.log.debug({ err: err.message }, "redis_error"));
  deps.lifecycle.defer("redis", () => void redis.disconnect());
  return new Catalog(redis, config.REDIS_PREFIX);
}
