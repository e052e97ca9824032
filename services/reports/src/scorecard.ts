import type { ClickCells, ConversionCells, MoneyCells, ScoreCells } from "@aff/clickhouse";
import { divRoundHalfAway } from "@aff/common";
import { perMinor, rateBps } from "./score-math";

/** Running totals of one scorecard (one influencer, niche, or both) before figures are derived. */
export type Acc = {
  clicks: number;
  botClicks: number;
  uniqueClicks: number;
  conversions: number;
  clickConversions: number;
  suspect: number;
  pending: number;
  approved: number;
  rejected: number;
  refunded: number;
  weeks: Set<string>;
  merchants: Set<number>;
  /** non-bot clicks on campaigns settling in each currency: the denominator of that currency's EPC */
  genuineClicksBy: Map<string, number>;
  /** per settlement currency */
  money: Map<
    string,
    { earned: number; payable: number; reversed: number; sales: number; sameRevenue: number; sameEarned: number }
  >;
  /** per order currency */
  orders: Map<string, { sales: number; orderMinor: number }>;
};

export const emptyAcc = (): Acc => ({
  clicks: 0,
  botClicks: 0,
  uniqueClicks: 0,
  conversions: 0,
  clickConversions: 0,
  suspect: 0,
  pending: 0,
  approved: 0,
  rejected: 0,
  refunded: 0,
  weeks: new Set(),
  merchants: new Set(),
  genuineClicksBy: new Map(),
  money: new Map(),
  orders: new Map(),
});

function addClicks(a: Acc, c: ClickCells, currency: string | undefined): void {
  a.clicks += c.clicks;
  a.botClicks += c.bot_clicks;
  a.uniqueClicks += c.unique_clicks;
  for (const w of c.weeks) a.weeks.add(w);
  for (const m of c.merchants) a.merchants.add(m);
  if (currency) a.genuineClicksBy.set(currency, (a.genuineClicksBy.get(currency) ?? 0) + c.clicks - c.bot_clicks);
}

function addConversions(a: Acc, c: ConversionCells): void {
  a.conversions += c.conversions;
  a.clickConversions += c.click_conversions;
  a.suspect += c.suspect;
  a.pending += c.pending;
  a.approved += c.approved;
  a.rejected += c.rejected;
  a.refunded += c.refunded;
  for (const w of c.weeks) a.weeks.add(w);
  for (const m of c.merchants) a.merchants.add(m);
}

function addMoney(a: Acc, c: MoneyCells): void {
  const m = a.money.get(c.commission_currency) ?? {
    earned: 0,
    payable: 0,
    reversed: 0,
    sales: 0,
    sameRevenue: 0,
    sameEarned: 0,
  };
  m.earned += c.earned_minor;
  m.payable += c.payable_minor;
  m.reversed += c.reversed_minor;
  m.sales += c.sales;
  if (c.order_currency === c.commission_currency) {
    m.sameRevenue += c.revenue_minor;
    m.sameEarned += c.earned_minor;
  }
  a.money.set(c.commission_currency, m);
  const o = a.orders.get(c.order_currency) ?? { sales: 0, orderMinor: 0 };
  o.sales += c.sales;
  o.orderMinor += c.sales_order_minor;
  a.orders.set(c.order_currency, o);
}

export type CampaignFacts = { merchantId: number; currency: string };

/**
 * Sums cells into accumulators. `keysOf` names the accumulators a cell's campaign (and period half) feeds: one cell
 * can feed several (the influencer's total and each niche its campaign targets). Cells carry the campaign dimension,
 * so unique clicks add up exactly (a link belongs to one campaign) and clicks can be split by settlement currency.
 */
export function accumulate(
  cells: ScoreCells,
  campaigns: ReadonlyMap<number, CampaignFacts>,
  keysOf: (cell: {
    d_campaign?: number;
    d_half?: number;
    d_influencer?: number;
    d_own?: number;
    d_week?: string;
  }) => string[],
): Map<string, Acc> {
  const out = new Map<string, Acc>();
  const each = <C extends { d_campaign?: number }>(rows: C[], add: (a: Acc, c: C) => void) => {
    for (const c of rows)
      for (const k of keysOf(c)) {
        const a = out.get(k) ?? emptyAcc();
        out.set(k, a);
        add(a, c);
      }
  };
  each(cells.clicks, (a, c) => addClicks(a, c, campaigns.get(c.d_campaign ?? 0)?.currency));
  each(cells.conversions, addConversions);
  each(cells.money, addMoney);
  return out;
}

/** Start (ms) of the UTC week, Monday, holding `ms`: the week ClickHouse's toMonday gives. */
export function mondayMs(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) - ((d.getUTCDay() + 6) % 7) * 86_400_000;
}

/** Weeks (Monday to Sunday, UTC) that overlap [fromMs, toMs). */
export function weeksInPeriod(fromMs: number, toMs: number): number {
  return Math.round((mondayMs(toMs - 1) - mondayMs(fromMs)) / (7 * 86_400_000)) + 1;
}

/** Decimal text of a / b with two places (half away from zero), or null. */
const ratio2 = (a: number, b: number) => {
  if (b <= 0) return null;
  const hundredths = divRoundHalfAway(BigInt(a) * 100n, BigInt(b));
  const sign = hundredths < 0n ? "-" : "";
  const abs = hundredths < 0n ? -hundredths : hundredths;
  return `${sign}${abs / 100n}.${(abs % 100n).toString().padStart(2, "0")}`;
};

/** Rates only: what a merchant may see of other merchants' campaigns (with the sample sizes behind each rate). */
export function ratesOf(a: Acc, weeks: number) {
  const decided = a.approved + a.rejected + a.refunded;
  return {
    clicks: a.clicks,
    unique_clicks: a.uniqueClicks,
    genuine_click_share_bps: rateBps(a.clicks - a.botClicks, a.clicks),
    conversion_rate_bps: rateBps(Math.min(a.clickConversions, a.uniqueClicks), a.uniqueClicks),
    genuine_conversion_share_bps: rateBps(a.conversions - a.suspect, a.conversions),
    decided_conversions: decided,
    approval_rate_bps: rateBps(a.approved + a.refunded, decided),
    refund_rate_bps: rateBps(a.refunded, a.approved + a.refunded),
    active_weeks: a.weeks.size,
    weeks_in_period: weeks,
    merchants: a.merchants.size,
  };
}

/** Every figure of a scorecard; money per currency, never added across currencies. */
export function scorecardOf(a: Acc, weeks: number) {
  return {
    ...ratesOf(a, weeks),
    bot_clicks: a.botClicks,
    conversions: a.conversions,
    click_conversions: a.clickConversions,
    coupon_conversions: a.conversions - a.clickConversions,
    suspect_conversions: a.suspect,
    pending: a.pending,
    approved: a.approved,
    rejected: a.rejected,
    refunded: a.refunded,
    money: [...a.money.entries()]
      .sort(([x], [y]) => x.localeCompare(y))
      .map(([currency, m]) => {
        const genuine = a.genuineClicksBy.get(currency) ?? 0;
        return {
          currency,
          commission_earned_minor: m.earned,
          commission_payable_minor: m.payable,
          commission_reversed_minor: m.reversed,
          sales: m.sales,
          genuine_clicks: genuine,
          epc_minor: perMinor(m.earned, genuine),
          cost_per_sale_minor: perMinor(m.earned, m.sales),
          revenue_minor: m.sameRevenue,
          revenue_per_commission: ratio2(m.sameRevenue, m.sameEarned),
        };
      }),
    order_values: [...a.orders.entries()]
      .sort(([x], [y]) => x.localeCompare(y))
      .filter(([, o]) => o.sales > 0)
      .map(([currency, o]) => ({ currency, orders: o.sales, aov_minor: perMinor(o.orderMinor, o.sales) })),
  };
}

/** Current against previous period: relative change of volumes, difference of rates (both in basis points). */
export function trendOf(cur: Acc, prev: Acc) {
  const change = (c: number, p: number) => rateBps(c - p, p);
  const rate = (a: Acc) => rateBps(Math.min(a.clickConversions, a.uniqueClicks), a.uniqueClicks);
  const cr = rate(cur);
  const pr = rate(prev);
  return {
    previous_clicks: prev.clicks,
    previous_conversions: prev.conversions,
    previous_conversion_rate_bps: pr,
    clicks_change_bps: change(cur.clicks, prev.clicks),
    conversions_change_bps: change(cur.conversions, prev.conversions),
    conversion_rate_delta_bps: cr === null || pr === null ? null : cr - pr,
  };
}
