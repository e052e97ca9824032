import { z } from "zod";
import type { Querier } from "../client";
import { Int64Sum } from "../int64";
import { CONVERSIONS_TABLE, LEDGER_TABLE } from "../ledger";
import { FLAGS_TABLE } from "../outcomes";
import { ident, raw, type Sql, sql } from "../sql";
import { ledgerWhere, type ReportFilter, recordedBy } from "./filter";

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
  flags: z.array(z.string()),
  conversion_status: z.string(),
  order_amount_minor: Int64Sum,
  order_currency: z.string(),
  commission_minor: Int64Sum,
  commission_currency: z.string(),
  history: z.array(HistoryStep),
});
export type StatementLine = z.infer<typeof StatementLine>;

/**
 * Every ledger line in the period recorded by `as_of` with its conversion (order id, attribution, flags, status at
 * `as_of`) and the conversion's status history as known at `as_of` (all its ledger entries recorded by then, any
 * date), ordered by time then entry id so pages are stable. The same request answers the same forever: the order id,
 * attribution and flags never change after the sale; the status is the conversion row's when that row was computed
 * from events received by `as_of` (its version is the newest receive time x 1000), else it is derived from the entries
 * recorded by `as_of` (rejected once a rejection is booked; refunded once nothing is left of the order; approved once
 * approved).
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
  const columns =
    "entry_id, event_time, entry_type, status, payable_at, conversion_id, merchant_id, campaign_id, influencer_id, order_amount_minor, order_currency, commission_minor, commission_currency";
  const typed = raw(
    "entry_id, event_time, entry_type, status, payable_at, conversion_id, merchant_id, campaign_id, influencer_id, order_amount_minor, toString(order_currency) AS order_currency, commission_minor, toString(commission_currency) AS commission_currency",
  );
  const page =
    q.limit === undefined
      ? sql`SELECT ${typed} FROM ${ledger} FINAL WHERE ${where}`
      : pageSql(q, where, columns, typed);
  const inPage =
    q.limit === undefined
      ? sql`SELECT conversion_id FROM ${ledger} WHERE ${where}`
      : sql`SELECT conversion_id FROM (${page})`;
  return sql`SELECT entry_id, event_time, entry_type, status, payable_at, conversion_id, merchant_id, campaign_id, influencer_id,
      order_id, attribution, flags,
      if(state_ms <= ${Math.floor(q.asOfMs)}, current_status, status_as_of) AS conversion_status,
      order_amount_minor, order_currency, commission_minor, commission_currency, history
    FROM (
      SELECT entry_id, event_time, entry_type, status, payable_at, conversion_id, merchant_id, campaign_id, influencer_id,
        order_id, attribution, flags, current_status, state_ms, order_amount_minor, order_currency, commission_minor,
        commission_currency
      FROM (${page}) AS lines ANY LEFT JOIN (
        SELECT conversion_id, order_id, attribution, flags, current_status, state_ms
        FROM (
          SELECT conversion_id, order_id, attribution, status AS current_status, intDiv(version, 1000) AS state_ms
          FROM ${ident(CONVERSIONS_TABLE)} FINAL WHERE conversion_id IN (${inPage})
        ) AS conversion_rows ANY LEFT JOIN (
          SELECT conversion_id, flags FROM ${ident(FLAGS_TABLE)} FINAL WHERE conversion_id IN (${inPage})
        ) AS conversion_flags USING conversion_id
      ) AS conversions USING conversion_id
    ) AS lines_with_conversion ANY LEFT JOIN (
      SELECT conversion_id,
        arraySort(groupUniqArray((toString(event_time), entry_type, status, commission_minor, entry_id))) AS history,
        multiIf(has(groupUniqArray(entry_type), 'reject'), 'rejected',
          sumIf(order_amount_minor, status IN ('pending', 'review', 'approved')) <= 0
            AND sumIf(order_amount_minor, status = 'reversed') > 0, 'refunded',
          has(groupUniqArray(entry_type), 'approve'), 'approved',
          has(groupUniqArray(status), 'review'), 'review', 'pending') AS status_as_of
      FROM (
        SELECT DISTINCT entry_id, event_time, entry_type, status, commission_minor, order_amount_minor, conversion_id
        FROM ${ledger} WHERE conversion_id IN (${inPage}) AND ${recordedBy(q.asOfMs)}
      )
      GROUP BY conversion_id
    ) AS histories USING conversion_id
    ORDER BY event_time, entry_id`;
}

/**
 * One JSON page, cut from the ledger before the joins so they only look up its own conversions. Candidates: the
 * next entry ids in order from two columns without FINAL (top-N, no full sort), twice the page so unmerged replay
 * copies (identical rows) do not shorten it; then their rows by primary key, deduplicated with argMax (what FINAL
 * keeps; FINAL itself reads every granule here), filtered again and cut to the page.
 */
function pageSql(q: StatementQuery, where: Sql, columns: string, typed: Sql): Sql {
  const ledger = ident(LEDGER_TABLE);
  const latest = raw(
    columns
      .split(", ")
      .filter((c) => c !== "entry_id")
      .map((c) => `argMax(${c}, v) AS ${c}`)
      .concat("max(v) AS version")
      .join(", "),
  );
  const candidates = sql`SELECT entry_id FROM ${ledger} WHERE ${where}
    ORDER BY event_time, entry_id LIMIT ${q.offset}, ${2 * (q.limit ?? 0)}`;
  return sql`SELECT ${typed} FROM (
      SELECT entry_id, ${latest}
      FROM (SELECT *, version AS v FROM ${ledger} WHERE entry_id IN (${candidates}))
      GROUP BY entry_id
    )
    WHERE ${where}
    ORDER BY event_time, entry_id LIMIT ${q.limit ?? 0}`;
}

export function getStatement(ch: Querier) {
  return (q: StatementQuery) => ch.query("statement", statementSql(q), StatementLine);
}

export function streamStatement(ch: Querier) {
  return (q: StatementQuery) => ch.stream("statement_stream", statementSql(q), StatementLine);
}
