import { clickhouseEnv, httpEnv, kafkaEnv, logEnv, parseConfig, redisEnv, secretsEnv } from "@aff/common";
import { z } from "zod";

export const AttributionConfig = z.object({
  ...logEnv,
  ...httpEnv,
  ...kafkaEnv,
  ...clickhouseEnv,
  ...redisEnv,
  ...secretsEnv,
  /** port for ops endpoints (health, readiness, metrics) */
  PORT: z.coerce.number().int().min(0).max(65535).default(8082),
  /** consumer group of the conversion pipeline */
  GROUP_CONVERSIONS: z.string().min(1).default("attribution-conversions"),
  /** consumer group writing clicks to ClickHouse */
  GROUP_CLICKS: z.string().min(1).default("attribution-clicks"),
  /** partitions processed concurrently per consumer (bounds work in flight) */
  PARTITIONS_CONCURRENTLY: z.coerce.number().int().min(1).max(64).default(6),
  /** ms without a heartbeat before Kafka hands a dead worker's partitions to another */
  KAFKA_SESSION_TIMEOUT_MS: z.coerce.number().int().min(6_000).max(300_000).default(10_000),
  /** ms a batch may take before a slow_batch warning */
  SLOW_BATCH_MS: z.coerce.number().int().min(1).default(5_000),
  /** ms without a completed fetch after which /readyz reports the loop stalled */
  STALL_MS: z.coerce.number().int().min(1_000).default(60_000),
  /** ms a campaign is cached in memory */
  CAMPAIGN_CACHE_TTL_MS: z.coerce.number().int().min(0).default(5_000),
  /** days a status change that arrived before its sale stays applicable; older ones are counted parked_expired and never applied */
  PARKED_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(90),
  /**
   * ms after which a parked status change (no sale in its history) is booked once more from a fresh history read, in
   * case a replica had not yet shown its sale (docs/adr/0008); 0 = never
   */
  PARKED_RECHECK_MS: z.coerce.number().int().min(0).max(3_600_000).default(10_000),
  /** dlq:replay only: replay dead letters whose reason starts with this (empty = all) */
  DLQ_REPLAY_REASON: z.string().default(""),
  /** dlq:replay only: consumer group remembering what was replayed; a new name replays from the beginning again */
  DLQ_REPLAY_GROUP: z.string().min(1).default("attribution-dlq-replay"),
  /** test-only fault injection: SIGKILL this process after a batch is written and before its offsets are committed */
  FAULT_KILL_AFTER_WRITE: z
    .enum(["true", "false"])
    .default("false")
    .transform((v) => v === "true"),
});
export type AttributionConfig = z.infer<typeof AttributionConfig>;

export const loadConfig = (env: Record<string, string | undefined> = process.env) =>
  parseConfig("attribution", AttributionConfig, env);
