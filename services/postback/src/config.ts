import { httpEnv, kafkaEnv, logEnv, opsEnv, parseConfig, proxyEnv, redisEnv } from "@aff/common";
import { z } from "zod";

export const PostbackConfig = z.object({
  ...logEnv,
  ...httpEnv,
  ...opsEnv(9081),
  ...kafkaEnv,
  ...redisEnv,
  /** port for postbacks and ops endpoints */
  PORT: z.coerce.number().int().min(0).max(65535).default(8081),
  /** largest request body accepted, in bytes */
  MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(10 * 1024 * 1024)
    .default(1024 * 1024),
  /** seconds a signature timestamp may differ from our clock */
  SIGNATURE_TOLERANCE_S: z.coerce.number().int().min(1).max(3600).default(300),
  /** ms a merchant record is cached in memory (also how long a rotated or changed credential may take to apply) */
  MERCHANT_CACHE_TTL_MS: z.coerce.number().int().min(0).default(5_000),
  /** most events in one POST /v1/conversions/batch */
  MAX_BATCH_EVENTS: z.coerce.number().int().min(1).max(10_000).default(1_000),
  /** most messages coalesced into one Kafka send */
  PUBLISH_MAX_BATCH: z.coerce.number().int().min(1).max(20_000).default(2_000),
  /** ms a postback waits for Kafka's acknowledgement before answering 503 (it may be retried safely) */
  PUBLISH_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  /** seconds an acknowledged sale is remembered to answer resends with duplicate: true (default 400 days) */
  SALE_DEDUP_TTL_S: z.coerce
    .number()
    .int()
    .min(60)
    .default(400 * 86_400),
  /**
   * seconds a store-platform webhook may be delivered after the platform says it was triggered (Shopify's
   * X-Shopify-Triggered-At; Shopify retries for 4 hours), and twice this long its delivery id is remembered
   */
  WEBHOOK_REPLAY_WINDOW_S: z.coerce
    .number()
    .int()
    .min(300)
    .max(30 * 86_400)
    .default(86_400),
  ...proxyEnv,
});
export type PostbackConfig = z.infer<typeof PostbackConfig>;

export const loadConfig = (env: Record<string, string | undefined> = process.env) =>
  parseConfig("postback", PostbackConfig, env);
