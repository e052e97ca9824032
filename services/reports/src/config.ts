import { Iban } from "@aff/catalog";
import {
  clickhouseEnv,
  httpEnv,
  kafkaEnv,
  logEnv,
  opsEnv,
  parseConfig,
  redisEnv,
  runtimeEnv,
  secret,
} from "@aff/common";
import { z } from "zod";

export const ReportsConfig = z.object({
  ...logEnv,
  ...httpEnv,
  ...opsEnv(9083),
  ...clickhouseEnv,
  ...redisEnv,
  ...runtimeEnv,
  ...kafkaEnv,
  /** port for the finance API, CSV exports, dashboard and ops endpoints */
  PORT: z.coerce.number().int().min(0).max(65535).default(8083),
  /** bootstrap bearer key with the finance role (sees every figure); other keys are catalog API keys */
  REPORTS_API_KEY: secret("REPORTS_API_KEY"),
  /** longest period one report may cover, in days */
  MAX_RANGE_DAYS: z.coerce.number().int().min(1).max(3660).default(400),
  /**
   * ms a ledger read (source=ledger audits, a past as_of, statements) may wait for ClickHouse's first byte: it sums
   * every entry of the period with FINAL and answers only at the end, up to MAX_RANGE_DAYS of ledger (aggregate reads
   * keep the 30 s timeout, so an outage there is a 503 quickly)
   */
  REPORTS_LEDGER_TIMEOUT_MS: z.coerce.number().int().min(1_000).max(3_600_000).default(600_000),
  /** minimum payout for campaigns without their own threshold, in minor units of the settlement currency */
  PAYOUT_MIN_DEFAULT_MINOR: z.coerce.number().int().min(0).default(0),
  /** a merchant sees rates of other merchants' campaigns only when they pool at least this many other merchants */
  SCORECARD_MIN_MERCHANTS: z.coerce.number().int().min(1).max(100).default(3),
  /** SEPA exports: the paying account holder's name (pain.001 debtor); SEPA export is off when unset */
  SEPA_DEBTOR_NAME: z.string().min(1).max(70).optional(),
  /** SEPA exports: the paying account's IBAN */
  SEPA_DEBTOR_IBAN: Iban.optional(),
  /** SEPA exports: the paying bank's BIC (optional in SEPA) */
  SEPA_DEBTOR_BIC: z
    .string()
    .regex(/^[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?$/)
    .optional(),
});
export type ReportsConfig = z.infer<typeof ReportsConfig>;

export const loadConfig = (env: Record<string, string | undefined> = process.env) =>
  parseConfig("reports", ReportsConfig, env);
