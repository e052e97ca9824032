import { z } from "zod";
import { FLAGS_TABLE } from "../outcomes";
import { ident, join, literal, raw, type Sql, sql } from "../sql";

/**
 * The statuses finance works with. "payable" is the part of the ledger's "approved" bucket whose holding period is
 * over at the report's `as of` instant, and "approved" then means approved but still held. "review" is commission of
 * a suspect conversion held until the merchant or an admin approves or rejects it; "paid" is money a payout run paid.
 */
export const ReportStatus = z.enum(["pending", "review", "approved", "payable", "paid", "rejected", "reversed"]);
export type ReportStatus = z.infer<typeof ReportStatus>;

/** Every filter a report accepts, already validated (see services/reports/src/query.ts). */
export type ReportFilter = {
  fromMs: number;
  toMs: number;
  /** IANA zone for day/week/month buckets (validated against Intl by the caller) */
  timeZone: string;
  /** what we knew at this instant (entries recorded by then) and when approved money counts as payable */
  asOfMs: number;
  /** true when the caller gave `as_of`; without it (now) nothing can have been recorded later, so no check is needed */
  asOfGiven?: boolean;
  merchantId?: number;
  campaignId?: number;
  influencerId?: number;
  statuses?: readonly ReportStatus[];
  currency?: string;
  /** only conversions carrying any of these flags (click_after_sale, too_fast, bot_click, ...) */
  flags?: readonly string[];
};

/** Entries recorded (received) at or before `as_of`: the second clock, see reports/as-of.ts and docs/adr/0006. */
export function recordedBy(asOfMs: number): Sql {
  return sql`version <= ${Math.floor(asOfMs)}`;
}

/** Conversions carrying any of the flags (flags are frozen with the sale, so this never changes with `as_of`). */
export function flaggedConversions(flags: readonly string[]): Sql {
  return sql`conversion_id IN (SELECT conversion_id FROM ${ident(FLAGS_TABLE)} WHERE hasAny(flags, [${join(
    flags.map((f) => sql`${f}`),
    ", ",
  )}]))`;
}

/** SQL condition selecting the ledger rows of one report status. */
export function statusCondition(status: ReportStatus, asOfMs: number): Sql {
  const asOf = new Date(asOfMs);
  switch (status) {
    case "approved":
      return sql`(status = 'approved' AND payable_at > ${asOf})`;
    case "payable":
      return sql`(status = 'approved' AND payable_at <= ${asOf})`;
    default:
      return sql`status = ${status}`;
  }
}

/** Scope filters shared by the ledger and the clicks table (both carry merchant, campaign and influencer ids). */
export function scopeWhere(f: ReportFilter): Sql[] {
  const parts: Sql[] = [];
  if (f.influencerId !== undefined) parts.push(sql`influencer_id = ${f.influencerId}`);
  if (f.campaignId !== undefined) parts.push(sql`campaign_id = ${f.campaignId}`);
  if (f.merchantId !== undefined) parts.push(sql`merchant_id = ${f.merchantId}`);
  return parts;
}

/**
 * WHERE clause over commission_ledger_v1 for a filter: period on event_time, entries recorded by `as_of`, scope,
 * statuses, currency, flags.
 */
export function ledgerWhere(f: ReportFilter): Sql {
  const parts = [
    sql`event_time >= ${new Date(f.fromMs)}`,
    sql`event_time < ${new Date(f.toMs)}`,
    recordedBy(f.asOfMs),
    ...scopeWhere(f),
  ];
  if (f.flags && f.flags.length > 0) parts.push(flaggedConversions(f.flags));
  if (f.statuses && f.statuses.length > 0)
    parts.push(
      sql`(${join(
        f.statuses.map((s) => statusCondition(s, f.asOfMs)),
        " OR ",
      )})`,
    );
  if (f.currency !== undefined) parts.push(sql`commission_currency = ${f.currency}`);
  return join(parts, " AND ");
}

/** WHERE clause over clicks_raw_v1: same period and scope (statuses and currency do not apply to clicks). */
export function clicksWhere(f: ReportFilter): Sql {
  return join(
    [sql`clicked_at >= ${new Date(f.fromMs)}`, sql`clicked_at < ${new Date(f.toMs)}`, ...scopeWhere(f)],
    " AND ",
  );
}

/** The zone as a SQL string literal (the value was checked against Intl's list before it got here). */
export const zoneLiteral = (timeZone: string): Sql => raw(literal(timeZone));

export const GroupBy = z.enum(["influencer", "campaign", "merchant", "day", "week", "month"]);
export type GroupBy = z.infer<typeof GroupBy>;

/** The bucket expression of a grouping over a time column (ids for entity groupings, local dates for periods). */
export function keyExpr(groupBy: GroupBy, time: string | Sql, timeZone: string): Sql {
  const t = typeof time === "string" ? ident(time) : time;
  const tz = zoneLiteral(timeZone);
  switch (groupBy) {
    case "influencer":
      return raw("influencer_id");
    case "campaign":
      return raw("campaign_id");
    case "merchant":
      return raw("merchant_id");
    case "day":
      return sql`toDate(${t}, ${tz})`;
    case "week":
      return sql`toMonday(${t}, ${tz})`;
    case "month":
      return sql`toStartOfMonth(${t}, ${tz})`;
  }
}
