import type { CommissionReportRow, GroupBy, PayableLine, StatementLine } from "@aff/clickhouse";
import { divRoundHalfAway, formatMinor } from "@aff/common";

/** Shapes of report rows for JSON (minor units) and CSV (decimal strings, ISO dates). */

const KEY_NAME: Record<GroupBy, string> = {
  influencer: "influencer_id",
  campaign: "campaign_id",
  merchant: "merchant_id",
  day: "period",
  week: "period",
  month: "period",
};
export const keyName = (g: GroupBy): string => KEY_NAME[g];

/** 'YYYY-MM-DD hh:mm:ss' (UTC) -> ISO 8601 with Z. */
export const isoTime = (t: string): string => `${t.replace(" ", "T")}Z`;

/** quotient with 4 decimals, half away from zero ("0.0250"); null when the denominator is 0 */
function ratio(n: bigint, d: bigint): string | null {
  if (d <= 0n) return null;
  const q = divRoundHalfAway(n * 10_000n, d);
  return `${q / 10_000n}.${(q % 10_000n).toString().padStart(4, "0")}`;
}

export function commissionJson(r: CommissionReportRow, groupBy: GroupBy) {
  const currency = r.currency === "" ? null : r.currency;
  // commission earned and not taken back: review money is not earned until a review approves it
  const total = r.pending_minor + r.approved_minor + r.payable_minor + r.paid_minor;
  const billableClicks = r.clicks - r.bot_clicks;
  const oneRevenueCurrency = r.conversions > 0n && r.revenue_currency === r.revenue_currency_max;
  return {
    [keyName(groupBy)]: r.k,
    currency,
    pending_minor: r.pending_minor,
    review_minor: r.review_minor,
    approved_minor: r.approved_minor,
    payable_minor: r.payable_minor,
    paid_minor: r.paid_minor,
    rejected_minor: r.rejected_minor,
    reversed_minor: r.reversed_minor,
    total_minor: total,
    conversions: r.conversions,
    flagged_conversions: r.flagged_conversions,
    revenue_minor: oneRevenueCurrency ? r.revenue_minor : null,
    revenue_currency: oneRevenueCurrency ? r.revenue_currency : null,
    clicks: r.clicks,
    unique_clicks: r.unique_clicks,
    bot_clicks: r.bot_clicks,
    /** commission (pending + approved + payable) per billable click, in currency units */
    epc:
      currency !== null && billableClicks > 0n ? formatMinor(divRoundHalfAway(total, billableClicks), currency) : null,
    /** conversions per unique click */
    conversion_rate: ratio(r.conversions, r.unique_clicks),
  };
}
export type CommissionJson = ReturnType<typeof commissionJson>;

const money = (v: bigint, currency: string | null): string => (currency === null ? "" : formatMinor(v, currency));

export const commissionCsvHeader = (g: GroupBy) => [
  keyName(g),
  "currency",
  "pending",
  "review",
  "approved",
  "payable",
  "paid",
  "rejected",
  "reversed",
  "total",
  "conversions",
  "flagged_conversions",
  "revenue",
  "revenue_currency",
  "clicks",
  "unique_clicks",
  "bot_clicks",
  "epc",
  "conversion_rate",
];

export function commissionCsv(j: CommissionJson, g: GroupBy): string[] {
  const c = j.currency;
  return [
    String(j[keyName(g)]),
    c ?? "",
    money(j.pending_minor, c),
    money(j.review_minor, c),
    money(j.approved_minor, c),
    money(j.payable_minor, c),
    money(j.paid_minor, c),
    money(j.rejected_minor, c),
    money(j.reversed_minor, c),
    money(j.total_minor, c),
    String(j.conversions),
    String(j.flagged_conversions),
    j.revenue_minor === null || j.revenue_currency === null ? "" : formatMinor(j.revenue_minor, j.revenue_currency),
    j.revenue_currency ?? "",
    String(j.clicks),
    String(j.unique_clicks),
    String(j.bot_clicks),
    j.epc ?? "",
    j.conversion_rate ?? "",
  ];
}

/** The finance status of a ledger line: approved lines whose holding period is over are payable. */
const reportStatus = (l: StatementLine, asOfMs: number) =>
  l.status === "approved" && Date.parse(isoTime(l.payable_at)) <= asOfMs ? "payable" : l.status;

export function statementJson(l: StatementLine, asOfMs: number) {
  return {
    entry_id: l.entry_id,
    event_time: isoTime(l.event_time),
    entry_type: l.entry_type,
    status: reportStatus(l, asOfMs),
    payable_at: isoTime(l.payable_at),
    conversion_id: l.conversion_id,
    order_id: l.order_id,
    attribution: l.attribution,
    flags: l.flags,
    conversion_status: l.conversion_status,
    merchant_id: l.merchant_id,
    campaign_id: l.campaign_id,
    influencer_id: l.influencer_id,
    order_amount_minor: l.order_amount_minor,
    order_currency: l.order_currency,
    commission_minor: l.commission_minor,
    commission_currency: l.commission_currency,
    history: l.history.map(([at, entryType, status, commissionMinor]) => ({
      at: isoTime(at),
      entry_type: entryType,
      status,
      commission_minor: commissionMinor,
    })),
  };
}
export type StatementJson = ReturnType<typeof statementJson>;

/** Merchant-supplied text could be read as a formula by spreadsheets (CSV injection): prefix such cells with a quote. */
const textCell = (v: string): string => (/^[=+\-@\t\r]/.test(v) ? `'${v}` : v);

export const statementCsvHeader = [
  "event_time",
  "entry_id",
  "entry_type",
  "status",
  "payable_at",
  "conversion_id",
  "order_id",
  "attribution",
  "flags",
  "conversion_status",
  "merchant_id",
  "campaign_id",
  "influencer_id",
  "order_amount",
  "order_currency",
  "commission",
  "commission_currency",
  "status_history",
];

export function statementCsv(j: StatementJson): (string | number)[] {
  const history = j.history
    .map((h) => `${h.at} ${h.entry_type} ${h.status} ${formatMinor(h.commission_minor, j.commission_currency)}`)
    .join("; ");
  return [
    j.event_time,
    j.entry_id,
    j.entry_type,
    j.status,
    j.payable_at,
    j.conversion_id,
    textCell(j.order_id),
    j.attribution,
    j.flags.join(" "),
    j.conversion_status,
    j.merchant_id,
    j.campaign_id,
    j.influencer_id,
    formatMinor(j.order_amount_minor, j.order_currency),
    j.order_currency,
    formatMinor(j.commission_minor, j.commission_currency),
    j.commission_currency,
    history,
  ];
}

export type PayoutRow = {
  influencer_id: number;
  currency: string;
  payable_minor: bigint;
  eligible_minor: bigint;
  held_minor: bigint;
  campaigns: {
    campaign_id: number;
    payable_minor: bigint;
    held_minor: bigint;
    min_payout_minor: number;
    eligible: boolean;
  }[];
};

/** Sums payable lines per influencer and currency; a campaign's balance is paid only once it reaches its threshold. */
export function payoutRows(lines: readonly PayableLine[], minPayout: (campaignId: number) => number): PayoutRow[] {
  const out = new Map<string, PayoutRow>();
  for (const l of lines) {
    const key = `${l.influencer_id}:${l.currency}`;
    let row = out.get(key);
    if (!row) {
      row = {
        influencer_id: l.influencer_id,
        currency: l.currency,
        payable_minor: 0n,
        eligible_minor: 0n,
        held_minor: 0n,
        campaigns: [],
      };
      out.set(key, row);
    }
    const min = minPayout(l.campaign_id);
    const eligible = l.payable_minor > 0n && l.payable_minor >= BigInt(min);
    row.payable_minor += l.payable_minor;
    row.held_minor += l.held_minor;
    if (eligible) row.eligible_minor += l.payable_minor;
    row.campaigns.push({
      campaign_id: l.campaign_id,
      payable_minor: l.payable_minor,
      held_minor: l.held_minor,
      min_payout_minor: min,
      eligible,
    });
  }
  return [...out.values()];
}

export const payoutCsvHeader = ["influencer_id", "currency", "payable", "eligible", "held"];
export const payoutCsv = (r: PayoutRow) => [
  r.influencer_id,
  r.currency,
  formatMinor(r.payable_minor, r.currency),
  formatMinor(r.eligible_minor, r.currency),
  formatMinor(r.held_minor, r.currency),
];
