import { CommissionRule, convertMinor } from "@aff/catalog";
import type { ConversionRow, LedgerRow, LedgerStatus } from "@aff/clickhouse";
import { Attribution, toDateTimeText } from "@aff/clickhouse";
import { applyBasisPoints, deterministicId, divRoundHalfAway } from "@aff/common";
import type { ConversionEvent } from "@aff/events";
import { z } from "zod";

const DAY_MS = 86_400_000;

/** How a sale was credited, frozen when the sale is first processed so that a replay never re-decides it. */
export const Resolution = z.object({
  attribution: Attribution,
  campaign_id: z.number().int().min(0),
  influencer_id: z.number().int().min(0),
  link_id: z.number().int().min(0),
  suspect: z.boolean(),
  flags: z.array(z.string()),
  commission: CommissionRule,
  commission_currency: z.string().length(3),
  fx_rate: z.string(),
  settlement_amount_minor: z.number().int(),
  holding_days: z.number().int().min(0),
});
export type Resolution = z.infer<typeof Resolution>;

/** One event of a conversion's history: `seq` is the order it is applied in (the Kafka offset of its first delivery). */
export type HistoryEvent = { event: ConversionEvent; seq: number; resolution?: Resolution };

/** What became of one event when the history was applied; logged and counted for the batch's own events. */
export type Outcome =
  | "applied"
  | "parked"
  | "parked_expired"
  | "duplicate_sale"
  | "ignored_not_pending"
  | "ignored_rejected"
  | "refund_capped"
  | "refund_exceeds_sale"
  | "ignored_currency_mismatch"
  | "ignored_unattributed";

export type ConversionBooks = {
  conversion?: ConversionRow;
  ledger: LedgerRow[];
  outcomes: Map<string, Outcome>;
  saleEventId?: string;
};

/** Commission in settlement minor units for an order amount: basis points of the converted amount, or fixed. */
export function commissionOf(
  r: Pick<Resolution, "commission" | "commission_currency" | "fx_rate">,
  orderMinor: number,
  orderCurrency: string,
): number {
  const rule: CommissionRule = r.commission;
  if (rule.type === "fixed") return rule.amount_minor;
  return applyBasisPoints(convertMinor(orderMinor, orderCurrency, r.commission_currency, r.fx_rate), rule.bps);
}

type Buckets = Record<LedgerStatus, number>;

type State = {
  status: "pending" | "approved" | "rejected";
  amount: number;
  commission: number;
  refunded: number;
  buckets: Buckets;
  approvedPayableAtMs: number;
};

/** Dedupes by event id (the first delivery wins) and orders by seq. */
export function normaliseHistory(history: readonly HistoryEvent[]): HistoryEvent[] {
  const byId = new Map<string, HistoryEvent>();
  for (const h of history) {
    const seen = byId.get(h.event.event_id);
    if (!seen || h.seq < seen.seq || (h.seq === seen.seq && !seen.resolution && h.resolution))
      byId.set(h.event.event_id, h);
  }
  return [...byId.values()].sort((a, b) => a.seq - b.seq || a.event.event_id.localeCompare(b.event.event_id));
}

/**
 * The books of one conversion as a pure function of its history: the first sale (by seq) opens it, every other
 * event is applied after it in seq order. Status changes seen before any sale are parked (no entry) and take effect
 * once the sale is in the history, unless they are older than `parkedRetentionMs` relative to the sale.
 * Appending events never changes the entries of earlier ones, so rewriting all entries is idempotent.
 */
export function computeBooks(history: readonly HistoryEvent[], opts: { parkedRetentionMs: number }): ConversionBooks {
  const events = normaliseHistory(history);
  const outcomes = new Map<string, Outcome>();
  const sale = events.find((h) => h.event.type === "sale" && h.resolution);
  if (!sale?.resolution) {
    for (const h of events) outcomes.set(h.event.event_id, "parked");
    return { ledger: [], outcomes };
  }
  const res = sale.resolution;
  const e = sale.event;
  const amount = e.amount_minor ?? 0;
  const currency = e.currency ?? "XXX";
  const commission = res.campaign_id > 0 ? commissionOf(res, amount, currency) : 0;
  const st: State = {
    status: "pending",
    amount,
    commission,
    refunded: 0,
    buckets: { pending: commission, approved: 0, rejected: 0, reversed: 0 },
    approvedPayableAtMs: 0,
  };
  const ledger: LedgerRow[] = [];
  const attributed = res.campaign_id > 0;
  const entry = (
    ev: ConversionEvent,
    status: LedgerStatus,
    commissionMinor: number,
    orderMinor: number,
    payableAtMs = ev.occurred_at_ms,
  ): LedgerRow => ({
    entry_id: deterministicId(ev.event_id, status),
    event_id: ev.event_id,
    conversion_id: e.conversion_id,
    merchant_id: e.merchant_id,
    campaign_id: res.campaign_id,
    influencer_id: res.influencer_id,
    entry_type: ev.type,
    status,
    order_amount_minor: orderMinor,
    order_currency: currency,
    commission_minor: commissionMinor,
    commission_currency: res.commission_currency,
    event_time: toDateTimeText(ev.occurred_at_ms),
    payable_at: toDateTimeText(payableAtMs),
    recorded_at: toDateTimeText(ev.received_at_ms),
    version: ev.received_at_ms,
  });
  /** Moves commission and order amount between two buckets as two entries of one event. */
  const move = (ev: ConversionEvent, from: LedgerStatus, to: LedgerStatus, c: number, order: number) => {
    st.buckets[from] -= c;
    st.buckets[to] += c;
    if (!attributed) return;
    const fromPayable = from === "approved" ? Math.max(ev.occurred_at_ms, st.approvedPayableAtMs) : ev.occurred_at_ms;
    const toPayable = to === "approved" ? st.approvedPayableAtMs : ev.occurred_at_ms;
    ledger.push(entry(ev, from, -c, -order, fromPayable), entry(ev, to, c, order, toPayable));
  };
  if (attributed) ledger.push(entry(e, "pending", commission, amount));
  outcomes.set(e.event_id, attributed ? "applied" : "ignored_unattributed");

  for (const h of events) {
    if (h === sale) continue;
    const ev = h.event;
    if (ev.type === "sale") {
      outcomes.set(ev.event_id, "duplicate_sale");
      continue;
    }
    if (h.seq < sale.seq && ev.received_at_ms < e.received_at_ms - opts.parkedRetentionMs) {
      outcomes.set(ev.event_id, "parked_expired");
      continue;
    }
    outcomes.set(
      ev.event_id,
      applyChange(
        st,
        ev,
        move,
        (delta, order) =>
          attributed &&
          ledger.push(
            entry(ev, st.status, delta, order, st.status === "approved" ? st.approvedPayableAtMs : ev.occurred_at_ms),
          ),
        res,
        currency,
      ),
    );
  }

  const refundedAll = st.amount > 0 && st.refunded >= st.amount && st.status !== "rejected";
  const conversion: ConversionRow = {
    conversion_id: e.conversion_id,
    merchant_id: e.merchant_id,
    order_id: e.order_id,
    campaign_id: res.campaign_id,
    influencer_id: res.influencer_id,
    link_id: res.link_id,
    click_id: e.click_id ?? "",
    attribution: res.attribution,
    suspect: res.suspect ? 1 : 0,
    status: refundedAll ? "refunded" : st.status,
    order_amount_minor: st.amount,
    order_currency: currency,
    commission_minor: st.status === "rejected" ? 0 : st.buckets[st.status],
    commission_currency: res.commission_currency,
    occurred_at: toDateTimeText(e.occurred_at_ms),
    // grows with the history (the max receive time never falls; the count breaks ties), so the latest state wins
    version: Math.max(...events.map((h) => h.event.received_at_ms)) * 1000 + Math.min(999, events.length),
  };
  if (!attributed) for (const [id, o] of outcomes) if (o === "applied") outcomes.set(id, "ignored_unattributed");
  return { conversion, ledger, outcomes, saleEventId: e.event_id };
}

/** Applies one status change to the state; returns its outcome. */
function applyChange(
  st: State,
  ev: ConversionEvent,
  move: (ev: ConversionEvent, from: LedgerStatus, to: LedgerStatus, c: number, order: number) => void,
  adjustEntry: (delta: number, order: number) => void,
  res: Resolution,
  currency: string,
): Outcome {
  if (st.status === "rejected") return "ignored_rejected";
  const remainingOrder = st.amount - st.refunded;
  switch (ev.type) {
    case "approve": {
      if (st.status !== "pending") return "ignored_not_pending";
      st.approvedPayableAtMs = ev.occurred_at_ms + res.holding_days * DAY_MS;
      const c = st.buckets.pending;
      st.status = "approved";
      move(ev, "pending", "approved", c, remainingOrder);
      return "applied";
    }
    case "reject": {
      const from = st.status;
      move(ev, from, "rejected", st.buckets[from], remainingOrder);
      st.status = "rejected";
      return "applied";
    }
    case "refund": {
      if (ev.currency && ev.currency !== currency) return "ignored_currency_mismatch";
      if (remainingOrder <= 0) return "refund_exceeds_sale";
      const asked = ev.amount_minor ?? 0;
      const r = Math.min(asked, remainingOrder);
      // cumulative rounding: the reversed total always equals round(commission x refunded / amount), so a full refund reverses exactly all of it
      const target = Number(divRoundHalfAway(BigInt(st.commission) * BigInt(st.refunded + r), BigInt(st.amount)));
      const c = Math.max(0, Math.min(st.buckets[st.status], target - st.buckets.reversed));
      st.refunded += r;
      move(ev, st.status, "reversed", c, r);
      return asked > remainingOrder ? "refund_capped" : "applied";
    }
    case "adjust": {
      if (ev.currency && ev.currency !== currency) return "ignored_currency_mismatch";
      const total = Math.max(ev.amount_minor ?? st.amount, st.refunded);
      const newCommission = res.campaign_id > 0 ? commissionOf(res, total, currency) : 0;
      const newBucket = Math.max(0, newCommission - st.buckets.reversed);
      const delta = newBucket - st.buckets[st.status];
      const orderDelta = total - st.amount;
      st.buckets[st.status] += delta;
      st.amount = total;
      st.commission = newCommission;
      if (delta !== 0 || orderDelta !== 0) adjustEntry(delta, orderDelta);
      return "applied";
    }
    default:
      return "duplicate_sale";
  }
}
