import { CommissionRule, convertMinor } from "@aff/catalog";
import type { ConversionRow, LedgerRow, LedgerStatus } from "@aff/clickhouse";
import { Attribution, toDateTimeText } from "@aff/clickhouse";
import { applyBasisPoints, deterministicId, divRoundHalfAway, errorMessage } from "@aff/common";
import { AmountMinor, type ConversionEvent } from "@aff/events";
import { z } from "zod";

const DAY_MS = 86_400_000;
/** the last instant a ClickHouse DateTime holds (2106-02-07 06:28:15 UTC); later ones wrap silently */
const DATETIME_MAX_MS = 4_294_967_295_000;
/** the largest amount or commission the books accept: the bound of the event schema, which the reports' sums assume */
export const MAX_AMOUNT_MINOR = AmountMinor.maxValue ?? Number.MAX_SAFE_INTEGER;

/** 'YYYY-MM-DD hh:mm:ss' for a ClickHouse DateTime, or a RangeError: an instant it cannot hold is never written. */
export function dateTimeText(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms < 0 || ms > DATETIME_MAX_MS) throw new RangeError(`time out of range: ${ms}`);
  return toDateTimeText(ms);
}

/** True for an amount the books can hold: a safe integer within the schema's bound (never serialised as 1e+21). */
export function amountInRange(minor: number): boolean {
  return Number.isSafeInteger(minor) && Math.abs(minor) <= MAX_AMOUNT_MINOR;
}

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
  /**
   * commission on the net sale: the share of the order amount that is net of shipping and tax, frozen with the sale
   * (`net` of `total`), so refunds and adjustments of the order are scaled to the net too
   */
  net_share: z.object({ net: z.number().int().min(0), total: z.number().int().min(1) }).optional(),
  /** commission held for review (status review) until the merchant or an admin approves or rejects it */
  review: z.boolean().default(false),
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
  | "ignored_unattributed"
  | Refusal;

/**
 * Events the books refuse: applying them threw (a bug that data triggers) or would push an amount past
 * `MAX_AMOUNT_MINOR`. A refused event changes nothing; a new one is dead-lettered instead of stored.
 */
export type Refusal = "unbookable" | "amount_out_of_range";
export const isRefusal = (o: Outcome): o is Refusal => o === "unbookable" || o === "amount_out_of_range";

export type ConversionBooks = {
  conversion?: ConversionRow;
  ledger: LedgerRow[];
  outcomes: Map<string, Outcome>;
  /** refused events: the reason to dead-letter them with (`unbookable: <error>` or `amount_out_of_range`) */
  refused: Map<string, string>;
  saleEventId?: string;
};

/** Commission in settlement minor units for an order amount: basis points of the converted amount, or fixed. */
export function commissionOf(
  r: Pick<Resolution, "commission" | "commission_currency" | "fx_rate" | "net_share">,
  orderMinor: number,
  orderCurrency: string,
): number {
  const rule: CommissionRule = r.commission;
  if (rule.type === "fixed") return rule.amount_minor;
  const base = r.net_share
    ? Number(divRoundHalfAway(BigInt(orderMinor) * BigInt(r.net_share.net), BigInt(r.net_share.total)))
    : orderMinor;
  return applyBasisPoints(convertMinor(base, orderCurrency, r.commission_currency, r.fx_rate), rule.bps);
}

/** Thrown inside the books when an amount leaves the range they hold; the event is refused, not booked. */
class AmountOutOfRange extends RangeError {}

function checkedAmount(minor: number): number {
  if (!amountInRange(minor)) throw new AmountOutOfRange(`amount out of range: ${minor}`);
  return minor;
}

type Buckets = Record<LedgerStatus, number>;

type State = {
  status: "pending" | "review" | "approved" | "rejected";
  amount: number;
  commission: number;
  refunded: number;
  buckets: Buckets;
  approvedPayableAtMs: number;
  /**
   * When the books learned of the latest applied event: the running maximum of receive times in the order events are
   * applied. Entries are recorded at this instant, so the entries recorded by any `as_of` are the books after a prefix
   * of the history (an approval that waited for its sale is recorded when the sale arrived), and every invariant of
   * the books holds at every `as_of` (docs/adr/0006 "Two clocks").
   */
  recordedMs: number;
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

/** The books of a conversion once its sale opened them; events are applied to it in seq order. */
type Opened = {
  sale: ConversionEvent;
  seq: number;
  res: Resolution;
  currency: string;
  attributed: boolean;
  st: State;
  ledger: LedgerRow[];
};

function entry(
  o: Opened,
  ev: ConversionEvent,
  status: LedgerStatus,
  commissionMinor: number,
  orderMinor: number,
  payableAtMs = ev.occurred_at_ms,
): LedgerRow {
  const recordedMs = Math.max(o.st.recordedMs, ev.received_at_ms);
  return {
    entry_id: deterministicId(ev.event_id, status),
    event_id: ev.event_id,
    conversion_id: o.sale.conversion_id,
    merchant_id: o.sale.merchant_id,
    campaign_id: o.res.campaign_id,
    influencer_id: o.res.influencer_id,
    entry_type: ev.type,
    status,
    order_amount_minor: checkedAmount(orderMinor),
    order_currency: o.currency,
    commission_minor: checkedAmount(commissionMinor),
    commission_currency: o.res.commission_currency,
    event_time: dateTimeText(ev.occurred_at_ms),
    payable_at: dateTimeText(payableAtMs),
    recorded_at: dateTimeText(recordedMs),
    version: recordedMs,
  };
}

/** Opens the books with a sale: its pending entry, or a RangeError when an amount or time is out of range. */
function openBooks(h: HistoryEvent, res: Resolution): Opened {
  const e = h.event;
  const amount = checkedAmount(e.amount_minor ?? 0);
  const currency = e.currency ?? "XXX";
  const attributed = res.campaign_id > 0;
  const commission = attributed ? checkedAmount(commissionOf(res, amount, currency)) : 0;
  dateTimeText(e.occurred_at_ms);
  const first = res.review ? "review" : "pending";
  const o: Opened = {
    sale: e,
    seq: h.seq,
    res,
    currency,
    attributed,
    st: {
      status: first,
      amount,
      commission,
      refunded: 0,
      buckets: { pending: 0, review: 0, approved: 0, paid: 0, rejected: 0, reversed: 0, [first]: commission },
      approvedPayableAtMs: 0,
      recordedMs: e.received_at_ms,
    },
    ledger: [],
  };
  if (attributed) o.ledger.push(entry(o, e, first, commission, amount));
  return o;
}

/**
 * Moves commission and order amount between two buckets as two entries of one event. Every approved entry of a
 * conversion carries the approval's `payable_at`, reductions included: at any `as_of` a conversion's approved money
 * is either all held or all payable, so a refund or clawback reduces the part its money is in (held while the holding
 * period runs, payable after it) and held never goes negative (docs/adr/0006 "Held, payable and paid").
 */
function move(o: Opened, ev: ConversionEvent, from: LedgerStatus, to: LedgerStatus, c: number, order: number) {
  o.st.buckets[from] -= c;
  o.st.buckets[to] += c;
  if (!o.attributed) return;
  const payableAt = (s: LedgerStatus) => (s === "approved" ? o.st.approvedPayableAtMs : ev.occurred_at_ms);
  o.ledger.push(entry(o, ev, from, -c, -order, payableAt(from)), entry(o, ev, to, c, order, payableAt(to)));
}

/** Applies one change; one that throws is rolled back (state and entries) and refused, so it changes nothing. */
function applyOrRefuse(o: Opened, ev: ConversionEvent): { outcome: Outcome; refusal?: string } {
  const saved: State = { ...o.st, buckets: { ...o.st.buckets } };
  const entries = o.ledger.length;
  try {
    const outcome = applyChange(o, ev);
    o.st.recordedMs = Math.max(o.st.recordedMs, ev.received_at_ms);
    return { outcome };
  } catch (err) {
    o.st = saved;
    o.ledger.length = entries;
    return refusalOf(err);
  }
}

function refusalOf(err: unknown): { outcome: Refusal; refusal: string } {
  return err instanceof AmountOutOfRange
    ? { outcome: "amount_out_of_range", refusal: "amount_out_of_range" }
    : { outcome: "unbookable", refusal: `unbookable: ${errorMessage(err)}` };
}

/**
 * The books of one conversion as a pure function of its history: the first sale (by seq) that can be booked opens
 * it, every other event is applied after it in seq order. Status changes seen before any sale are parked (no entry)
 * and take effect once the sale is in the history, unless they are older than `parkedRetentionMs` relative to the
 * sale. Appending events never changes the entries of earlier ones, so rewriting all entries is idempotent.
 * It never throws: an event that cannot be booked is refused (`refused`) and changes nothing.
 */
export function computeBooks(history: readonly HistoryEvent[], opts: { parkedRetentionMs: number }): ConversionBooks {
  const events = normaliseHistory(history);
  const outcomes = new Map<string, Outcome>();
  const refused = new Map<string, string>();
  const record = (id: string, r: { outcome: Outcome; refusal?: string }) => {
    outcomes.set(id, r.outcome);
    if (r.refusal) refused.set(id, r.refusal);
  };
  let o: Opened | undefined;
  for (const h of events) {
    if (h.event.type !== "sale" || !h.resolution) continue;
    try {
      o = openBooks(h, h.resolution);
      break;
    } catch (err) {
      record(h.event.event_id, refusalOf(err));
    }
  }
  if (!o) {
    for (const h of events) if (!outcomes.has(h.event.event_id)) outcomes.set(h.event.event_id, "parked");
    return { ledger: [], outcomes, refused };
  }
  const e = o.sale;
  outcomes.set(e.event_id, o.attributed ? "applied" : "ignored_unattributed");
  for (const h of events) {
    const ev = h.event;
    if (ev === e || outcomes.has(ev.event_id)) continue;
    if (ev.type === "sale") outcomes.set(ev.event_id, "duplicate_sale");
    else if (h.seq < o.seq && ev.received_at_ms < e.received_at_ms - opts.parkedRetentionMs)
      outcomes.set(ev.event_id, "parked_expired");
    else record(ev.event_id, applyOrRefuse(o, ev));
  }
  if (!o.attributed) for (const [id, out] of outcomes) if (out === "applied") outcomes.set(id, "ignored_unattributed");
  return {
    conversion: conversionRow(o, events, refused),
    ledger: o.ledger,
    outcomes,
    refused,
    saleEventId: e.event_id,
  };
}

function conversionRow(o: Opened, events: readonly HistoryEvent[], refused: Map<string, string>): ConversionRow {
  const { sale: e, res, st } = o;
  const refundedAll = st.amount > 0 && st.refunded >= st.amount && st.status !== "rejected";
  const current =
    st.status === "rejected" ? 0 : st.buckets[st.status] + (st.status === "approved" ? st.buckets.paid : 0);
  // grows with the history (the max receive time never falls; the count breaks ties), so the latest state wins;
  // refused events are not part of the history (they are dead-lettered), a loop because histories can be long
  let maxReceivedMs = 0;
  let count = 0;
  for (const h of events) {
    if (refused.has(h.event.event_id)) continue;
    count++;
    if (h.event.received_at_ms > maxReceivedMs) maxReceivedMs = h.event.received_at_ms;
  }
  return {
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
    order_currency: o.currency,
    commission_minor: current,
    commission_currency: res.commission_currency,
    occurred_at: dateTimeText(e.occurred_at_ms),
    version: maxReceivedMs * 1000 + Math.min(999, count),
  };
}

/** Applies one status change to the state; returns its outcome. May throw (amount or time out of range). */
function applyChange(o: Opened, ev: ConversionEvent): Outcome {
  const st = o.st;
  // a payout records money that left: it applies whatever happened to the conversion since the run was made
  if (ev.type === "payout") return applyPayout(o, ev);
  if (st.status === "rejected") return "ignored_rejected";
  const remainingOrder = st.amount - st.refunded;
  switch (ev.type) {
    case "approve": {
      if (st.status !== "pending" && st.status !== "review") return "ignored_not_pending";
      // the holding period starts no earlier than the approval reached us: a backdated approval does not skip it
      st.approvedPayableAtMs = Math.max(ev.occurred_at_ms, ev.received_at_ms) + o.res.holding_days * DAY_MS;
      const from = st.status;
      st.status = "approved";
      move(o, ev, from, "approved", st.buckets[from], remainingOrder);
      return "applied";
    }
    case "reject": {
      // money already paid is clawed back: the approved bucket goes below zero by it, a debt the next run nets
      const from = st.status;
      move(o, ev, from, "rejected", st.buckets[from] + (from === "approved" ? st.buckets.paid : 0), remainingOrder);
      st.status = "rejected";
      return "applied";
    }
    case "refund": {
      if (ev.currency && ev.currency !== o.currency) return "ignored_currency_mismatch";
      if (remainingOrder <= 0) return "refund_exceeds_sale";
      const asked = ev.amount_minor ?? 0;
      const r = Math.min(asked, remainingOrder);
      // cumulative rounding: the reversed total always equals round(commission x refunded / amount), so a full refund reverses exactly all of it
      const target = Number(divRoundHalfAway(BigInt(st.commission) * BigInt(st.refunded + r), BigInt(st.amount)));
      // after a payout the approved bucket may go below zero: the debt is carried into the next payout run
      const left = st.buckets[st.status] + (st.status === "approved" ? st.buckets.paid : 0);
      const c = Math.max(0, Math.min(left, target - st.buckets.reversed));
      st.refunded += r;
      move(o, ev, st.status, "reversed", c, r);
      return asked > remainingOrder ? "refund_capped" : "applied";
    }
    case "adjust": {
      if (ev.currency && ev.currency !== o.currency) return "ignored_currency_mismatch";
      const total = checkedAmount(Math.max(ev.amount_minor ?? st.amount, st.refunded));
      const newCommission = o.attributed ? checkedAmount(commissionOf(o.res, total, o.currency)) : 0;
      const paid = st.status === "approved" ? st.buckets.paid : 0;
      const newBucket = Math.max(0, newCommission - st.buckets.reversed) - paid;
      const delta = newBucket - st.buckets[st.status];
      const orderDelta = total - st.amount;
      st.buckets[st.status] += delta;
      st.amount = total;
      st.commission = newCommission;
      const payableAtMs = st.status === "approved" ? st.approvedPayableAtMs : ev.occurred_at_ms;
      if ((delta !== 0 || orderDelta !== 0) && o.attributed)
        o.ledger.push(entry(o, ev, st.status, delta, orderDelta, payableAtMs));
      return "applied";
    }
    default:
      return "duplicate_sale";
  }
}

/** Moves what a payout line paid for this conversion from approved to paid (a negative amount recovered a debt). */
function applyPayout(o: Opened, ev: ConversionEvent): Outcome {
  const paid = ev.payout?.amount_minor ?? 0;
  if (paid === 0) return "applied";
  checkedAmount(paid);
  o.st.buckets.approved -= paid;
  o.st.buckets.paid += paid;
  if (o.attributed)
    o.ledger.push(
      entry(o, ev, "approved", -paid, 0, o.st.approvedPayableAtMs),
      entry(o, ev, "paid", paid, 0, ev.occurred_at_ms),
    );
  return "applied";
}
