import { MAX_AHEAD_MS } from "@aff/events";
import { z } from "zod";
import { APPROVED_TABLE, CUBE_TABLE } from "../aggregates";
import type { Querier } from "../client";
import { Int64Sum } from "../int64";
import { LEDGER_TABLE } from "../ledger";
import { ident, join, type Sql, sql } from "../sql";
import { newestRecordedSince } from "./as-of";
import { type ReportFilter, recordedBy, scopeWhere, statusCondition } from "./filter";
import type { ReportSource } from "./plan";
import { tilePeriod, tilesWhere } from "./tiles";

/** Payouts look at the whole ledger as recorded by `asOf` (a balance, not a period), within the caller's scope. */
export type PayoutQuery = Pick<
  ReportFilter,
  "asOfMs" | "asOfGiven" | "merchantId" | "campaignId" | "influencerId" | "currency"
> & {
  /** "ledger" forces the ledger (audits, exactness checks); otherwise the aggregates answer */
  source?: "auto" | "ledger";
};

export const PayableLine = z.object({
  influencer_id: z.number().int(),
  campaign_id: z.number().int(),
  currency: z.string(),
  payable_minor: Int64Sum,
  held_minor: Int64Sum,
});
export type PayableLine = z.infer<typeof PayableLine>;

const QUARTER_HOUR_MS = 900_000;

/**
 * The latest event time an entry recorded by `as_of` can have: the intake refuses events dated more than
 * MAX_AHEAD_MS after their receipt, so a store whose clock runs ahead books entries up to that far after `as_of`,
 * and a refund it dates in the future reduces the balance at once (docs/adr/0006 "Two clocks").
 */
const latestEventTime = (q: PayoutQuery) => new Date(q.asOfMs + MAX_AHEAD_MS);

function scope(q: PayoutQuery): Sql[] {
  const parts = scopeWhere({ ...q, fromMs: 0, toMs: 0, timeZone: "UTC" });
  if (q.currency !== undefined) parts.push(sql`commission_currency = ${q.currency}`);
  return parts;
}
const and = (parts: Sql[]) => join(parts, " AND ");

/** Payable (approved, holding period over) and held (approved, still holding) per influencer, campaign, currency. */
export function payableLinesLedgerSql(q: PayoutQuery): Sql {
  return sql`SELECT influencer_id, campaign_id, toString(commission_currency) AS currency,
      sumIf(commission_minor, ${statusCondition("payable", q.asOfMs)}) AS payable_minor,
      sumIf(commission_minor, ${statusCondition("approved", q.asOfMs)}) AS held_minor
    FROM ${ident(LEDGER_TABLE)} FINAL
    WHERE ${and([recordedBy(q.asOfMs), sql`event_time <= ${latestEventTime(q)}`, sql`status = 'approved'`, ...scope(q)])}
    GROUP BY influencer_id, campaign_id, currency
    ORDER BY influencer_id, campaign_id, currency`;
}

/**
 * The same from the aggregates: approved money of every cube bucket up to the last quarter hour before `as_of`
 * (month buckets for the past, one primary-key range), counted as payable, minus the entries still held at `as_of`
 * (approved_ledger_v1, payable_at > as_of), plus the approved entries of the last minutes, read from the ledger and
 * deduplicated by entry id with argMax (what FINAL keeps) instead of FINAL over their whole month.
 */
export function payableLinesCubeSql(q: PayoutQuery): Sql {
  const cutMs = q.asOfMs - (q.asOfMs % QUARTER_HOUR_MS);
  const cut = new Date(cutMs);
  const asOf = new Date(q.asOfMs);
  const tiles = tilesWhere(tilePeriod("influencer", "UTC", 0, cutMs));
  const cube = sql`SELECT influencer_id, campaign_id, toString(commission_currency) AS currency, 'payable' AS st,
      commission_minor AS c, toInt64(entries) AS e
    FROM ${ident(CUBE_TABLE)} FINAL
    WHERE ${and([sql`level = 3`, sql`status = 'approved'`, sql`(${tiles})`, ...scope(q)])}`;
  const held = sql`SELECT influencer_id, campaign_id, currency, st, c * sign AS c, sign AS e
    FROM (
      SELECT influencer_id, campaign_id, toString(commission_currency) AS currency, commission_minor AS c,
        ['approved', 'payable'] AS sts, [toInt64(1), toInt64(-1)] AS signs
      FROM ${ident(APPROVED_TABLE)} FINAL
      WHERE ${and([sql`payable_at > ${asOf}`, sql`event_time < ${cut}`, ...scope(q)])}
    )
    ARRAY JOIN sts AS st, signs AS sign`;
  const latest = (col: string) => sql`argMax(${ident(col)}, version) AS ${ident(col)}`;
  const recent = sql`SELECT influencer_id, campaign_id, toString(commission_currency) AS currency,
      if(payable_at <= ${asOf}, 'payable', 'approved') AS st, commission_minor AS c, toInt64(1) AS e
    FROM (
      SELECT entry_id, ${latest("influencer_id")}, ${latest("campaign_id")}, ${latest("merchant_id")},
        ${latest("commission_currency")}, ${latest("commission_minor")}, ${latest("payable_at")}, ${latest("status")},
        max(version) AS recorded_ms
      FROM ${ident(LEDGER_TABLE)}
      WHERE event_time >= ${cut} AND event_time <= ${latestEventTime(q)}
      GROUP BY entry_id
    )
    WHERE ${and([sql`status = 'approved'`, sql`recorded_ms <= ${Math.floor(q.asOfMs)}`, ...scope(q)])}`;
  return sql`SELECT influencer_id, campaign_id, currency, sumIf(c, st = 'payable') AS payable_minor,
      sumIf(c, st = 'approved') AS held_minor
    FROM (${cube} UNION ALL ${held} UNION ALL ${recent})
    GROUP BY influencer_id, campaign_id, currency
    HAVING sum(e) > 0
    ORDER BY influencer_id, campaign_id, currency`;
}

/**
 * True when an entry in scope was recorded after an explicit `as_of` (docs/adr/0006 "Two clocks"): the aggregates
 * hold it, so the ledger answers. Without an explicit `as_of` (now) nothing can have been recorded later.
 */
async function recordedAfter(ch: Querier, q: PayoutQuery): Promise<boolean> {
  if (!q.asOfGiven) return false;
  return (await newestRecordedSince(ch)({ ...q, fromMs: 0, toMs: 0, timeZone: "UTC" })) > q.asOfMs;
}

/** `ledger` runs the ledger reads (longer request timeout, see getCommissionReport). */
export function getPayableLines(ch: Querier, ledger: Querier = ch) {
  return async (q: PayoutQuery): Promise<{ source: ReportSource; rows: PayableLine[] }> => {
    const source: ReportSource = q.source === "ledger" || (await recordedAfter(ch, q)) ? "ledger" : "aggregate";
    const query = source === "ledger" ? payableLinesLedgerSql(q) : payableLinesCubeSql(q);
    return {
      source,
      rows: await (source === "ledger" ? ledger : ch).query(`payable_lines_${source}`, query, PayableLine),
    };
  };
}
