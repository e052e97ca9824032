import { describe, expect, it } from "vitest";
import { PostbackInput, toConversionEvent } from "./input";

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
