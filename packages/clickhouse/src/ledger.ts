import { ConversionEventType } from "@aff/events";
import { z } from "zod";
import { CLICKS_TABLE } from "./clicks";
import type { Inserter, Querier } from "./client";
import { EVERY_REPLICA_SETTINGS, everyReplica, everyReplicaReader } from "./cluster";
import { Int64Text } from "./int64";
import { ident, join, raw, type Sql, type SqlValue, sql } from "./sql";

export const LEDGER_TABLE = "commission_ledger_v1";
export const CONVERSIONS_TABLE = "conversions_v1";

/**
 * The status bucket a ledger entry moves money into or out of. `review`: a suspect conversion's commission held until
 * approved or rejected; `paid`: approved money a payout run paid (docs/adr/0006).
 */
export const LedgerStatus = z.enum(["pending", "review", "approved", "paid", "rejected", "reversed"]);
export type LedgerStatus = z.infer<typeof LedgerStatus>;

/** A ledger entry's type is the type of the conversion event that caused it. */
export const EntryType = ConversionEventType;
export type EntryType = z.infer<typeof EntryType>;

/** How a sale was credited (or why it could not be). */
export const Attribution = z.enum([
  "click",
  "coupon",
  "unattributed",
  "forged_click",
  "expired_click",
  "foreign_click",
]);
export type Attribution = z.infer<typeof Attribution>;

/** The current status of a conversion as a whole. */
export const ConversionStatus = z.enum(["pending", "review", "approved", "rejected", "refunded"]);
export type ConversionStatus = z.infer<typeof ConversionStatus>;

export const LedgerRow = z.object({
  entry_id: z.string().length(32),
  event_id: z.string().length(32),
  conversion_id: z.string().length(32),
  merchant_id: z.number().int().min(0),
  campaign_id: z.number().int().min(0),
  influencer_id: z.number().int().min(0),
  entry_type: EntryType,
  status: LedgerStatus,
  order_amount_minor: z.number().int(),
  order_currency: z.string().length(3),
  commission_minor: z.number().int(),
  commission_currency: z.string().length(3),
  event_time: z.string(),
  payable_at: z.string(),
  recorded_at: z.string(),
  version: z.number().int(),
});
export type LedgerRow = z.infer<typeof LedgerRow>;

export const ConversionRow = z.object({
  conversion_id: z.string().length(32),
  merchant_id: z.number().int().min(0),
  order_id: z.string(),
  campaign_id: z.number().int().min(0),
  influencer_id: z.number().int().min(0),
  link_id: z.number().int().min(0),
  click_id: z.string(),
  attribution: Attribution,
  suspect: z.union([z.literal(0), z.literal(1)]),
  status: ConversionStatus,
  order_amount_minor: z.number().int(),
  order_currency: z.string().length(3),
  commission_minor: z.number().int(),
  commission_currency: z.string().length(3),
  occurred_at: z.string(),
  version: z.number().int(),
});
export type ConversionRow = z.infer<typeof ConversionRow>;

export function insertLedgerEntries(ch: Inserter) {
  return (rows: readonly LedgerRow[]) =>
    ch.insert(
      "insert_ledger",
      LEDGER_TABLE,
      rows.map((r) => LedgerRow.parse(r)),
    );
}

export function insertConversions(ch: Inserter) {
  return (rows: readonly ConversionRow[]) =>
    ch.insert(
      "insert_conversions",
      CONVERSIONS_TABLE,
      rows.map((r) => ConversionRow.parse(r)),
    );
}

export const CONVERSION_EVENTS_TABLE = "conversion_events_v1";
export const HOURLY_TABLE = "commission_hourly_v1";

/** A stored conversion event (schema/005); `seq` orders the events of one conversion. */
export const ConversionEventRow = z.object({
  conversion_id: z.string().length(32),
  event_id: z.string().length(32),
  seq: Int64Text,
  type: z.string(),
  event: z.string(),
  resolution: z.string(),
  settlement_amount_minor: Int64Text,
  fx_rate: z.string(),
  received_at: z.string(),
});
export type ConversionEventRow = z.output<typeof ConversionEventRow>;

export function insertConversionEvents(ch: Inserter) {
  return (rows: readonly ConversionEventRow[]) =>
    ch.insert(
      "insert_conversion_events",
      CONVERSION_EVENTS_TABLE,
      rows.map((r) => ConversionEventRow.parse(r)),
    );
}

/** `(a, b, c)` for an IN clause (ClickHouse 18.16 rejects an array literal there). */
export function inList(values: readonly SqlValue[]): Sql {
  return sql`(${join(
    values.map((v) => sql`${v}`),
    ", ",
  )})`;
}

/** IN lists are chunked so a query stays far below ClickHouse's max_query_size (256 KiB). */
export const IN_CHUNK = 2_000;

/**
 * Every stored event of the given conversions (duplicates of a row may appear until merged; callers dedupe). On a
 * cluster they are read from every replica (`everyReplica`), so the worker sees what another worker, or itself before
 * a rebalance, has just written, whichever replica the write went to (docs/adr/0008).
 */
export function getConversionEvents(ch: Querier & { cluster?: string; database?: string }) {
  const read = (from: Sql, settings: Sql, ids: readonly string[]) =>
    ch.query(
      "conversion_events_by_id",
      sql`SELECT conversion_id, event_id, seq, type, event, resolution, settlement_amount_minor, fx_rate, toString(received_at) AS received_at
        FROM ${from} WHERE conversion_id IN ${inList(ids)} ${settings}`,
      ConversionEventRow,
    );
  const { cluster, database } = ch;
  const readChunk =
    cluster && database
      ? everyReplicaReader(ch, cluster, (servers, ids) =>
          read(everyReplica(servers, database, CONVERSION_EVENTS_TABLE), EVERY_REPLICA_SETTINGS, ids),
        )
      : (ids: readonly string[]) => read(ident(CONVERSION_EVENTS_TABLE), raw(""), ids);
  return async (conversionIds: readonly string[]): Promise<ConversionEventRow[]> => {
    const out: ConversionEventRow[] = [];
    for (let i = 0; i < conversionIds.length; i += IN_CHUNK)
      out.push(...(await readChunk(conversionIds.slice(i, i + IN_CHUNK))));
    return out;
  };
}

/** An hourly aggregate cell touched by a batch: every key of that campaign and hour is rebuilt. */
export type HourlyTouch = { campaignId: number; hourStartSec: number };

const FirstClickRow = z.object({
  influencer_id: z.number().int(),
  link_id: z.number().int(),
  clicked_at_ms: Int64Text,
});

/** The earliest non-bot click on `campaignId` by the same shopper (IP and user agent) as `clickId`, inside [fromMs, toMs]. */
export function getFirstClick(ch: Querier) {
  return async (clickId: string, campaignId: number, fromMs: number, toMs: number) => {
    const rows = await ch.query(
      "first_click",
      sql`SELECT influencer_id, link_id, clicked_at_ms FROM ${ident(CLICKS_TABLE)} FINAL
        WHERE campaign_id = ${campaignId} AND is_bot = 0 AND clicked_at_ms >= ${fromMs} AND clicked_at_ms <= ${toMs}
          AND (ip, user_agent) IN (SELECT ip, user_agent FROM ${ident(CLICKS_TABLE)} WHERE click_id = ${clickId})
        ORDER BY clicked_at_ms LIMIT 1`,
      FirstClickRow,
    );
    return rows[0];
  };
}

/** 64-bit columns arrive as JSON strings: read back exactly. */
const int64s = { order_amount_minor: Int64Text, commission_minor: Int64Text, version: Int64Text };
const StoredConversion = ConversionRow.extend(int64s);
const StoredEntry = LedgerRow.extend(int64s);

/** A conversion's current row (FINAL), or undefined. */
export function getConversion(ch: Querier) {
  return async (conversionId: string): Promise<ConversionRow | undefined> =>
    (
      await ch.query(
        "conversion_by_id",
        sql`SELECT conversion_id, merchant_id, order_id, campaign_id, influencer_id, link_id, click_id, attribution, suspect,
            status, order_amount_minor, toString(order_currency) AS order_currency, commission_minor,
            toString(commission_currency) AS commission_currency, toString(occurred_at) AS occurred_at, version
          FROM ${ident(CONVERSIONS_TABLE)} FINAL WHERE conversion_id = ${conversionId}`,
        StoredConversion,
      )
    )[0];
}

/** Every ledger entry of a conversion (FINAL), in the order they were recorded then booked. */
export function getConversionEntries(ch: Querier) {
  return (conversionId: string) =>
    ch.query(
      "conversion_entries",
      sql`SELECT entry_id, event_id, conversion_id, merchant_id, campaign_id, influencer_id, entry_type, status,
          order_amount_minor, toString(order_currency) AS order_currency, commission_minor,
          toString(commission_currency) AS commission_currency, toString(event_time) AS event_time,
          toString(payable_at) AS payable_at, toString(recorded_at) AS recorded_at, version
        FROM ${ident(LEDGER_TABLE)} FINAL WHERE conversion_id = ${conversionId}
        ORDER BY version, event_time, entry_id`,
      StoredEntry,
    );
}
