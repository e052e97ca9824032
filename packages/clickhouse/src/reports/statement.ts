import { z } from "zod";
import type { Querier } from "../client";
import { Int64Sum } from "../int64";
import { CONVERSIONS_TABLE, LEDGER_TABLE } from "../ledger";
import { ident, raw, type Sql, sql } from "../sql";
import { ledgerWhere, type ReportFilter } from "./filter";

/** A keyset position: the page starts after this line (lines are ordered by event time, then entry id). */
export type StatementCursor = { eventTime: string; entryId: string };

export type StatementQuery = ReportFilter & { limit?: number; offset: number; after?: StatementCursor };

/** One step of a conversion's life: [event_time, entry_type, status, commission delta, entry id]. */
const HistoryStep = z.tuple([z.string(), z.string(), z.string(), Int64Sum, z.string()]);

export const StatementLine = z.object({
  entry_id: z.string(),
  event_time: z.string(),
  entry_type: z.string(),
  status: z.string(),
  payable_at: z.string(),
  conversion_id: z.string(),
  merchant_id: z.number().int(),
  campaign_id: z.number().int(),
  influencer_id: z.number().int(),
  order_id: z.string(),
  attribution: z.string(),
  conversion_status: z.string(),
  order_amount_minor: Int64Sum,
  order_currency: z.string(),
  commission_minor: Int64Sum,
  commission_currency: z.string(),
  history: z.array(HistoryStep),
});
export type StatementLine = z.infer<typeof StatementLine>;

/**
 * Every ledger line in the period with its conversion (order id, attribution, current status) and the conversion's
 * whole status history (all its ledger entries, any date), ordered by time then entry id so pages are stable.
 * 18.16 allows one JOIN per SELECT, hence the nesting; current ClickHouse requires an alias on each joined subquery
 * (docs/adr/0002). The history scans every entry of those conversions: instead of FINAL (about twice as slow here) it
 * drops replayed duplicates with groupUniqArray, which is exact because a replay writes an identical row (same entry
 * id, values and version).
 */
export function statementSql(q: StatementQuery): Sql {
  const ledger = ident(LEDGER_TABLE);
  const where = q.after
    ? sql`${ledgerWhere(q)} AND (event_time > toDateTime(${q.after.eventTime}, 'UTC')
        OR (event_time = toDateTime(${q.after.eventTime}, 'UTC') AND entry_id > ${q.after.entryId}))`
    : ledgerWhere(q);
  // A page is cut from the ledger first, so the joins only look up its own conversions: its entry ids from two
  // columns without FINAL (a replayed duplicate is skipped by LIMIT 1 BY), then its rows by primary key with FINAL.
  const pageIds = sql`SELECT entry_id FROM ${ledger} WHERE ${where}
    ORDER BY event_time, entry_id LIMIT 1 BY entry_id LIMIT ${q.offset}, ${q.limit ?? 0}`;
  const inPageIds = q.limit === undefined ? raw("") : sql` AND entry_id IN (${pageIds})`;
  const page = sql`SELECT entry_id, event_time, entry_type, status, payable_at, conversion_id, merchant_id, campaign_id, influencer_id,
          order_amount_minor, toString(order_currency) AS order_currency, commission_minor, toString(commission_currency) AS commission_currency
        FROM ${ledger} FINAL WHERE ${where}${inPageIds}`;
  const inPage =
    q.limit === undefined
      ? sql`SELECT conversion_id FROM ${ledger} WHERE ${where}`
      : sql`SELECT conversion_id FROM (${page})`;
  return sql`SELECT entry_id, event_time, entry_type, status, payable_at, conversion_id, merchant_id, campaign_id, influencer_id,
      order_id, attribution, conversion_status, order_amount_minor, order_currency, commission_minor, commission_currency, history
    FROM (
      SELECT entry_id, event_time, entry_type, status, payable_at, conversion_id, merchant_id, campaign_id, influencer_id,
        order_id, attribution, conversion_status, order_amount_minor, order_currency, commission_minor, commission_currency
      FROM (${page}) AS lines ANY LEFT JOIN (
        SELECT conversion_id, order_id, attribution, status AS conversion_status
        FROM ${ident(CONVERSIONS_TABLE)} FINAL WHERE conversion_id IN (${inPage})
      ) AS conversions USING conversion_id
    ) AS lines_with_conversion ANY LEFT JOIN (
      SELECT conversion_id, arraySort(groupUniqArray((toString(event_time), entry_type, status, commission_minor, entry_id))) AS history
      FROM ${ledger} WHERE conversion_id IN (${inPage})
      GROUP BY conversion_id
    ) AS histories USING conversion_id
    ORDER BY event_time, entry_id`;
}

export function getStatement(ch: Querier) {
  return (q: StatementQuery) => ch.query("statement", statementSql(q), StatementLine);
}

export function streamStatement(ch: Querier) {
  return (q: StatementQuery) => ch.stream("statement_stream", statementSql(q), StatementLine);
}
