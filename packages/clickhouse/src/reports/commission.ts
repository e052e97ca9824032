import { z } from "zod";
import { CLICKS_TABLE } from "../clicks";
import type { Querier } from "../client";
import { Int64Sum } from "../int64";
import { LEDGER_TABLE } from "../ledger";
import { ident, join, raw, type Sql, sql } from "../sql";
import { newestRecorded } from "./as-of";
import { clicksCubeAggregate, cubeAggregate } from "./cube";
import {
  clicksWhere,
  type GroupBy,
  keyExpr,
  ledgerWhere,
  type ReportFilter,
  type ReportStatus,
  statusCondition,
} from "./filter";
import { flaggedAggregate } from "./flags";
import { planReport, type ReportPlan, type ReportSource } from "./plan";

export const SortKey = z.enum(["key", "total", "payable", "conversions", "clicks", "revenue"]);
export type SortKey = z.infer<typeof SortKey>;

export type CommissionReportQuery = ReportFilter & {
  groupBy: GroupBy;
  sort: SortKey;
  order: "asc" | "desc";
  limit?: number;
  offset: number;
  /** "ledger" forces the ledger (audits, exactness checks); otherwise the aggregates answer when they can */
  source?: "auto" | "ledger";
};

export const CommissionReportRow = z.object({
  k: z.union([z.number().int(), z.string()]),
  currency: z.string(),
  pending_minor: Int64Sum,
  review_minor: Int64Sum,
  approved_minor: Int64Sum,
  payable_minor: Int64Sum,
  paid_minor: Int64Sum,
  rejected_minor: Int64Sum,
  reversed_minor: Int64Sum,
  conversions: Int64Sum,
  revenue_minor: Int64Sum,
  revenue_currency: z.string(),
  revenue_currency_max: z.string(),
  clicks: Int64Sum,
  unique_clicks: Int64Sum,
  bot_clicks: Int64Sum,
  flagged_conversions: Int64Sum,
});
export type CommissionReportRow = z.infer<typeof CommissionReportRow>;

const SORT_EXPR: Record<SortKey, string> = {
  key: "k",
  total: "pending_minor + approved_minor + payable_minor + paid_minor",
  payable: "payable_minor",
  conversions: "conversions",
  clicks: "clicks",
  revenue: "revenue_minor",
};

/** The ledger columns a report reads (the rest, ids and times of record, stay on disk). */
const REPORT_COLUMNS = raw(
  "event_time, status, payable_at, commission_minor, commission_currency, entry_type, order_amount_minor, order_currency, influencer_id, campaign_id, merchant_id",
);

/**
 * UTC month starts cutting the period: the ledger's partitions (toYYYYMM(event_time)). FINAL deduplicates within a
 * partition (a replay writes an identical row, same event time), so one FINAL per month equals one FINAL over the
 * period; on 18.16 a single FINAL merges every part of the period in one stream, while UNION ALL branches run in
 * parallel (max_threads), and each branch reads one partition (docs/adr/0006, "Long ledger reads").
 */
export function monthCuts(fromMs: number, toMs: number): number[] {
  const cuts = [fromMs];
  const d = new Date(fromMs);
  for (let m = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1); m < toMs; ) {
    cuts.push(m);
    const n = new Date(m);
    m = Date.UTC(n.getUTCFullYear(), n.getUTCMonth() + 1);
  }
  return [...cuts, toMs];
}

/** The period's ledger rows with FINAL: one FINAL per UTC month partition, as UNION ALL, when it spans several. */
function ledgerRows(q: CommissionReportQuery): Sql {
  const cuts = monthCuts(q.fromMs, q.toMs);
  if (cuts.length <= 2) return sql`${ident(LEDGER_TABLE)} FINAL WHERE ${ledgerWhere(q)}`;
  const months = cuts
    .slice(1)
    .map(
      (toMs, i) =>
        sql`SELECT ${REPORT_COLUMNS} FROM ${ident(LEDGER_TABLE)} FINAL WHERE ${ledgerWhere({ ...q, fromMs: cuts[i] ?? q.fromMs, toMs })}`,
    );
  return sql`(${join(months, " UNION ALL ")}) AS ledger_months`;
}

/**
 * Conversions count sale entries: a sale enters the ledger once per order (its event id is derived from the order),
 * and FINAL collapses replays; counting them is exact and about twice as fast as uniqExact(conversion_id).
 * Revenue is shown only when the group's orders share one currency (min = max).
 */
function ledgerAggregate(q: CommissionReportQuery): Sql {
  const s = (status: ReportStatus) => statusCondition(status, q.asOfMs);
  return sql`SELECT ${keyExpr(q.groupBy, "event_time", q.timeZone)} AS k, toString(commission_currency) AS currency,
      sumIf(commission_minor, ${s("pending")}) AS pending_minor,
      sumIf(commission_minor, ${s("review")}) AS review_minor,
      sumIf(commission_minor, ${s("approved")}) AS approved_minor,
      sumIf(commission_minor, ${s("payable")}) AS payable_minor,
      sumIf(commission_minor, ${s("paid")}) AS paid_minor,
      sumIf(commission_minor, ${s("rejected")}) AS rejected_minor,
      sumIf(commission_minor, ${s("reversed")}) AS reversed_minor,
      countIf(entry_type = 'sale') AS conversions,
      sumIf(order_amount_minor, status IN ('pending', 'review', 'approved')) AS revenue_minor,
      toString(minIf(order_currency, entry_type = 'sale')) AS revenue_currency,
      toString(maxIf(order_currency, entry_type = 'sale')) AS revenue_currency_max
    FROM ${ledgerRows(q)}
    GROUP BY k, currency`;
}

/**
 * Unique clicks are counted exactly here (non-bot clicks, distinct per link, IP, user agent and UTC hour) rather
 * than from the redirect's is_unique flag, which each redirect instance sets from its own memory.
 */
function clicksAggregate(q: CommissionReportQuery): Sql {
  return sql`SELECT ${keyExpr(q.groupBy, "clicked_at", q.timeZone)} AS k,
      count() AS clicks,
      countIf(is_bot = 1) AS bot_clicks,
      uniqExactIf(link_id, ip, user_agent, toStartOfHour(clicked_at), is_bot = 0) AS unique_clicks
    FROM ${ident(CLICKS_TABLE)} FINAL
    WHERE ${clicksWhere(q)}
    GROUP BY k`;
}

/**
 * Which source answers: the ledger when asked for or when the aggregates cannot answer exactly: a flag filter (the
 * aggregates have no flags), or an `as_of` before the newest entry recorded in the period (the aggregates hold every
 * entry whatever its receive time; `newestMs` is that receive time, see reports/as-of.ts).
 */
export function planCommissionReport(q: CommissionReportQuery, newestMs = 0): ReportPlan {
  if (q.source === "ledger") return { source: "ledger", reason: "requested" };
  if (q.flags && q.flags.length > 0) return { source: "ledger", reason: "flag_filter" };
  if (newestMs > q.asOfMs) return { source: "ledger", reason: "as_of_before_last_recorded" };
  return planReport(q);
}

/** The plan, after reading the newest receive time of the period when the aggregates could answer. */
async function planWithClock(ch: Querier, q: CommissionReportQuery): Promise<ReportPlan> {
  const first = planCommissionReport(q);
  if (first.source === "ledger" || !q.asOfGiven) return first;
  return planCommissionReport(q, await newestRecorded(ch)(q));
}

/**
 * Commission per group and settlement currency, with click figures of the group joined in. Groups with clicks
 * but no ledger rows come back with an empty currency (unless a currency or status filter asks for money only).
 * Ties are broken by key then currency, so pages are stable. Joined subqueries carry aliases: ClickHouse 20.x and
 * later refuse them without (joined_subquery_requires_alias), 18.16 accepts both (docs/adr/0002).
 */
export function commissionReportSql(q: CommissionReportQuery, plan = planCommissionReport(q)): Sql {
  const moneyOnly = q.currency !== undefined || (q.statuses !== undefined && q.statuses.length > 0);
  const join = raw(moneyOnly ? "ANY LEFT JOIN" : "ALL FULL OUTER JOIN");
  const dir = raw(q.order === "desc" ? "DESC" : "ASC");
  const limit = q.limit === undefined ? raw("") : sql` LIMIT ${q.offset}, ${q.limit}`;
  const money = plan.source === "aggregate" ? cubeAggregate(q, plan.level) : ledgerAggregate(q);
  const clicks = plan.source === "aggregate" ? clicksCubeAggregate(q, plan.level) : clicksAggregate(q);
  return sql`SELECT k, currency, pending_minor, review_minor, approved_minor, payable_minor, paid_minor, rejected_minor,
      reversed_minor, conversions, revenue_minor, revenue_currency, revenue_currency_max, clicks, unique_clicks, bot_clicks,
      flagged_conversions
    FROM (
      SELECT k, currency, pending_minor, review_minor, approved_minor, payable_minor, paid_minor, rejected_minor,
        reversed_minor, conversions, revenue_minor, revenue_currency, revenue_currency_max, clicks, unique_clicks, bot_clicks
      FROM (${money}) AS money ${join} (${clicks}) AS traffic USING k
    ) AS money_and_traffic ANY LEFT JOIN (${flaggedAggregate(q)}) AS flagged USING k, currency
    ORDER BY ${raw(SORT_EXPR[q.sort])} ${dir}, k ASC, currency ASC${limit}`;
}

export type Sourced<T> = { source: ReportSource; rows: T };

/**
 * `ledger` runs the reports the ledger answers: a client with a longer request timeout, since a ledger read over a
 * long period sums every entry with FINAL and sends nothing until it is done (docs/adr/0006, "Long ledger reads").
 */
export function getCommissionReport(ch: Querier, ledger: Querier = ch) {
  return async (q: CommissionReportQuery): Promise<Sourced<CommissionReportRow[]>> => {
    const plan = await planWithClock(ch, q);
    const via = plan.source === "ledger" ? ledger : ch;
    const rows = await via.query(`commission_report_${plan.source}`, commissionReportSql(q, plan), CommissionReportRow);
    return { source: plan.source, rows };
  };
}

export function streamCommissionReport(ch: Querier, ledger: Querier = ch) {
  return async (q: CommissionReportQuery): Promise<Sourced<AsyncIterable<CommissionReportRow>>> => {
    const plan = await planWithClock(ch, q);
    const via = plan.source === "ledger" ? ledger : ch;
    const rows = via.stream(
      `commission_report_stream_${plan.source}`,
      commissionReportSql(q, plan),
      CommissionReportRow,
    );
    return { source: plan.source, rows };
  };
}
