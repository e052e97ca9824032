import { z } from "zod";
import { attribute, CLICK_ID_NAMES, IdText, isZeroDecimal, netOfShippingAndTax, type PlatformResult } from "./common";

const Order = z.object({
  id: IdText,
  status: z.string(),
  currency: z.string(),
  total: z.string(),
  /** all tax of the order, shipping tax included */
  total_tax: z.string().nullish(),
  shipping_total: z.string().nullish(),
  date_created_gmt: z.string().nullish(),
  coupon_lines: z.array(z.object({ code: z.string() })).nullish(),
  meta_data: z.array(z.object({ key: z.unknown(), value: z.unknown() })).nullish(),
  refunds: z.array(z.object({ id: IdText, total: z.string(), reason: z.string().nullish() })).nullish(),
});

const SALE = new Set(["pending", "processing", "on-hold"]);
const REJECT = new Set(["cancelled", "failed", "trash"]);

/**
 * WooCommerce `order.created` / `order.updated` carry the whole order. Its status decides the event (pending,
 * processing, on-hold: sale; completed: approve; cancelled, failed: reject), and every entry of `refunds` is a
 * refund with WooCommerce's refund id as change id, so resending the order never counts a refund twice.
 */
export function fromWooCommerce(
  topic: string | undefined,
  body: unknown,
  merchantId: number,
): PlatformResult | z.ZodError {
  if (topic !== "order.created" && topic !== "order.updated")
    return {
      kind: "unsupported",
      message: `topic ${JSON.stringify(topic ?? "")} is not handled; use order.created and order.updated`,
    };
  const parsed = Order.safeParse(body);
  if (!parsed.success) return parsed.error;
  const o = parsed.data;
  const base = { merchant_id: merchantId, order_id: o.id };
  // GMT times come without an offset.
  const occurred = o.date_created_gmt ? `${o.date_created_gmt.replace(/Z$/, "")}Z` : undefined;
  const sale = {
    ...base,
    type: "sale",
    sale_amount: o.total,
    net_sale_amount: netOfShippingAndTax(o.total, [o.total_tax ?? undefined, o.shipping_total ?? undefined]),
    currency: o.currency,
    click_id: attribute(o.meta_data ?? undefined, [...CLICK_ID_NAMES, "_aff_click_id"]),
    coupon_code: o.coupon_lines?.[0]?.code,
    occurred_at: occurred,
  };
  const events: Record<string, unknown>[] = [];
  if (topic === "order.created" || SALE.has(o.status) || o.status === "completed") events.push(sale);
  if (o.status === "completed") events.push({ ...base, type: "approve" });
  if (REJECT.has(o.status)) events.push({ ...base, type: "reject", reason: `woocommerce: ${o.status}` });
  for (const r of o.refunds ?? [])
    if (!isZeroDecimal(r.total))
      events.push({
        ...base,
        type: "refund",
        sale_amount: r.total.replace(/^-/, ""),
        currency: o.currency,
        change_id: r.id,
      });
  if (o.status === "refunded" && (o.refunds ?? []).length === 0)
    events.push({ ...base, type: "refund", sale_amount: o.total, currency: o.currency, change_id: "full" });
  if (events.length === 0)
    return { kind: "ignored", reason: `order status ${JSON.stringify(o.status)} needs no event` };
  return { kind: "events", events };
}
