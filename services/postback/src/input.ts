import { conversionId, deterministicId, isCurrency, parseDecimalToMinor } from "@aff/common";
import {
  CLEAN_TEXT_MESSAGE,
  ConversionEvent,
  type ConversionEventType,
  EntityId,
  type EventSource,
  isCleanText,
  OrderAmountMinor,
  TEXT_MAX,
} from "@aff/events";
import { z } from "zod";

const IntText = z.union([
  z.number(),
  z
    .string()
    .trim()
    .regex(/^-?\d+$/, "must be an integer number of minor units")
    .transform(Number),
]);
const AmountMinorText = IntText.pipe(OrderAmountMinor);
/** Surrounding whitespace is trimmed; any other control character is refused (see `isCleanText`). */
const Text = (max: number) => z.string().trim().min(1).max(max).refine(isCleanText, CLEAN_TEXT_MESSAGE);
const Sub = z.string().max(TEXT_MAX.sub).refine(isCleanText, CLEAN_TEXT_MESSAGE);
const Optional = <T extends z.ZodType>(t: T) => z.preprocess((v) => (v === "" ? undefined : v), t.optional());

/** A number or a string of digits; `true`, `[5]` or `""` are refused instead of being coerced. */
export const MerchantId = z
  .union([
    z.number(),
    z
      .string()
      .trim()
      .regex(/^\d{1,10}$/, "must be a positive integer")
      .transform(Number),
  ])
  .pipe(EntityId);

/** The status words merchants and networks use, mapped onto our event types (a Map: no inherited keys). */
const STATUS_WORDS = new Map<string, ConversionEventType>([
  ["sale", "sale"],
  ["new", "sale"],
  ["pending", "sale"],
  ["created", "sale"],
  ["approve", "approve"],
  ["approved", "approve"],
  ["confirmed", "approve"],
  ["completed", "approve"],
  ["reject", "reject"],
  ["rejected", "reject"],
  ["declined", "reject"],
  ["cancelled", "reject"],
  ["canceled", "reject"],
  ["refund", "refund"],
  ["refunded", "refund"],
  ["adjust", "adjust"],
  ["adjusted", "adjust"],
]);
const Status = z
  .string()
  .trim()
  .toLowerCase()
  .transform((v, ctx) => {
    const type = STATUS_WORDS.get(v);
    if (!type) {
      ctx.addIssue({ code: "custom", message: `must be one of ${[...STATUS_WORDS.keys()].join(", ")}` });
      return z.NEVER;
    }
    return type;
  });

/** Unix seconds, unix ms (integers) or an ISO 8601 date-time with offset; the window is checked on the event. */
const Instant = z.union([z.number().int("must be an integer"), z.string().trim().max(40)]).transform((v, ctx) => {
  const n = typeof v === "number" ? v : /^\d+$/.test(v) ? Number(v) : Number.NaN;
  const ms = Number.isFinite(n)
    ? n < 1e11
      ? n * 1000
      : n
    : // an offset is required: without one Date.parse reads local time, which depends on the server's zone
      /^\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d{1,9})?)?(?:Z|[+-]\d\d:?\d\d)$/i.test(String(v))
      ? Date.parse(String(v))
      : Number.NaN;
  if (!Number.isFinite(ms) || ms < 0) {
    ctx.addIssue({ code: "custom", message: "must be unix seconds, unix ms or an ISO 8601 date-time" });
    return z.NEVER;
  }
  return ms;
});

/**
 * One postback in the conventions merchants already use, from a query string, a form or JSON.
 * `transaction_id` is an alias of `click_id`; `sale_amount` is a decimal alias of `amount` (minor units).
 */
export const PostbackInput = z
  .object({
    merchant_id: MerchantId,
    click_id: Optional(Text(TEXT_MAX.click_id)),
    transaction_id: Optional(Text(TEXT_MAX.click_id)),
    order_id: Text(TEXT_MAX.order_id),
    type: Optional(Status),
    status: Optional(Status),
    amount: Optional(AmountMinorText),
    sale_amount: Optional(z.string().trim().max(32)),
    /** sales: the order net of shipping and tax (minor units), for campaigns paying on the net sale */
    net_amount: Optional(AmountMinorText),
    /** sales: decimal alias of net_amount */
    net_sale_amount: Optional(z.string().trim().max(32)),
    currency: Optional(z.string().trim().toUpperCase().refine(isCurrency, "must be an ISO 4217 currency code")),
    coupon_code: Optional(Text(TEXT_MAX.coupon_code)),
    reason: Optional(Text(TEXT_MAX.reason)),
    /** the merchant's id of a refund or adjustment (alias refund_id) */
    change_id: Optional(Text(TEXT_MAX.change_id)),
    refund_id: Optional(Text(TEXT_MAX.change_id)),
    occurred_at: Optional(Instant),
    sub1: Optional(Sub),
    sub2: Optional(Sub),
    sub3: Optional(Sub),
    sub4: Optional(Sub),
    sub5: Optional(Sub),
    token: Optional(z.string().max(256)),
  })
  .transform((p, ctx) => {
    const type = p.type ?? p.status ?? "sale";
    let amount = p.amount;
    if (p.sale_amount !== undefined) {
      if (amount !== undefined)
        ctx.addIssue({ code: "custom", path: ["sale_amount"], message: "send either amount or sale_amount, not both" });
      else if (!p.currency) ctx.addIssue({ code: "custom", path: ["currency"], message: "required with sale_amount" });
      else {
        try {
          amount = parseDecimalToMinor(p.sale_amount, p.currency);
          const bounded = OrderAmountMinor.safeParse(amount);
          if (!bounded.success) throw new RangeError(bounded.error.issues[0]?.message);
        } catch (err) {
          ctx.addIssue({ code: "custom", path: ["sale_amount"], message: (err as Error).message });
        }
      }
    }
    let net = p.net_amount;
    if (p.net_sale_amount !== undefined && p.currency) {
      try {
        net = parseDecimalToMinor(p.net_sale_amount, p.currency);
      } catch (err) {
        ctx.addIssue({ code: "custom", path: ["net_sale_amount"], message: (err as Error).message });
      }
    }
    if (net !== undefined && (net < 0 || (amount !== undefined && net > amount)))
      ctx.addIssue({ code: "custom", path: ["net_amount"], message: "must be between 0 and the sale amount" });
    if (
      (type === "sale" || type === "refund" || type === "adjust") &&
      amount === undefined &&
      p.sale_amount === undefined
    )
      ctx.addIssue({ code: "custom", path: ["amount"], message: `required for ${type}` });
    if (amount !== undefined && !p.currency)
      ctx.addIssue({ code: "custom", path: ["currency"], message: "required with an amount" });
    if (type === "reject" && !p.reason)
      ctx.addIssue({ code: "custom", path: ["reason"], message: "required for reject" });
    if (p.type && p.status && p.type !== p.status)
      ctx.addIssue({ code: "custom", path: ["status"], message: "contradicts type" });
    return {
      ...p,
      type,
      amount,
      net_amount: type === "sale" ? net : undefined,
      click_id: p.click_id ?? p.transaction_id,
      change_id: p.change_id ?? p.refund_id,
    };
  });
export type PostbackInput = z.output<typeof PostbackInput>;

/**
 * The Kafka event for a validated postback. Ids are derived from merchant and order, so a resend maps to the same ids.
 * A sale, approval or rejection happens once per order; refunds and adjustments are told apart by the merchant's
 * change id, or, without one, by amount and time (two refunds of one amount sent without a time are one refund).
 */
export function toConversionEvent(
  p: PostbackInput,
  receivedAtMs: number,
  source: EventSource = "postback",
): ConversionEvent {
  const conversion = conversionId(p.merchant_id, p.order_id);
  const isChange = p.type === "refund" || p.type === "adjust";
  const changeId = isChange
    ? (p.change_id ?? deterministicId("derived", p.type, p.amount ?? 0, p.occurred_at ?? ""))
    : undefined;
  const subs = { sub1: p.sub1, sub2: p.sub2, sub3: p.sub3, sub4: p.sub4, sub5: p.sub5 };
  return {
    v: 1,
    event_id:
      changeId === undefined ? deterministicId(conversion, p.type) : deterministicId(conversion, p.type, changeId),
    conversion_id: conversion,
    merchant_id: p.merchant_id,
    order_id: p.order_id,
    type: p.type,
    click_id: p.click_id,
    coupon_code: p.coupon_code,
    amount_minor: p.amount,
    net_amount_minor: p.net_amount,
    currency: p.currency,
    reason: p.reason,
    change_id: changeId,
    subs: Object.values(subs).some((v) => v !== undefined) ? subs : undefined,
    source,
    occurred_at_ms: p.occurred_at ?? receivedAtMs,
    received_at_ms: receivedAtMs,
  };
}

/** Where a field of the event came from in the postback, so a refusal names what the merchant sent. */
function inputPath(eventPath: PropertyKey[], raw: Record<string, unknown>): PropertyKey[] {
  const [head, sub] = eventPath;
  const has = (k: string) => Object.hasOwn(raw, k) && raw[k] !== undefined;
  const sent = (a: string, b: string) => (!has(a) && has(b) ? b : a);
  switch (head) {
    case "amount_minor":
      return [sent("amount", "sale_amount")];
    case "occurred_at_ms":
      return ["occurred_at"];
    case "click_id":
      return [sent("click_id", "transaction_id")];
    case "change_id":
      return [sent("change_id", "refund_id")];
    case "subs":
      return sub === undefined ? ["subs"] : [sub];
    default:
      return eventPath;
  }
}

/**
 * Postback fields to the Kafka event, checked with the very schema the worker parses (`ConversionEvent`: bounds,
 * time window, required amounts). A failure names the postback's own fields, so it answers 400, never 2xx-then-DLQ.
 */
export function parsePostbackEvent(
  fields: unknown,
  receivedAtMs: number,
  source: EventSource,
): { success: true; data: ConversionEvent } | { success: false; error: z.ZodError } {
  const input = PostbackInput.safeParse(fields);
  if (!input.success) return input;
  const event = ConversionEvent.safeParse(toConversionEvent(input.data, receivedAtMs, source));
  if (event.success) return event;
  const raw = fields && typeof fields === "object" ? (fields as Record<string, unknown>) : {};
  const issues = event.error.issues.map((i) => ({ ...i, path: inputPath(i.path, raw) }));
  return { success: false, error: new z.ZodError(issues) };
}
