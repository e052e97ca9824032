import { z } from "zod";
import type { Querier } from "../client";
import { Int64Sum } from "../int64";
import { LEDGER_TABLE } from "../ledger";
import { ident, join, sql } from "../sql";
import { type ReportFilter, scopeWhere, statusCondition } from "./filter";

/** Payouts look at the whole ledger up to `asOf` (a balance, not a period), within the caller's scope. */
export type PayoutQuery = Pick<ReportFilter, "asOfMs" | "merchantId" | "campaignId" | "influencerId" | "currency">;

export const PayableLine = z.object({
  influencer_id: z.number().int(),
  campaign_id: z.number().int(),
  currency: z.string(),
  payable_minor: Int64Sum,
  held_minor: Int64Sum,
});
export type PayableLine = z.infer<typeof PayableLine>;

/** Payable (approved, holding period over) and held (approved, still holding) balance per influencer, campaign, currency. */
export function getPayableLines(ch: Querier) {
  return (q: PayoutQuery) => {
    const f = { ...q, fromMs: 0, toMs: 0, timeZone: "UTC" };
    const parts = [sql`event_time <= ${new Date(q.asOfMs)}`, sql`status = 'approved'`, ...scopeWhere(f)];
    if (q.currency !== undefined) parts.push(sql`commission_currency = ${q.currency}`);
    return ch.query(
      "payable_lines",
      sql`SELECT influencer_id, campaign_id, toString(commission_currency) AS currency,
          sumIf(commission_minor, ${statusCondition("payable", q.asOfMs)}) AS payable_minor,
          sumIf(commission_minor, ${statusCondition("approved", q.asOfMs)}) AS held_minor
        FROM ${ident(LEDGER_TABLE)} FINAL
        WHERE ${join(parts, " AND ")}
        GROUP BY influencer_id, campaign_id, currency
        ORDER BY influencer_id, campaign_id, currency`,
      PayableLine,
    );
  };
}
