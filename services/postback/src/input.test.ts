import { ConversionEvent, MAX_AHEAD_MS, MAX_AMOUNT_MINOR, MAX_BACKDATE_MS } from "@aff/events";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PostbackInput, parsePostbackEvent, toConversionEvent } from "./input";

const paths = (input: unknown) => {
  const r = PostbackInput.safeParse(input);
  return r.success ? [] : [...new Set(r.error.issues.map((i) => i.path.join(".")))];
};

describe("PostbackInput", () => {
  it("reads a query-string sale with aliases", () => {
    const r = PostbackInput.parse({
      merchant_id: "3",
      transaction_id: "abc",
      order_id: "A-1",
      sale_amount: "19.99",
      currency: "usd",
    });
    expect(r).toMatchObject({
      merchant_id: 3,
      click_id: "abc",
      order_id: "A-1",
      amount: 1999,
      currency: "USD",
      type: "sale",
    });
  });

  it("names every bad field", () => {
    expect(paths({ merchant_id: "x", order_id: "", amount: "-5", currency: "ZZZ" })).toEqual(
      expect.arrayContaining(["merchant_id", "order_id", "amount", "currency"]),
    );
    expect(paths({ merchant_id: 1, order_id: "A", amount: "12.5", currency: "USD" })).toEqual(["amount"]);
    expect(paths({ merchant_id: 1, order_id: "A", amount: "99999999999999999999", currency: "USD" })).toEqual([
      "amount",
    ]);
    expect(paths({ merchant_id: 1, order_id: "A", sale_amount: "1.234", currency: "USD" })).toEqual(["sale_amount"]);
    expect(paths({ merchant_id: 1, order_id: "A", currency: "USD" })).toEqual(["amount"]);
    expect(paths({ merchant_id: 1, order_id: "A", amount: 5 })).toEqual(["currency"]);
    expect(paths({ merchant_id: 1, order_id: "A", type: "reject" })).toEqual(["reason"]);
  });

  it("gives a resent sale the same conversion and event ids", () => {
    const p = PostbackInput.parse({ merchant_id: 1, order_id: "A-1", amount: 100, currency: "EUR" });
    const a = toConversionEvent(p, 1000);
    const b = toConversionEvent(p, 2000);
    expect(a.event_id).toBe(b.event_id);
    expect(a.conversion_id).toBe(b.conversion_id);
    expect(toConversionEvent({ ...p, order_id: "A-2" }, 1000).conversion_id).not.toBe(a.conversion_id);
  });

  it("maps the status words merchants use and refuses unknown ones", () => {
    const status = (s: string) =>
      PostbackInput.safeParse({ merchant_id: 1, order_id: "A", status: s, reason: "r", amount: 1, currency: "USD" });
    expect(status("Approved").data?.type).toBe("approve");
    expect(status("declined").data?.type).toBe("reject");
    expect(status("refunded").data?.type).toBe("refund");
    expect(paths({ merchant_id: 1, order_id: "A", status: "paid" })).toEqual(["status"]);
    expect(
      paths({ merchant_id: 1, order_id: "A", type: "sale", status: "approved", amount: 1, currency: "USD" }),
    ).toEqual(["status"]);
  });

  it("refuses merchant ids that are not plain positive integers", () => {
    for (const merchant_id of [true, [5], "", "1e3", -1, 0, 2 ** 32])
      expect(paths({ merchant_id, order_id: "A", amount: 1, currency: "USD" })).toEqual(["merchant_id"]);
  });

  it("tells refunds apart by the merchant's change id, and gives a resend the same event id", () => {
    const refund = (extra: Record<string, unknown>) =>
      toConversionEvent(
        PostbackInput.parse({
          merchant_id: 1,
          order_id: "A-1",
          type: "refund",
          amount: 500,
          currency: "EUR",
          ...extra,
        }),
        1000,
      );
    const a = refund({ refund_id: "R1" });
    expect(a).toMatchObject({ change_id: "R1", amount_minor: 500 });
    expect(refund({ change_id: "R1" }).event_id).toBe(a.event_id);
    expect(refund({ change_id: "R2" }).event_id).not.toBe(a.event_id);
    // Without a change id, amount and time identify the refund.
    const derived = refund({ occurred_at: "1700000000" });
    expect(derived.change_id).toHaveLength(32);
    expect(refund({ occurred_at: "1700000000" }).event_id).toBe(derived.event_id);
    expect(refund({ occurred_at: "1700000001" }).event_id).not.toBe(derived.event_id);
  });
});

describe("parsePostbackEvent: the event schema checked at the door", () => {
  const NOW = Date.UTC(2026, 10, 27, 12);
  const issuePaths = (fields: Record<string, unknown>) => {
    const r = parsePostbackEvent({ merchant_id: 1, order_id: "A", amount: 1, currency: "USD", ...fields }, NOW, "api");
    return r.success ? [] : [...new Set(r.error.issues.map((i) => i.path.join(".")))].sort();
  };

  it("refuses words that name Object.prototype members instead of looking them up", () => {
    for (const word of ["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf", "__defineGetter__"]) {
      expect(issuePaths({ type: word })).toEqual(["type"]);
      expect(issuePaths({ status: word })).toEqual(["status"]);
    }
  });
  it("refuses a fractional occurred_at and one outside the window, naming occurred_at", () => {
    expect(issuePaths({ occurred_at: 1_764_244_800.5 })).toEqual(["occurred_at"]);
    expect(issuePaths({ occurred_at: 9_000_000_000_000_000 })).toEqual(["occurred_at"]);
    expect(issuePaths({ occurred_at: String((NOW - MAX_BACKDATE_MS - 1000) / 1000) })).toEqual(["occurred_at"]);
    expect(issuePaths({ occurred_at: new Date(NOW + MAX_AHEAD_MS + 1000).toISOString() })).toEqual(["occurred_at"]);
    expect(issuePaths({ occurred_at: new Date(NOW - 86_400_000).toISOString() })).toEqual([]);
    expect(issuePaths({ occurred_at: "2026-11-26T12:00:00+01:00" })).toEqual([]);
    // without an offset the instant would depend on the server's time zone
    expect(issuePaths({ occurred_at: "2026-11-26T12:00:00" })).toEqual(["occurred_at"]);
  });
  it("bounds amounts, in minor units or as a decimal, naming the field sent", () => {
    expect(issuePaths({ amount: MAX_AMOUNT_MINOR })).toEqual([]);
    expect(issuePaths({ amount: MAX_AMOUNT_MINOR + 1 })).toEqual(["amount"]);
    expect(issuePaths({ amount: String(MAX_AMOUNT_MINOR + 1) })).toEqual(["amount"]);
    expect(issuePaths({ amount: undefined, sale_amount: "100000000000.01" })).toEqual(["sale_amount"]);
    expect(issuePaths({ amount: undefined, sale_amount: "100000000000.00" })).toEqual([]);
    expect(issuePaths({ type: "refund", amount: 0, change_id: "r" })).toEqual(["amount"]);
  });
  it("refuses control characters in every text field, naming it", () => {
    for (const field of ["order_id", "click_id", "transaction_id", "coupon_code", "reason", "change_id", "sub3"])
      expect(issuePaths({ [field]: "a\u0000b" })).toEqual([field]);
    // surrounding whitespace is trimmed, as before
    expect(issuePaths({ order_id: "  A-1\n" })).toEqual([]);
  });
  it("maps a valid postback to an event the worker's schema accepts", () => {
    const r = parsePostbackEvent(
      { merchant_id: 1, order_id: "A", sale_amount: "19.99", currency: "eur", sub1: "ig", occurred_at: NOW / 1000 },
      NOW,
      "postback",
    );
    expect(r.success && r.data).toMatchObject({ amount_minor: 1999, currency: "EUR", occurred_at_ms: NOW });
  });

  it("never throws on arbitrary input, and whatever it accepts parses as a ConversionEvent", () => {
    const words = fc.constantFrom(
      "sale",
      "approve",
      "refund",
      "reject",
      "adjust",
      "constructor",
      "__proto__",
      "toString",
      "",
      " ",
      "\u0000",
    );
    const value = fc.oneof(
      fc.string(),
      fc.string({ unit: "binary", maxLength: 300 }),
      fc.string({ minLength: 120, maxLength: 600 }),
      fc.integer(),
      fc.double(),
      fc.constantFrom(2 ** 53, -(2 ** 53), 1e21, -0, Number.MAX_VALUE, 9_000_000_000_000_000, NOW / 1000 + 0.5),
      fc.constantFrom("1e3", "0x10", "Infinity", "NaN", "-1", "99999999999999999999", "1.999", "2026-13-40T99:99"),
      words,
      fc.boolean(),
      fc.constant(null),
      fc.array(fc.string(), { maxLength: 3 }),
      fc.dictionary(fc.string(), fc.string(), { maxKeys: 2 }),
    );
    const keys = [
      "order_id",
      "type",
      "status",
      "amount",
      "sale_amount",
      "currency",
      "click_id",
      "transaction_id",
      "coupon_code",
      "reason",
      "change_id",
      "refund_id",
      "occurred_at",
      "sub1",
      "sub5",
    ] as const;
    const fields = fc.record(Object.fromEntries(keys.map((k) => [k, value])), { requiredKeys: [] });
    fc.assert(
      fc.property(fields, fc.constantFrom("USD", "JPY", "BHD", undefined), (f, currency) => {
        const r = parsePostbackEvent({ merchant_id: 3, order_id: "O-1", currency, ...f }, NOW, "postback");
        if (r.success) expect(ConversionEvent.safeParse(r.data).success).toBe(true);
        else expect(r.error.issues.length).toBeGreaterThan(0);
      }),
      { numRuns: 1000 },
    );
  }, 60_000); // about 0.3 ms a run; the margin is for a loaded CI machine
});
