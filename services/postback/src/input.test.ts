import { describe, expect, it } from "vitest";
import { PostbackInput, toConversionEvent } from "./input";

const paths = (input: unknown) => {
  const r = PostbackInput.safeParse(input);
  return r.success ? [] : [...new Set(r.error.issues.map((i) => i.path.join(".")))];
};

describe("PostbackInput", () => {
  it("reads a query-string sale with aliases", () => {
    const r = PostbackInput.parse({ merchant_id: "3", transaction_id: "abc", order_id: "A-1", sale_amount: "19.99", currency: "usd" });
    expect(r).toMatchObject({ merchant_id: 3, click_id: "abc", order_id: "A-1", amount: 1999, currency: "USD", type: "sale" });
  });

  it("names every bad field", () => {
    expect(paths({ merchant_id: "x", order_id: "", amount: "-5", currency: "ZZZ" })).toEqual(expect.arrayContaining(["merchant_id", "order_id", "amount", "currency"]));
    expect(paths({ merchant_id: 1, order_id: "A", amount: "12.5", currency: "USD" })).toEqual(["amount"]);
    expect(paths({ merchant_id: 1, order_id: "A", amount: "99999999999999999999", currency: "USD" })).toEqual(["amount"]);
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
});
