import { httpEnv, kafkaEnv, logEnv, parseConfig, redisEnv } from "@aff/common";
import { z } from "zod";

export const PostbackConfig = z.object({
  ...logEnv,
  ...httpEnv,
  ...kafkaEnv,
  ...redisEnv,
  /** port for postbacks and ops endpoints */
  PORT: z.coerce.number().int().min(0).max(65535).default(8081),
  /** largest request body accepted, in bytes */
  MAX_BODY_BYTES: z.coerce.number().int().min(1024).max(10 * 1024 * 1024).default(1024 * 1024),
  /** seconds a signature timestamp may differ from our clock */
  SIGNATURE_TOLERANCE_S: z.coerce.number().int().min(1).max(3600).default(300),
  /** ms a merchant record is cached in memory */
  MERCHANT_CACHE_TTL_MS: z.coerce.number().int().min(0).default(5_000),
});
export type PostbackConfig = z.infer<typeof PostbackConfig>;

export const loadConfig = (env: Record<string, string | undefined> = process.env) => parseConfig("postback", PostbackConfig, env);
