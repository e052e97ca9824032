import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { PostbackInput, toConversionEvent } from "../input";
import { parseJsonKeepingIds } from "./common";
import { fromShopify, sumDecimals } from "./shopify";
import { fromWooCommerce } from "./woocommerce";

const fixture = (name: string) =>
  parseJsonKeepingIds(
    readFileSync(path.join(__dirname, "../../../../test/fixtures/postback", name), "utf8").replace(
      "__CLICK_ID__",
      "clk-1",
    ),
  );
const events = (r: ReturnType<typeof fromShopify>) => {
  if (r instanceof z.ZodError || r.kind !== "events") throw new Error(`expected events, got ${JSON.stringify(r)}`);
  return r.events.map((e) => toConversionEvent(PostbackInput.parse(e), 1_000, "shopify"));
};

describe("Shopify", () => {
  it("keeps order ids beyond 2^53 exact", () => {
    expect(
      parseJsonKeepingIds('{"id": 820982911946154508, "order_id":9007199254740993 ,"amount": 12345678901234567}'),
    ).toEqual({ id: "820982911946154508", order_id: "9007199254740993", amount: Number("12345678901234567") });
  });
  it("maps orders/create to a sale of the order total with the landing click id and coupon", () => {
    const [sale, ...rest] = events(fromShopify("orders/create", fixture("shopify-orders-create.json"), 7));
    expect(rest).toEqual([]);
    expect(sale).toMatchObject({
      type: "sale",
      merchant_id: 7,
      order_id: "820982911946154508",
      amount_minor: 24300,
      currency: "USD",
      click_id: "clk-1",
      coupon_code: "SPRING5",
      occurred_at_ms: Date.parse("2026-11-20T15:30:00Z"),
    });
  });
  it("maps refunds/create to a refund of the successful refund transactions, keyed by the refund id", () => {
    const [refund] = events(fromShopify("refunds/create", fixture("shopify-refunds-create.json"), 7));
    expect(refund).toMatchObject({
      type: "refund",
      order_id: "820982911946154508",
      amount_minor: 3900,
      currency: "USD",
      change_id: "890088186047892319",
    });
  });
  it("ignores a refund that returned no money and refuses unknown topics and bad payloads", () => {
    expect(fromShopify("refunds/create", { id: 1, order_id: 2, transactions: [] }, 7)).toMatchObject({
      kind: "ignored",
    });
    expect(fromShopify("products/create", {}, 7)).toMatchObject({ kind: "unsupported" });
    const bad = fromShopify("orders/create", { id: "x", currency: 5 }, 7);
    expect(bad instanceof z.ZodError && bad.issues.map((i) => i.path.join(".")).sort()).toEqual([
      "currency",
      "id",
      "total_price",
    ]);
  });
  it("ignores a refund whose transactions return zero (the books refuse a refund of nothing)", () => {
    const zero = { id: 1, order_id: 2, transactions: [{ kind: "refund", amount: "0.00", currency: "USD" }] };
    expect(fromShopify("refunds/create", zero, 7)).toMatchObject({ kind: "ignored" });
  });
  it("never credits a test order, maps financial states to the lifecycle and sends the net of shipping and tax", () => {
    const order = fixture("shopify-orders-create.json") as Record<string, unknown>;
    expect(fromShopify("orders/create", { ...order, test: true }, 7)).toMatchObject({
      kind: "ignored",
      reason: expect.stringContaining("test order"),
    });
    expect(fromShopify("orders/paid", { ...order, test: true }, 7)).toMatchObject({ kind: "ignored" });
    // 243.00 total, 10.00 shipping, 0.00 tax: 233.00 net; with 19.40 tax: 213.60
    expect(events(fromShopify("orders/create", order, 7))[0]).toMatchObject({
      amount_minor: 24300,
      net_amount_minor: 23300,
    });
    expect(events(fromShopify("orders/create", { ...order, total_tax: "19.40" }, 7))[0]).toMatchObject({
      net_amount_minor: 21360,
    });
    expect(events(fromShopify("orders/paid", order, 7)).map((e) => e.type)).toEqual(["approve"]);
    expect(events(fromShopify("orders/updated", { ...order, financial_status: "voided" }, 7))).toMatchObject([
      { type: "reject", reason: "shopify: financial_status voided" },
    ]);
    expect(fromShopify("orders/updated", { ...order, financial_status: "partially_refunded" }, 7)).toMatchObject({
      kind: "ignored",
    });
    expect(fromShopify("orders/create", { ...order, financial_status: "voided" }, 7)).toMatchObject({
      kind: "ignored",
    });
  });
  it("adds decimal amounts exactly", () => {
    expect(sumDecimals(["0.10", "0.2", "1"])).toBe("1.30");
    expect(sumDecimals(["30.00", "9.00"])).toBe("39.00");
  });
});

describe("WooCommerce", () => {
  const woo = (topic: string, name: string) => {
    const r = fromWooCommerce(topic, fixture(name), 9);
    if (r instanceof z.ZodError || r.kind !== "events") throw new Error(`expected events, got ${JSON.stringify(r)}`);
    return r.events.map((e) => toConversionEvent(PostbackInput.parse(e), 1_000, "woocommerce"));
  };
  it("maps order.created to a sale with the click id from order meta and the coupon", () => {
    expect(woo("order.created", "woocommerce-order-created.json")).toEqual([
      expect.objectContaining({
        type: "sale",
        order_id: "4750",
        amount_minor: 9490,
        currency: "EUR",
        click_id: "clk-1",
        coupon_code: "spring10",
        occurred_at_ms: Date.parse("2026-11-20T15:54:40Z"),
        // 94.90 less 4.90 shipping and 0.00 tax
        net_amount_minor: 9000,
      }),
    ]);
  });
  it("maps each refund of an updated order to a refund keyed by its id, and completed to an approval", () => {
    const updated = woo("order.updated", "woocommerce-order-updated-refund.json");
    expect(updated.map((e) => [e.type, e.amount_minor, e.change_id])).toEqual([
      ["sale", 9490, undefined],
      ["refund", 4500, "4761"],
    ]);
    const completed = woo("order.updated", "woocommerce-order-updated-completed.json");
    expect(completed.map((e) => e.type)).toEqual(["sale", "approve", "refund"]);
    // The same refund sent twice is one event.
    expect(completed[2]?.event_id).toBe(updated[1]?.event_id);
  });
  it("rejects cancelled orders with a reason and refunds a refunded order without refund entries in full", () => {
    const base = fixture("woocommerce-order-created.json") as Record<string, unknown>;
    const cancelled = fromWooCommerce("order.updated", { ...base, status: "cancelled" }, 9);
    expect(cancelled).toMatchObject({ kind: "events", events: [{ type: "reject", reason: "woocommerce: cancelled" }] });
    const refunded = fromWooCommerce("order.updated", { ...base, status: "refunded", refunds: [] }, 9);
    expect(refunded).toMatchObject({
      kind: "events",
      events: [{ type: "refund", sale_amount: "94.90", change_id: "full" }],
    });
    expect(fromWooCommerce("product.created", base, 9)).toMatchObject({ kind: "unsupported" });
    const zeroRefund = { ...base, status: "processing", refunds: [{ id: 5, total: "-0.00" }] };
    expect(fromWooCommerce("order.updated", zeroRefund, 9)).toMatchObject({
      kind: "events",
      events: [{ type: "sale" }],
    });
  });
});
