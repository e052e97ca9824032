import type { LedgerRow } from "@aff/clickhouse";
import { conversionId, deterministicId } from "@aff/common";
import type { ConversionEvent } from "@aff/events";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { computeBooks, type HistoryEvent, type Resolution } from "./ledger-rules";

/**
 * Held, payable and paid never contradict each other, at any `as_of` (docs/adr/0006 "Two clocks" and "Held, payable
 * and paid"). Figures are computed the way the reports read the ledger: entries recorded by `as_of`, approved money
 * payable when its payable_at is at or before `as_of`.
 */

const T0 = Date.UTC(2026, 2, 1, 12);
const MIN = 60_000;
const DAY = 86_400_000;
const CONV = conversionId(1, "A-1");

const res = (holdingDays: number, review = false): Resolution => ({
  attribution: "click",
  campaign_id: 7,
  influencer_id: 3,
  link_id: 5,
  suspect: review,
  flags: review ? ["too_fast"] : [],
  commission: { type: "bps", bps: 1000 },
  commission_currency: "EUR",
  fx_rate: "1",
  settlement_amount_minor: 10_000,
  holding_days: holdingDays,
  review,
});

function event(
  seq: number,
  type: ConversionEvent["type"],
  occurredMs: number,
  receivedMs: number,
  extra: Partial<ConversionEvent> = {},
): ConversionEvent {
  return {
    v: 1,
    event_id: deterministicId("as-of", seq, type),
    conversion_id: CONV,
    merchant_id: 1,
    order_id: "A-1",
    type,
    occurred_at_ms: occurredMs,
    received_at_ms: receivedMs,
    ...extra,
  };
}

type Figures = { pending: number; review: number; held: number; payable: number; paid: number; reversed: number };

/** What a report reads at `asOfMs`: entries recorded by then, approved split by payable_at. */
export function figuresAt(ledger: readonly LedgerRow[], asOfMs: number): Figures {
  const f: Figures = { pending: 0, review: 0, held: 0, payable: 0, paid: 0, reversed: 0 };
  for (const l of ledger) {
    if (l.version > asOfMs) continue;
    const payableAt = Date.parse(`${l.payable_at.replace(" ", "T")}Z`);
    if (l.status === "approved") {
      if (payableAt <= Math.floor(asOfMs / 1000) * 1000) f.payable += l.commission_minor;
      else f.held += l.commission_minor;
    } else if (l.status === "pending" || l.status === "review" || l.status === "paid" || l.status === "reversed")
      f[l.status] += l.commission_minor;
  }
  return f;
}

const total = (f: Figures) => f.pending + f.held + f.payable + f.paid;

describe("held, payable and paid at any as_of", () => {
  it("finding 2 by hand: sale 100.00 at 10 %, approved without holding, refund 50.00 dated before T but received after", () => {
    const T = T0 + 60 * MIN;
    const books = computeBooks(
      [
        { seq: 1, event: event(1, "sale", T0, T0, { amount_minor: 10_000, currency: "EUR" }), resolution: res(0) },
        { seq: 2, event: event(2, "approve", T0 + 10 * MIN, T0 + 10 * MIN) },
        { seq: 3, event: event(3, "refund", T - MIN, T + 5 * MIN, { amount_minor: 5_000, currency: "EUR" }) },
      ],
      { parkedRetentionMs: 90 * DAY },
    );
    // as of T the refund was not known: payable 10.00, nothing reversed; read again later with as_of=T, the same
    expect(figuresAt(books.ledger, T)).toEqual({ pending: 0, review: 0, held: 0, payable: 1000, paid: 0, reversed: 0 });
    // between approval and the refund's receipt: never "approved -5.00, payable 10.00"
    expect(figuresAt(books.ledger, T0 + 30 * MIN)).toMatchObject({ held: 0, payable: 1000 });
    // once received: the refund reduces the payable money it came from
    expect(figuresAt(books.ledger, T + 5 * MIN)).toEqual({
      pending: 0,
      review: 0,
      held: 0,
      payable: 500,
      paid: 0,
      reversed: 500,
    });
  });

  it("a refund dated in the future (store clock ahead) reduces payable at once, never held below zero", () => {
    const books = computeBooks(
      [
        { seq: 1, event: event(1, "sale", T0, T0, { amount_minor: 10_000, currency: "EUR" }), resolution: res(0) },
        { seq: 2, event: event(2, "approve", T0, T0 + MIN) },
        { seq: 3, event: event(3, "refund", T0 + 120 * MIN, T0 + 2 * MIN, { amount_minor: 5_000, currency: "EUR" }) },
      ],
      { parkedRetentionMs: 90 * DAY },
    );
    expect(figuresAt(books.ledger, T0 + 3 * MIN)).toMatchObject({ held: 0, payable: 500, reversed: 500 });
  });

  it("an approval parked before its sale is recorded when the sale arrives: pending never goes negative", () => {
    const books = computeBooks(
      [
        { seq: 1, event: event(1, "approve", T0, T0) },
        {
          seq: 2,
          event: event(2, "sale", T0, T0 + 10 * MIN, { amount_minor: 10_000, currency: "EUR" }),
          resolution: res(0),
        },
      ],
      { parkedRetentionMs: 90 * DAY },
    );
    expect(figuresAt(books.ledger, T0 + 5 * MIN)).toMatchObject({ pending: 0, held: 0, payable: 0 });
    expect(figuresAt(books.ledger, T0 + 10 * MIN)).toMatchObject({ pending: 0, payable: 1000 });
  });

  it("a refund after payment leaves a negative payable balance (a debt for the next run), held untouched", () => {
    const payout = (seq: number, amount: number, at: number) =>
      event(seq, "payout", at, at, {
        source: "payout",
        payout: { run_id: "r".repeat(32), line_id: "l".repeat(32), amount_minor: amount },
      });
    const books = computeBooks(
      [
        { seq: 1, event: event(1, "sale", T0, T0, { amount_minor: 10_000, currency: "EUR" }), resolution: res(0) },
        { seq: 2, event: event(2, "approve", T0, T0) },
        { seq: 3, event: payout(3, 1000, T0 + DAY) },
        { seq: 4, event: event(4, "refund", T0 + 2 * DAY, T0 + 2 * DAY, { amount_minor: 2_500, currency: "EUR" }) },
      ],
      { parkedRetentionMs: 90 * DAY },
    );
    expect(figuresAt(books.ledger, T0 + 3 * DAY)).toEqual({
      pending: 0,
      review: 0,
      held: 0,
      payable: -250,
      paid: 1000,
      reversed: 250,
    });
    expect(books.conversion).toMatchObject({ status: "approved", commission_minor: 750 });
  });

  it("holds for every random history and every as_of: held >= 0, pending >= 0, review >= 0, paid >= 0, payable <= total", () => {
    const step = fc.record({
      type: fc.constantFrom("approve", "reject", "refund", "adjust", "payout", "sale"),
      amount: fc.integer({ min: 1, max: 15_000 }),
      occurredOffsetMin: fc.integer({ min: -3 * 24 * 60, max: 3 * 24 * 60 }),
      gapMin: fc.integer({ min: -30, max: 24 * 60 }),
      currency: fc.constantFrom("EUR", "EUR", "EUR", "USD"),
    });
    fc.assert(
      fc.property(
        fc.array(step, { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 0, max: 5 }),
        fc.boolean(),
        fc.array(fc.integer({ min: -60, max: 20 * 24 * 60 }), { minLength: 1, maxLength: 20 }),
        (steps, holdingDays, review, asOfs) => {
          const history: HistoryEvent[] = [];
          let received = T0;
          steps.forEach((s, i) => {
            received += s.gapMin * MIN;
            const e = event(i + 1, s.type, T0 + s.occurredOffsetMin * MIN, received, {
              amount_minor: s.type === "approve" || s.type === "reject" || s.type === "payout" ? undefined : s.amount,
              currency: s.currency,
            });
            if (s.type === "payout") {
              // a run pays only money payable when it was made: at most the conversion's payable balance then
              const before = figuresAt(computeBooks(history, { parkedRetentionMs: 90 * DAY }).ledger, received);
              const amount = Math.min(s.amount, before.payable);
              if (amount <= 0) return;
              e.payout = { run_id: "r".repeat(32), line_id: "l".repeat(32), amount_minor: amount };
            }
            history.push({
              seq: i + 1,
              event: e,
              resolution: s.type === "sale" ? res(holdingDays, review) : undefined,
            });
          });
          const books = computeBooks(history, { parkedRetentionMs: 90 * DAY });
          for (const a of asOfs) {
            const f = figuresAt(books.ledger, T0 + a * MIN);
            expect(f.held).toBeGreaterThanOrEqual(0);
            expect(f.pending).toBeGreaterThanOrEqual(0);
            expect(f.review).toBeGreaterThanOrEqual(0);
            expect(f.paid).toBeGreaterThanOrEqual(0);
            expect(f.payable).toBeLessThanOrEqual(total(f));
          }
        },
      ),
      { numRuns: 400 },
    );
  });
});
