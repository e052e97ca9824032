import { z } from "zod";
import type { Querier } from "./client";
import { LEDGER_TABLE } from "./ledger";
import { ident, join, type Sql, sql } from "./sql";

/** 64-bit integers arrive as JSON strings; keep them exact and refuse anything beyond the safe range. */
export const Int64Text = z.union([z.string().regex(/^-?\d+$/), z.number().int()]).transform((v, ctx) => {
  const n = typeof v === "number" ? v : Number(v);
  if (!Number.isSafeInteger(n)) {
    ctx.addIssue({ code: "custom", message: "integer beyond safe range" });
    return z.NEVER;
  }
  return n;
});

export const CommissionByInfluencerRow = z.object({
  influencer_id: z.number().int(),
  commission_currency: z.string(),
  pending_minor: Int64Text,
  approved_minor: Int64Text,
  rejected_minor: Int64Text,
  reversed_minor: Int64Text,
  conversions: Int64Text,
});
export type CommissionByInfluencerRow = z.infer<typeof CommissionByInfluencerRow>;

export type CommissionFilter = { fromMs: number; toMs: number; influencerId?: number; campaignId?: number; merchantId?: number; currency?: string };

function ledgerWhere(f: CommissionFilter): Sql {
  const parts = [sql`event_time >= ${new Date(f.fromMs)}`, sql`event_time < ${new Date(f.toMs)}`];
  if (f.influencerId !== undefined) parts.push(sql`influencer_id = ${f.influencerId}`);
  if (f.campaignId !== undefined) parts.push(sql`campaign_id = ${f.campaignId}`);
  if (f.merchantId !== undefined) parts.push(sql`merchant_id = ${f.merchantId}`);
  if (f.currency !== undefined) parts.push(sql`commission_currency = ${f.currency}`);
  return join(parts, " AND ");
}

/** Commission per influencer and settlement currency over [from, to), split by status bucket. */
export function getCommissionByInfluencer(ch: Querier) {
  return (f: CommissionFilter) =>
    ch.query(
      "commission_by_influencer",
      sql`SELECT influencer_id, commission_currency,
          sumIf(commission_minor, status = 'pending') AS pending_minor,
          sumIf(commission_minor, status = 'approved') AS approved_minor,
          sumIf(commission_minor, status = 'rejected') AS rejected_minor,
          sumIf(commission_minor, status = 'reversed') AS reversed_minor,
          uniqExactIf(conversion_id, entry_type = 'sale') AS conversions
        FROM ${ident(LEDGER_TABLE)} FINAL
        WHERE ${ledgerWhere(f)}
        GROUP BY influencer_id, commission_currency
        ORDER BY influencer_id, commission_currency`,
      CommissionByInfluencerRow,
    );
}
