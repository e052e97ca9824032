import { z } from "zod";
import { attribute, CLICK_ID_NAMES, IdText, isZeroDecimal, netOfShippingAndTax, type PlatformResult } from "./common";

const NameValue = z.object({ name: z.unknown(), value: z.unknown() });

const Order = z.object({
  id: IdText,
  currency: z.string(),
  total_price: z.string(),
  created_at: z.string().optional(),
  cancel_reason: z.string().nullish(),
  discount_codes: z.array(z.object({ code: z.string() })).nullish(),
  note_attributes: z.array(NameValue).nullish(),
  landing_site: z.string().nullish(),
  /** Shopify's test orders (bogus gateway, test mode) never earn commission */
  test: z.boolean().nullish(),
  financial_status: z.string().nullish(),
  total_tax: z.string().nullish(),
  total_shipping_price_set: z.object({ shop_money: z.object({ amount: z.string() }) }).nullish(),
  shipping_lines: z.array(z.object({ price: z.string() })).nullish(),
});

/** Shipping charged on the order: Shopify's total shipping price, else the sum of its shipping lines. */
function shipping(o: z.output<typeof Order>): string | undefined {
  const set = o.total_shipping_price_set?.shop_money.amount;
  if (set !== undefined) return set;
  const lines = o.shipping_lines ?? [];
  return lines.length === 0 ? undefined : sumDecimals(lines.map((l) => l.price));
}

/** financial_status values and the lifecycle event they mean (docs: services/postback/README.md "Store platforms"). */
const FINANCIAL: Record<string, "approve" | "reject"> = { paid: "approve", voided: "reject" };

const Refund = z.object({
  id: IdText,
  order_id: IdText,
  created_at: z.string().optional(),
  transactions: z
    .array(
      z.object({ kind: z.string(), status: z.string().nullish(), amount: z.string(), currency: z.string().nullish() }),
    )
    .default([]),
});

/** The click id a storefront recorded: a cart/note attribute, else the `click_id` of the landing URL. */
function clickId(order: z.output<typeof Order>): string | undefined {
  const fromNote = attribute(order.note_attributes ?? undefined, CLICK_ID_NAMES);
  if (fromNote || !order.landing_site) return fromNote;
  const url = URL.canParse(order.landing_site, "https://shop.invalid")
    ? new URL(order.landing_site, "https://shop.invalid")
    : undefined;
  return url?.searchParams.get("click_id") || undefined;
}

/**
 * Shopify `orders/create` is a sale of the order's total in the shop currency; `orders/cancelled` a rejection;
 * `refunds/create` a refund of the money its successful refund transactions returned, with Shopify's refund id as
 * change id. Amounts stay decimal strings: the postback validation converts them exactly.
 */
export function fromShopify(topic: string | undefined, body: unknown, merchantId: number): PlatformResult | z.ZodError {
  if (
    topic === "orders/create" ||
    topic === "orders/cancelled" ||
    topic === "orders/paid" ||
    topic === "orders/updated"
  ) {
    const parsed = Order.safeParse(body);
    if (!parsed.success) return parsed.error;
    const o = parsed.data;
    if (o.test === true) return { kind: "ignored", reason: "shopify: test order (test: true) earns no commission" };
    if (topic === "orders/paid" || topic === "orders/updated") {
      const type = topic === "orders/paid" ? "approve" : FINANCIAL[o.financial_status ?? ""];
      if (!type)
        return {
          kind: "ignored",
          reason: `shopify: financial_status ${JSON.stringify(o.financial_status ?? "")} needs no event`,
        };
      return {
        kind: "events",
        events: [
          type === "approve"
            ? { merchant_id: merchantId, order_id: o.id, type }
            : { merchant_id: merchantId, order_id: o.id, type, reason: "shopify: financial_status voided" },
        ],
      };
    }
    if (topic === "orders/create" && o.financial_status === "voided")
      return { kind: "ignored", reason: "shopify: the order was voided before it was created here" };
    if (topic === "orders/cancelled")
      return {
        kind: "events",
        events: [
          {
            merchant_id: merchantId,
            order_id: o.id,
            type: "reject",
            reason: `shopify: cancelled (${o.cancel_reason ?? "no reason"})`,
          },
        ],
      };
    return {
      kind: "events",
      events: [
        {
          merchant_id: merchantId,
          order_id: o.id,
          type: "sale",
          sale_amount: o.total_price,
          net_sale_amount: netOfShippingAndTax(o.total_price, [o.total_tax ?? undefined, shipping(o)]),
          currency: o.currency,
          click_id: clickId(o),
          coupon_code: o.discount_codes?.[0]?.code,
          occurred_at: o.created_at,
        },
      ],
    };
  }
  if (topic === "refunds/create") {
    const parsed = Refund.safeParse(body);
    if (!parsed.success) return parsed.error;
    const r = parsed.data;
    const money = r.transactions.filter((t) => t.kind === "refund" && (t.status ?? "success") === "success");
    const currency = money[0]?.currency ?? undefined;
    if (money.length === 0 || !currency)
      return { kind: "ignored", reason: "the refund returned no money (no successful refund transaction)" };
    if (money.some((t) => t.currency && t.currency !== currency))
      return { kind: "unsupported", message: "refund transactions in more than one currency" };
    const amount = sumDecimals(money.map((t) => t.amount));
    if (isZeroDecimal(amount)) return { kind: "ignored", reason: "the refund returned no money (a total of zero)" };
    return {
      kind: "events",
      events: [
        {
          merchant_id: merchantId,
          order_id: r.order_id,
          type: "refund",
          sale_amount: amount,
          currency,
          change_id: r.id,
          occurred_at: r.created_at,
        },
      ],
    };
  }
  return {
    kind: "unsupported",
    message: `topic ${JSON.stringify(topic ?? "")} is not handled; subscribe to orders/create, orders/paid, orders/updated, orders/cancelled and refunds/create`,
  };
}

/** Adds decimal strings exactly (as scaled BigInts); a malformed one is passed through for the validation to name. */
export function sumDecimals(values: string[]): string {
  if (values.length === 1) return values[0] ?? "";
  const scale = Math.max(...values.map((v) => v.split(".")[1]?.length ?? 0));
  let total = 0n;
  for (const v of values) {
    const m = /^(\d+)(?:\.(\d+))?$/.exec(v.trim());
    if (!m) return v;
    total += BigInt((m[1] ?? "") + (m[2] ?? "").padEnd(scale, "0"));
  }
  const digits = total.toString().padStart(scale + 1, "0");
  return scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
}
