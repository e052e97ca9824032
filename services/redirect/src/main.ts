import { Catalog, createRedis } from "@aff/catalog";
import { ConfigError, createLogger, Lifecycle } from "@aff/common";
import { startRedirect } from "./app";
import { loadConfig } from "./config";

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger("redirect", config.LOG_LEVEL);
  const lifecycle = new Lifecycle(log, config.SHUTDOWN_TIMEOUT_MS);
  lifecycle.installSignalHandlers();
  const redis = createRedis(config.REDIS_URL);
  redis.on("error", (err) => log.debug({ err: err.message }, "redis_error"));
  lifecycle.defer("redis", () => void redis.disconnect());
  await startRedirect(config, { catalog: new Catalog(redis, config.REDIS_PREFIX), log, lifecycle });
}

main().catch((err) => {
  if (err instanceof ConfigError) console.error(err.message);
  else console.error(err);
  process.exit(1);
});
