import { ConfigError, devSecretsInUse } from "./config";
import { Lifecycle } from "./lifecycle";
import { createLogger, type Logger } from "./logger";

/**
 * The whole of a service's entry point: parse config (a bad value fails here, with every issue listed), build the
 * logger and lifecycle, wire signals, start. A failure at boot exits 1 after running the cleanups registered so far.
 */
export function runService<C extends { LOG_LEVEL: string; SHUTDOWN_TIMEOUT_MS: number }>(
  name: string,
  loadConfig: () => C,
  start: (config: C, deps: { log: Logger; lifecycle: Lifecycle }) => Promise<unknown>,
): void {
  let config: C;
  try {
    config = loadConfig();
  } catch (err) {
    console.error(err instanceof ConfigError ? err.message : err);
    process.exit(1);
  }
  const log = createLogger(name, config.LOG_LEVEL);
  logProcessWarnings(log);
  const devSecrets = devSecretsInUse(config);
  // Only reachable outside production (parseConfig refuses them there): loud, because they are public.
  if (devSecrets.length > 0) log.warn({ variables: devSecrets }, "dev_default_secrets_in_use");
  const lifecycle = new Lifecycle(log, config.SHUTDOWN_TIMEOUT_MS);
  lifecycle.installSignalHandlers();
  start(config, { log, lifecycle }).catch(async (err) => {
    log.fatal({ err }, "start_failed");
    await lifecycle.stop("start_failed");
    process.exit(1);
  });
}

/**
 * Node's own warnings (deprecations, and kafkajs's negative timer under Node 24: `TimeoutNegativeWarning`, once per
 * client) become `node_warning` log lines instead of bare text on stderr, so every line a service writes is JSON.
 */
export function logProcessWarnings(log: Pick<Logger, "warn">): void {
  process.removeAllListeners("warning");
  process.on("warning", (w) => log.warn({ warning: w.name, detail: w.message }, "node_warning"));
}
