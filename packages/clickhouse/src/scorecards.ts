import { z } from "zod";
import { CLICKS_TABLE } from "./clicks";
import type { Querier } from "./client";
import { Int64Text } from "./int64";
import { CONVERSIONS_TABLE, LEDGER_TABLE } from "./ledger";
import { ident, join, raw, type Sql, sql } from "./sql";

/**
 * Scorecard figures for influencers, summed exactly from the raw tables (read with FINAL, like the reports; see
 * docs/adr/0007). Three queries run side by side and are merged by key in the caller, since they count different
 * things at different times:
 * - clicks (clicks_raw_v1, by click time): traffic, its bot share, exact unique clicks;
 * - conversions (conversions_v1, the sale's cohort by sale time): current status of each sale credited in the period,
 *   whether it was suspect and how it was credited;
 * - money (commission_ledger_v1, by entry time, per settlement and order currency): commission, payable, reversed,
 *   order values. Money is never added across currencies.
 */

/** Dimensions a scorecard can be cut by. `own`: 1 for the given merchant's rows; `half`: 1 current period, 0 previous. */
export const ScoreDim = z.enum(["influencer", "campaign", "merchant", "own", "half", "week"]);
export type ScoreDim = z.infer<typeof ScoreDim>;

export type ScoreFilter = {
  /** current period [fromMs, toMs) */
  fromMs: number;
  toMs: number;
  /** when set, the previous period [prevFromMs, fromMs) is read too and told apart by the `half` dimension */
  prevFromMs?: number;
  /** instant at which approved commission counts as payable */
  asOfMs: number;
  influencerIds?: readonly number[];
  campaignIds?: readonly number[];
  merchantId?: number;
  /** merchant whose rows the `own` dimension marks */
  ownMerchantId?: number;
  dims: readonly ScoreDim[];
};

function dimExpr(d: ScoreDim, f: ScoreFilter, time: Sql): Sql {
  switch (d) {
    case "influencer":
      return raw("influencer_id");
    case "campaign":
      return raw("campaign_id");
    case "merchant":
      return raw("merchant_id");
    case "own":
      return sql`toUInt8(merchant_id = ${f.ownMerchantId ?? 0})`;
    case "half":
      return sql`toUInt8(${time} >= ${new Date(f.fromMs)})`;
    case "week":
      return sql`toString(toMonday(${time}))`;
  }
}

/** `(a, b, c)` for IN (18.16 refuses an array literal there); an empty list matches nothing. */
function idList(ids: readonly number[]): Sql {
  return ids.length === 0
    ? raw("(0)")
    : sql`(${join(
        ids.map((i) => sql`${i}`),
        ", ",
      )})`;
}

function where(f: ScoreFilter, time: Sql, extra: Sql[] = []): Sql {
  const parts = [
    sql`${time} >= ${new Date(f.prevFromMs ?? f.fromMs)}`,
    sql`${time} < ${new Date(f.toMs)}`,
    raw("campaign_id > 0"),
    ...extra,
  ];
  if (f.influencerIds) parts.push(sql`influencer_id IN ${idList(f.influencerIds)}`);
  if (f.campaignIds) parts.push(sql`campaign_id IN ${idList(f.campaignIds)}`);
  if (f.merchantId !== undefined) parts.push(sql`merchant_id = ${f.merchantId}`);
  return join(parts, " AND ");
}

function keys(f: ScoreFilter, time: Sql): { select: Sql; group: Sql } {
  if (f.dims.length === 0) return { select: raw(""), group: raw("") };
  const exprs = f.dims.map((d) => sql`${dimExpr(d, f, time)} AS ${ident(`d_${d}`)}`);
  return {
    select: sql`${join(exprs, ", ")}, `,
    group: sql` GROUP BY ${join(
      f.dims.map((d) => ident(`d_${d}`)),
      ", ",
    )}`,
  };
}

const Dims = {
  d_influencer: z.number().int().optional(),
  d_campaign: z.number().int().optional(),
  d_merchant: z.number().int().optional(),
  d_own: z.number().int().optional(),
  d_half: z.number().int().optional(),
  d_week: z.string().optional(),
};

export const ClickCells = z.object({
  ...Dims,
  clicks: Int64Text,
  bot_clicks: Int64Text,
  unique_clicks: Int64Text,
  weeks: z.array(z.string()),
  merchants: z.array(z.number().int()),
});
export type ClickCells = z.infer<typeof ClickCells>;

export function clickCellsSql(f: ScoreFilter): Sql {
  const t = raw("clicked_at");
  const k = keys(f, t);
  return sql`SELECT ${k.select}count() AS clicks, countIf(is_bot = 1) AS bot_clicks,
      uniqExactIf(link_id, ip, user_agent, toStartOfHour(clicked_at), is_bot = 0) AS unique_clicks,
      arrayMap(w -> toString(w), groupUniqArrayIf(toMonday(clicked_at), is_bot = 0)) AS weeks,
      groupUniqArray(merchant_id) AS merchants
    FROM ${ident(CLICKS_TABLE)} FINAL
    WHERE ${where(f, t)}${k.group}`;
}

export const ConversionCells = z.object({
  ...Dims,
  conversions: Int64Text,
  click_conversions: Int64Text,
  suspect: Int64Text,
  pending: Int64Text,
  approved: Int64Text,
  rejected: Int64Text,
  refunded: Int64Text,
  weeks: z.array(z.string()),
  merchants: z.array(z.number().int()),
});
export type ConversionCells = z.infer<typeof ConversionCells>;

/** Credited sales by sale time, with their current status ('refunded' is a refund of the whole order). */
export function conversionCellsSql(f: ScoreFilter): Sql {
  const t = raw("occurred_at");
  const k = keys(f, t);
  return sql`SELECT ${k.select}count() AS conversions, countIf(attribution = 'click') AS click_conversions,
      countIf(suspect = 1) AS suspect, countIf(status = 'pending') AS pending, countIf(status = 'approved') AS approved,
      countIf(status = 'rejected') AS rejected, countIf(status = 'refunded') AS refunded,
      arrayMap(w -> toString(w), groupUniqArray(toMonday(occurred_at))) AS weeks,
      groupUniqArray(merchant_id) AS merchants
    FROM ${ident(CONVERSIONS_TABLE)} FINAL
    WHERE ${where(f, t, [raw("attribution IN ('click', 'coupon')")])}${k.group}`;
}

export const MoneyCells = z.object({
  ...Dims,
  commission_currency: z.string(),
  order_currency: z.string(),
  sales: Int64Text,
  sales_order_minor: Int64Text,
  earned_minor: Int64Text,
  payable_minor: Int64Text,
  reversed_minor: Int64Text,
  revenue_minor: Int64Text,
});
export type MoneyCells = z.infer<typeof MoneyCells>;

/**
 * Ledger money per settlement and order currency. earned = pending + approved net of reversals and rejections (the
 * commission the period's entries leave standing); payable = approved with the holding period over at as_of;
 * revenue = order amounts left standing (net of rejections and refunds), in the order currency.
 */
export function moneyCellsSql(f: ScoreFilter): Sql {
  const t = raw("event_time");
  const k = keys(f, t);
  const asOf = new Date(f.asOfMs);
  return sql`SELECT ${k.select}toString(commission_currency) AS commission_currency, toString(order_currency) AS order_currency,
      countIf(entry_type = 'sale') AS sales, sumIf(order_amount_minor, entry_type = 'sale') AS sales_order_minor,
      sumIf(commission_minor, status IN ('pending', 'approved')) AS earned_minor,
      sumIf(commission_minor, status = 'approved' AND payable_at <= ${asOf}) AS payable_minor,
      sumIf(commission_minor, status = 'reversed') AS reversed_minor,
      sumIf(order_amount_minor, status IN ('pending', 'approved')) AS revenue_minor
    FROM ${ident(LEDGER_TABLE)} FINAL
    WHERE ${where(f, t)}${k.group.text ? sql`${k.group}, commission_currency, order_currency` : raw(" GROUP BY commission_currency, order_currency")}`;
}

export type ScoreCells = { clicks: ClickCells[]; conversions: ConversionCells[]; money: MoneyCells[] };
export type ScorePart = keyof ScoreCells;

/** The cell sets of a filter, queried in parallel; parts not asked for come back empty (a rate ranking reads no money). */
export function getScoreCells(ch: Querier) {
  return async (
    f: ScoreFilter,
    parts: readonly ScorePart[] = ["clicks", "conversions", "money"],
  ): Promise<ScoreCells> => {
    const none = Promise.resolve([]);
    const [clicks, conversions, money] = await Promise.all([
      parts.includes("clicks") ? ch.query("scorecard_clicks", clickCellsSql(f), ClickCells) : none,
      parts.includes("conversions") ? ch.query("scorecard_conversions", conversionCellsSql(f), ConversionCells) : none,
      parts.includes("money") ? ch.query("scorecard_money", moneyCellsSql(f), MoneyCells) : none,
    ]);
    return { clicks, conversions, money };
  };
}
