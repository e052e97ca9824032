import type { LedgerRow } from "@aff/clickhouse";
import { conversionId, deterministicId } from "@aff/common";
import type { ConversionEvent } from "@aff/events";
import { describe, expect, it } from "vitest";
import {
  commissionOf,
  computeBooks,
  dateTimeText,
  type HistoryEvent,
  MAX_AMOUNT_MINOR,
  type Resolution,
} from "./ledger-rules";

const T0 = Date.UTC(2026, 0, 10, 12);
const CONV = conversionId(1, "O-1");
const RES: Resolution = {
  attribution: "click",
  campaign_id: 7,
  influencer_id: 3,
  link_id: 5,
  suspect: false,
  flags: [],
  commission: { type: "bps", bps: 1000 },
  commission_currency: "USD",
  fx_rate: "1",
  settlement_amount_minor: 10_000,
  holding_days: 30,
};

let n = 0;
function ev(type: ConversionEvent["type"], extra: Partial<ConversionEvent> = {}, seq = ++n): HistoryEvent {
  const event: ConversionEvent = {
    v: 1,
    event_id: deterministicId("ev", type, seq),
    conversion_id: CONV,
    merchant_id: 1,
    order_id: "O-1",
    type,
    occurred_at_ms: T0 + seq * 1000,
    received_at_ms: T0 + seq * 1000,
    ...extra,
  };
  return { event, seq, resolution: type === "sale" ? RES : undefined };
}
const sale = (amount = 10_000, seq?: number) => ev("sale", { amount_minor: amount, currency: "USD" }, seq);
const total = (rows: LedgerRow[]) => {
  const t: Record<string, number> = { pending: 0, approved: 0, rejected: 0, reversed: 0 };
  for (const r of rows) t[r.status] = (t[r.status] ?? 0) + r.commission_minor;
  return t;
};
const opts = { parkedRetentionMs: 90 * 86_400_000 };

describe("computeBooks", () => {
  it("books a sale as pending and an approval as a move from pending to approved, payable after the holding period", () => {
    const s = sale();
    const a = ev("approve");
    const books = computeBooks([s, a], opts);
    expect(total(books.ledger)).toEqual({ pending: 0, approved: 1000, rejected: 0, reversed: 0 });
    const approved = books.ledger.find((r) => r.status === "approved");
    expect(approved?.entry_id).toBe(deterministicId(a.event.event_id, "approved"));
    expect(approved?.payable_at).toBe(
      new Date(a.event.occurred_at_ms + 30 * 86_400_000).toISOString().slice(0, 19).replace("T", " "),
    );
    expect(books.conversion?.status).toBe("approved");
  });

  it("parks a status change that arrives before its sale and applies it once the sale arrives", () => {
    const a = ev("approve");
    const parked = computeBooks([a], opts);
    expect(parked.ledger).toEqual([]);
    expect(parked.conversion).toBeUndefined();
    expect(parked.outcomes.get(a.event.event_id)).toBe("parked");
    const s = sale();
    const books = computeBooks([a, s], opts);
    expect(total(books.ledger).approved).toBe(1000);
    expect(books.outcomes.get(a.event.event_id)).toBe("applied");
  });

  it("does not apply a parked change older than the retention relative to the sale", () => {
    const a = ev("approve");
    const s = sale(10_000);
    s.event.received_at_ms = a.event.received_at_ms + 2 * opts.parkedRetentionMs;
    const books = computeBooks([a, s], opts);
    expect(books.outcomes.get(a.event.event_id)).toBe("parked_expired");
    expect(total(books.ledger).pending).toBe(1000);
  });

  it("reverses refunds with cumulative rounding so a full refund in parts reverses exactly the commission", () => {
    const s = sale(999);
    const parts = [
      ev("refund", { amount_minor: 333, change_id: "r1" }),
      ev("refund", { amount_minor: 333, change_id: "r2" }),
      ev("refund", { amount_minor: 333, change_id: "r3" }),
    ];
    const books = computeBooks([s, ...parts], opts);
    expect(total(books.ledger)).toEqual({ pending: 0, approved: 0, rejected: 0, reversed: 100 });
    expect(books.conversion?.status).toBe("refunded");
  });

  it("caps a refund larger than the sale and ignores refunds once nothing is left", () => {
    const s = sale(10_000);
    const big = ev("refund", { amount_minor: 50_000, change_id: "big" });
    const more = ev("refund", { amount_minor: 1, change_id: "more" });
    const books = computeBooks([s, big, more], opts);
    expect(total(books.ledger)).toEqual({ pending: 0, approved: 0, rejected: 0, reversed: 1000 });
    expect(books.outcomes.get(big.event.event_id)).toBe("refund_capped");
    expect(books.outcomes.get(more.event.event_id)).toBe("refund_exceeds_sale");
    expect(books.ledger.filter((r) => r.event_id === more.event.event_id)).toEqual([]);
  });

  it("refunds part of an approved sale out of the approved bucket", () => {
    const books = computeBooks(
      [sale(10_000), ev("approve"), ev("refund", { amount_minor: 2_500, change_id: "r" })],
      opts,
    );
    expect(total(books.ledger)).toEqual({ pending: 0, approved: 750, rejected: 0, reversed: 250 });
  });

  it("rejects and then ignores later changes", () => {
    const r = ev("reject", { reason: "fraud" });
    const late = ev("approve");
    const books = computeBooks([sale(), r, late], opts);
    expect(total(books.ledger)).toEqual({ pending: 0, approved: 0, rejected: 1000, reversed: 0 });
    expect(books.outcomes.get(late.event.event_id)).toBe("ignored_rejected");
  });

  it("adjusts the commission to a corrected order total", () => {
    const books = computeBooks([sale(10_000), ev("adjust", { amount_minor: 8_000, change_id: "a" })], opts);
    expect(total(books.ledger).pending).toBe(800);
    expect(books.conversion?.order_amount_minor).toBe(8_000);
  });

  it("ignores a second approval and a duplicate delivery, and is the same whatever the order the history is given in", () => {
    const s = sale();
    const a = ev("approve");
    const a2 = ev("approve");
    const dup = { ...a, seq: a.seq + 100 };
    const books = computeBooks([dup, a2, a, s], opts);
    expect(total(books.ledger).approved).toBe(1000);
    expect(books.outcomes.get(a2.event.event_id)).toBe("ignored_not_pending");
    expect(computeBooks([s, a, a2, dup], opts).ledger).toEqual(books.ledger);
  });

  it("writes no ledger entry for an unattributed sale but keeps its conversion row", () => {
    const s = sale();
    s.resolution = {
      ...RES,
      attribution: "forged_click",
      campaign_id: 0,
      influencer_id: 0,
      commission: { type: "fixed", amount_minor: 0 },
    };
    const books = computeBooks([s, ev("approve")], opts);
    expect(books.ledger).toEqual([]);
    expect(books.conversion?.attribution).toBe("forged_click");
  });

  it("converts the order into the settlement currency before applying basis points", () => {
    const s = ev("sale", { amount_minor: 10_000, currency: "EUR" });
    s.resolution = { ...RES, fx_rate: "1.0825" };
    const books = computeBooks([s], opts);
    expect(books.ledger[0]).toMatchObject({
      order_amount_minor: 10_000,
      order_currency: "EUR",
      commission_minor: 1083,
      commission_currency: "USD",
    });
  });

  it("starts the holding period when the approval was received, not at a backdated occurred_at", () => {
    const s = sale();
    const a = ev("approve");
    // the merchant says the approval happened 40 days before it reached us: it must still wait the 30 days
    a.event.occurred_at_ms = a.event.received_at_ms - 40 * 86_400_000;
    const books = computeBooks([s, a], opts);
    const approved = books.ledger.find((r) => r.status === "approved" && r.commission_minor > 0);
    expect(approved?.payable_at).toBe(dateTimeText(a.event.received_at_ms + 30 * 86_400_000));
  });

  it("never throws: an event whose times or amounts the books cannot hold is refused and changes nothing", () => {
    const s = sale();
    const hostile = ev("approve");
    hostile.event.occurred_at_ms = 9_000_000_000_000_000;
    const a = ev("approve");
    const books = computeBooks([s, hostile, a], opts);
    expect(books.outcomes.get(hostile.event.event_id)).toBe("unbookable");
    expect(books.refused.get(hostile.event.event_id)).toMatch(/^unbookable: time out of range/);
    expect(books.outcomes.get(a.event.event_id)).toBe("applied");
    expect(books.ledger).toEqual(computeBooks([s, a], opts).ledger);
    expect(books.conversion).toEqual(computeBooks([s, a], opts).conversion);
  });

  it("refuses an adjustment whose converted commission leaves the amount range, instead of writing 1e+21", () => {
    const s = sale(1);
    s.resolution = { ...RES, fx_rate: "999999999999.9999999999", commission: { type: "bps", bps: 10_000 } };
    const big = ev("adjust", { amount_minor: MAX_AMOUNT_MINOR, change_id: "big" });
    const books = computeBooks([s, big], opts);
    expect(books.outcomes.get(big.event.event_id)).toBe("amount_out_of_range");
    expect(books.refused.get(big.event.event_id)).toBe("amount_out_of_range");
    for (const row of books.ledger) expect(Number.isSafeInteger(row.commission_minor)).toBe(true);
  });

  it("refuses a sale it cannot open and opens the books with the next one", () => {
    const first = sale(10_000);
    first.event.occurred_at_ms = 8_640_000_000_000_001;
    const second = sale(20_000);
    const books = computeBooks([first, second], opts);
    expect(books.outcomes.get(first.event.event_id)).toBe("unbookable");
    expect(books.saleEventId).toBe(second.event.event_id);
    expect(total(books.ledger).pending).toBe(2000);
  });

  it("books a history far longer than the argument limit of a spread call", () => {
    const s = sale();
    const history = [s];
    for (let i = 0; i < 200_000; i++) history.push(ev("approve"));
    const books = computeBooks(history, opts);
    expect(books.conversion?.status).toBe("approved");
    expect(books.conversion?.version).toBe((history.at(-1)?.event.received_at_ms ?? 0) * 1000 + 999);
  });
});

describe("commission base", () => {
  it("pays on the net share of the order, frozen with the sale, for the sale and each refund", () => {
    const net = { ...RES, net_share: { net: 21_360, total: 24_300 } };
    expect(commissionOf(net, 24_300, "USD")).toBe(2_136);
    // a refund of 39.00 of the 243.00 order is 34.28 of the net: 3.43 of commission
    expect(commissionOf(net, 3_900, "USD")).toBe(343);
    expect(commissionOf(RES, 24_300, "USD")).toBe(2_430);
  });
});
