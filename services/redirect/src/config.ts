import { httpEnv, kafkaEnv, logEnv, opsEnv, parseConfig, proxyEnv, redisEnv, secret, secretsEnv } from "@aff/common";
import { z } from "zod";

export const RedirectConfig = z.object({
  ...logEnv,
  ...httpEnv,
  ...opsEnv(9080),
  ...kafkaEnv,
  ...redisEnv,
  ...secretsEnv,
  /** port for redirects, the management API and ops endpoints */
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  /** bootstrap bearer key for the management API (admin role); required in production */
  ADMIN_API_KEY: secret("ADMIN_API_KEY"),
  /** most links held in the in-process cache */
  LINK_CACHE_MAX: z.coerce.number().int().min(1).default(1_200_000),
  /** load every link from Redis into memory at boot (in the background) */
  LINK_CACHE_WARM: z
    .enum(["true", "false"])
    .default("true")
    .transform((v) => v === "true"),
  /** ms between full re-reads of the links in Redis (a safety net under pub/sub change messages) */
  LINK_CACHE_RESYNC_MS: z.coerce.number().int().min(1_000).default(300_000),
  /** most click events per Kafka produce request */
  CLICK_BATCH_MAX: z.coerce.number().int().min(1).max(10_000).default(1_000),
  /** ms between click flushes to Kafka */
  CLICK_FLUSH_MS: z.coerce.number().int().min(1).max(10_000).default(20),
  /** click events held in memory while Kafka is unreachable before they go to the spool file */
  CLICK_QUEUE_MAX: z.coerce.number().int().min(100).default(50_000),
  /** bytes the click spool may hold on disk; clicks beyond it are dropped and counted (clicks_dropped_total) */
  CLICK_SPOOL_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(64 * 1024)
    .default(1024 * 1024 * 1024),
  /** folder of the append-only spool file for clicks Kafka could not take */
  CLICK_SPOOL_DIR: z.string().default(".stack/spool/redirect"),
  ...proxyEnv,
  /** page shown for unknown or revoked codes when set (absolute URL); otherwise a small 404 page */
  NOT_FOUND_URL: z.string().url().optional(),
});
export type RedirectConfig = z.infer<typeof RedirectConfig>;

export const loadConfig = (env: Record<string, string | undefined> = process.env) =>
  parseConfig("redirect", RedirectConfig, env);
