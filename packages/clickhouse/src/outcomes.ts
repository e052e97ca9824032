import { z } from "zod";
import type { Inserter, Querier } from "./client";
import { Int64Text } from "./int64";
import { ident, join, raw, type Sql, sql } from "./sql";

/** Flags and sale receive time per conversion (schema/010). */
export const FLAGS_TABLE = "conversion_flags_v1";
/** What became of each delivery of each merchant event (schema/010). */
export const OUTCOMES_TABLE = "conversion_outcomes_v1";

export const ConversionFlagsRow = z.object({
  conversion_id: z.string().length(32),
  merchant_id: z.number().int().min(0),
  campaign_id: z.number().int().min(0),
  influencer_id: z.number().int().min(0),
  commission_currency: z.string().length(3),
  occurred_at: z.string(),
  sale_recorded_ms: z.number().int().min(0),
  flags: z.array(z.string()),
  review: z.union([z.literal(0), z.literal(1)]),
  version: z.number().int(),
});
export type ConversionFlagsRow = z.infer<typeof ConversionFlagsRow>;

/** The outcomes a merchant sees for each event it sent. */
export const EventOutcome = z.enum(["booked", "duplicate", "parked", "not_credited", "ignored", "dead_lettered"]);
export type EventOutcome = z.infer<typeof EventOutcome>;

export const OutcomeRow = z.object({
  merchant_id: z.number().int().min(0),
  received_at: z.string(),
  event_id: z.string().max(64),
  seq: z.number().int().min(0),
  received_at_ms: z.number().int().min(0),
  conversion_id: z.string().max(64),
  order_id: z.string(),
  type: z.string(),
  source: z.string(),
  amount_minor: z.number().int(),
  currency: z.string(),
  occurred_at: z.string(),
  outcome: EventOutcome,
  reason: z.string(),
  version: z.number().int(),
});
export type OutcomeRow = z.infer<typeof OutcomeRow>;

export function insertConversionFlags(ch: Inserter) {
  return (rows: readonly ConversionFlagsRow[]) =>
    ch.insert(
      "insert_conversion_flags",
      FLAGS_TABLE,
      rows.map((r) => ConversionFlagsRow.parse(r)),
    );
}

export function insertOutcomes(ch: Inserter) {
  return (rows: readonly OutcomeRow[]) =>
    ch.insert(
      "insert_outcomes",
      OUTCOMES_TABLE,
      rows.map((r) => OutcomeRow.parse(r)),
    );
}

/** One line of the postback log as read back (FINAL: the newest outcome of each delivery). */
export const OutcomeLine = z.object({
  merchant_id: z.number().int(),
  received_at: z.string(),
  received_at_ms: Int64Text,
  event_id: z.string(),
  seq: Int64Text,
  conversion_id: z.string(),
  order_id: z.string(),
  type: z.string(),
  source: z.string(),
  amount_minor: Int64Text,
  currency: z.string(),
  occurred_at: z.string(),
  outcome: z.string(),
  reason: z.string(),
});
export type OutcomeLine = z.infer<typeof OutcomeLine>;

export type OutcomeQuery = {
  merchantId?: number;
  conversionId?: string;
  fromMs?: number;
  toMs?: number;
  outcomes?: readonly string[];
  limit?: number;
  offset?: number;
};

/** The postback log: deliveries by receive time (then event id and offset, so pages are stable). */
export function outcomeLogSql(q: OutcomeQuery): Sql {
  const parts: Sql[] = [raw("1")];
  if (q.merchantId !== undefined) parts.push(sql`merchant_id = ${q.merchantId}`);
  if (q.conversionId !== undefined) parts.push(sql`conversion_id = ${q.conversionId}`);
  // on ms, not on received_at: the SELECT aliases received_at to its text, and 18.16 resolves WHERE to the alias
  if (q.fromMs !== undefined) parts.push(sql`received_at_ms >= ${Math.floor(q.fromMs)}`);
  if (q.toMs !== undefined) parts.push(sql`received_at_ms < ${Math.floor(q.toMs)}`);
  if (q.outcomes && q.outcomes.length > 0)
    parts.push(
      sql`outcome IN (${join(
        q.outcomes.map((o) => sql`${o}`),
        ", ",
      )})`,
    );
  const limit = q.limit === undefined ? raw("") : sql` LIMIT ${q.offset ?? 0}, ${q.limit}`;
  return sql`SELECT merchant_id, toString(received_at) AS received_at, received_at_ms, event_id, seq, conversion_id,
      order_id, type, source, amount_minor, currency, toString(occurred_at) AS occurred_at, outcome, reason
    FROM ${ident(OUTCOMES_TABLE)} FINAL
    WHERE ${join(parts, " AND ")}
    ORDER BY received_at_ms, event_id, seq${limit}`;
}

export function getOutcomeLog(ch: Querier) {
  return (q: OutcomeQuery) => ch.query("outcome_log", outcomeLogSql(q), OutcomeLine);
}

export function streamOutcomeLog(ch: Querier) {
  return (q: OutcomeQuery) => ch.stream("outcome_log_stream", outcomeLogSql(q), OutcomeLine);
}

export const ConversionFlagsLine = z.object({ flags: z.array(z.string()), review: z.number().int() });

/** The flags of one conversion, if it was booked with any. */
export function getConversionFlags(ch: Querier) {
  return async (conversionId: string) =>
    (
      await ch.query(
        "conversion_flags",
        sql`SELECT flags, review FROM ${ident(FLAGS_TABLE)} FINAL WHERE conversion_id = ${conversionId}`,
        ConversionFlagsLine,
      )
    )[0];
}
