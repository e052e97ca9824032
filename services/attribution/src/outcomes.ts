import type { ConversionFlagsRow, EventOutcome, OutcomeRow } from "@aff/clickhouse";
import { toDateTimeText } from "@aff/clickhouse";
import type { ConversionEvent } from "@aff/events";
import { type ConversionBooks, type HistoryEvent, normaliseHistory, type Outcome } from "./ledger-rules";

/** What a merchant reads for each outcome of the books: one of six words and a reason it can act on. */
const WORDS: Record<Outcome, { outcome: EventOutcome; reason: string }> = {
  applied: { outcome: "booked", reason: "" },
  parked: { outcome: "parked", reason: "waiting for its sale: applied when the sale arrives" },
  parked_expired: { outcome: "ignored", reason: "parked_expired: its sale arrived past the parking retention" },
  duplicate_sale: { outcome: "duplicate", reason: "duplicate_sale: the order already has a sale" },
  ignored_not_pending: { outcome: "ignored", reason: "not_pending: only a pending conversion can be approved" },
  ignored_rejected: { outcome: "ignored", reason: "conversion_rejected: a rejected conversion does not change" },
  refund_capped: { outcome: "booked", reason: "refund_capped: more than what was left of the order; capped" },
  refund_exceeds_sale: { outcome: "ignored", reason: "nothing_left_to_refund: the order is fully refunded" },
  ignored_currency_mismatch: { outcome: "ignored", reason: "currency_mismatch" },
  ignored_unattributed: { outcome: "ignored", reason: "not_credited: the conversion earns no commission" },
  unbookable: { outcome: "dead_lettered", reason: "unbookable" },
  amount_out_of_range: { outcome: "dead_lettered", reason: "amount_out_of_range" },
};

/** Why a sale earned nothing, from how it was (not) credited. */
const NOT_CREDITED: Record<string, string> = {
  unattributed: "no_click: no click id or valid coupon credits an influencer",
  forged_click: "forged_click: the click id's signature is not ours",
  expired_click: "expired_click: the sale is outside the campaign's attribution window",
  foreign_click: "foreign_click: the click belongs to another merchant's campaign",
};

function words(h: HistoryEvent, outcome: Outcome, books: ConversionBooks, sale?: HistoryEvent) {
  const e = h.event;
  if (outcome === "ignored_unattributed" && e.type === "sale") {
    const attribution = sale?.resolution?.attribution ?? "unattributed";
    return { outcome: "not_credited" as const, reason: NOT_CREDITED[attribution] ?? attribution };
  }
  if (outcome === "ignored_currency_mismatch")
    return {
      outcome: "ignored" as const,
      reason: `currency_mismatch: ${e.type} in ${e.currency ?? "?"}, the order is in ${sale?.event.currency ?? "?"}`,
    };
  const w = WORDS[outcome];
  if (outcome === "applied" && e.type === "sale" && sale?.resolution?.review)
    return { outcome: "booked" as const, reason: `held_for_review: ${sale.resolution.flags.join(", ")}` };
  return books.refused.has(e.event_id) ? { ...w, reason: books.refused.get(e.event_id) ?? w.reason } : w;
}

function row(e: ConversionEvent, seq: number, w: { outcome: EventOutcome; reason: string }, version: number) {
  return {
    merchant_id: e.merchant_id,
    received_at: toDateTimeText(e.received_at_ms),
    event_id: e.event_id,
    seq,
    received_at_ms: e.received_at_ms,
    conversion_id: e.conversion_id,
    order_id: e.order_id,
    type: e.type,
    source: e.source ?? "postback",
    amount_minor: e.amount_minor ?? 0,
    currency: e.currency ?? "",
    occurred_at: toDateTimeText(e.occurred_at_ms),
    outcome: w.outcome,
    reason: w.reason.slice(0, 512),
    version,
  } satisfies OutcomeRow;
}

/**
 * One outcome row per delivery of every merchant event in a conversion's history: the first delivery of an event
 * carries what the books did with it, later deliveries are duplicates. The version grows with the history (its
 * newest receive time and its size), so the latest computation wins and a replay writes identical rows.
 */
export function outcomeRows(history: readonly HistoryEvent[], books: ConversionBooks): OutcomeRow[] {
  const deliveries = new Map<string, HistoryEvent>();
  for (const h of history) deliveries.set(`${h.event.event_id}|${h.seq}`, h);
  const kept = new Map(normaliseHistory([...deliveries.values()]).map((h) => [h.event.event_id, h.seq]));
  let newest = 0;
  for (const h of deliveries.values()) newest = Math.max(newest, h.event.received_at_ms);
  const version = newest * 1000 + Math.min(999, deliveries.size);
  const sale = [...deliveries.values()].find((h) => h.event.event_id === books.saleEventId && h.resolution);
  const out: OutcomeRow[] = [];
  for (const h of deliveries.values()) {
    if (h.event.type === "payout") continue;
    const outcome = books.outcomes.get(h.event.event_id);
    if (outcome === undefined) continue;
    const w =
      kept.get(h.event.event_id) === h.seq
        ? words(h, outcome, books, sale)
        : { outcome: "duplicate" as const, reason: "resent: the first delivery of this event counts" };
    out.push(row(h.event, h.seq, w, version));
  }
  return out;
}

/** The flags row of a booked conversion: frozen with its sale's resolution, so a replay writes it unchanged. */
export function flagsRow(history: readonly HistoryEvent[], books: ConversionBooks): ConversionFlagsRow | undefined {
  const c = books.conversion;
  const sale = history.find((h) => h.event.event_id === books.saleEventId && h.resolution);
  if (!c || !sale?.resolution) return undefined;
  return {
    conversion_id: c.conversion_id,
    merchant_id: c.merchant_id,
    campaign_id: c.campaign_id,
    influencer_id: c.influencer_id,
    commission_currency: c.commission_currency,
    occurred_at: c.occurred_at,
    sale_recorded_ms: sale.event.received_at_ms,
    flags: sale.resolution.flags.map((f) => (f === "short_click_to_conversion" ? "too_fast" : f)),
    review: sale.resolution.review ? 1 : 0,
    version: c.version,
  };
}

/** A dead letter as an outcome row, when the message is readable enough to name its merchant and event. */
export function deadLetterRow(value: Buffer | null, seq: number, reason: string): OutcomeRow | undefined {
  let e: Record<string, unknown>;
  try {
    e = JSON.parse(value?.toString("utf8") ?? "null") as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const int = (v: unknown) => (Number.isSafeInteger(v) && (v as number) >= 0 ? (v as number) : undefined);
  const str = (v: unknown, max: number) => (typeof v === "string" && v.length <= max ? v : undefined);
  const merchant = int(e?.merchant_id);
  const received = int(e?.received_at_ms);
  const eventId = str(e?.event_id, 64);
  if (
    !e ||
    merchant === undefined ||
    merchant > 2 ** 32 - 1 ||
    received === undefined ||
    !eventId ||
    received >= Date.UTC(2100, 0, 1)
  )
    return undefined;
  const occurred = int(e.occurred_at_ms);
  const amount = int(e.amount_minor);
  return {
    merchant_id: merchant,
    received_at: toDateTimeText(received),
    event_id: eventId,
    seq,
    received_at_ms: received,
    conversion_id: str(e.conversion_id, 64) ?? "",
    order_id: str(e.order_id, 128) ?? "",
    type: str(e.type, 16) ?? "",
    source: str(e.source, 16) ?? "postback",
    amount_minor: amount ?? 0,
    currency: str(e.currency, 3) ?? "",
    occurred_at: toDateTimeText(occurred !== undefined && occurred < Date.UTC(2100, 0, 1) ? occurred : received),
    outcome: "dead_lettered",
    reason: reason.slice(0, 512),
    version: received * 1000 + 999,
  };
}
