import { z } from "zod";
import type { Inserter } from "./client";

export const LEDGER_TABLE = "commission_ledger_v1";
export const CONVERSIONS_TABLE = "conversions_v1";

export const LedgerStatus = z.enum(["pending", "approved", "rejected", "reversed"]);
export type LedgerStatus = z.infer<typeof LedgerStatus>;

export const LedgerRow = z.object({
  entry_id: z.string().length(32),
  event_id: z.string().length(32),
  conversion_id: z.string().length(32),
  merchant_id: z.number().int().min(0),
  campaign_id: z.number().int().min(0),
  influencer_id: z.number().int().min(0),
  entry_type: z.enum(["sale", "approve", "reject", "refund", "adjust"]),
  status: LedgerStatus,
  order_amount_minor: z.number().int(),
  order_currency: z.string().length(3),
  commission_minor: z.number().int(),
  commission_currency: z.string().length(3),
  event_time: z.string(),
  payable_at: z.string(),
  recorded_at: z.string(),
  version: z.number().int(),
});
export type LedgerRow = z.infer<typeof LedgerRow>;

export const ConversionRow = z.object({
  conversion_id: z.string().length(32),
  merchant_id: z.number().int().min(0),
  order_id: z.string(),
  campaign_id: z.number().int().min(0),
  influencer_id: z.number().int().min(0),
  link_id: z.number().int().min(0),
  click_id: z.string(),
  attribution: z.enum(["click", "coupon", "unattributed", "forged_click", "expired_click", "foreign_click"]),
  suspect: z.union([z.literal(0), z.literal(1)]),
  status: z.enum(["pending", "approved", "rejected", "refunded"]),
  order_amount_minor: z.number().int(),
  order_currency: z.string().length(3),
  commission_minor: z.number().int(),
  commission_currency: z.string().length(3),
  occurred_at: z.string(),
  version: z.number().int(),
});
export type ConversionRow = z.infer<typeof ConversionRow>;

export function insertLedgerEntries(ch: Inserter) {
  return (rows: readonly LedgerRow[]) => ch.insert("insert_ledger", LEDGER_TABLE, rows.map((r) => LedgerRow.parse(r)));
}

export function insertConversions(ch: Inserter) {
  return (rows: readonly ConversionRow[]) => ch.insert("insert_conversions", CONVERSIONS_TABLE, rows.map((r) => ConversionRow.parse(r)));
}
