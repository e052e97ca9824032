import { isCurrency } from "@aff/common";
import { z } from "zod";

/** Integer minor units within the safe integer range. */
export const AmountMinor = z
  .number()
  .int("must be an integer number of minor units")
  .min(0, "must not be negative")
  .max(Number.MAX_SAFE_INTEGER, "beyond safe integer range");
export const Currency = z.string().refine(isCurrency, "must be an ISO 4217 currency code in upper case");
export const EntityId = z
  .number()
  .int()
  .min(1)
  .max(2 ** 32 - 1);

const SubValue = z.string().max(255).optional();
export const Subs = z.object({ sub1: SubValue, sub2: SubValue, sub3: SubValue, sub4: SubValue, sub5: SubValue });

/** A redirect served to a shopper (topic `clicks`, key = click id). */
export const ClickEvent = z.object({
  v: z.literal(1),
  click_id: z.string().min(1).max(64),
  link_id: EntityId,
  link_code: z.string().max(64),
  campaign_id: EntityId,
  influencer_id: EntityId,
  merchant_id: EntityId,
  clicked_at_ms: z.number().int().min(0),
  /** IP with the last octet / last 80 bits zeroed */
  ip: z.string().max(64),
  user_agent: z.string().max(1024),
  referer: z.string().max(2048),
  is_bot: z.boolean(),
  is_unique: z.boolean(),
});
export type ClickEvent = z.infer<typeof ClickEvent>;

export const ConversionEventType = z.enum(["sale", "approve", "reject", "refund", "adjust"]);
export type ConversionEventType = z.infer<typeof ConversionEventType>;
export const EventSource = z.enum(["postback", "api", "shopify", "woocommerce"]);
export type EventSource = z.infer<typeof EventSource>;

/** A merchant postback after validation (topic `postbacks`, key = conversion id). */
export const ConversionEvent = z.object({
  v: z.literal(1),
  /** deterministic: the same merchant event always gets the same id */
  event_id: z.string().length(32),
  conversion_id: z.string().length(32),
  merchant_id: EntityId,
  order_id: z.string().min(1).max(128),
  type: ConversionEventType,
  click_id: z.string().max(64).optional(),
  coupon_code: z.string().max(64).optional(),
  amount_minor: AmountMinor.optional(),
  currency: Currency.optional(),
  reason: z.string().max(512).optional(),
  /** the merchant's own id for a refund or adjustment, so each one is told apart and a resend is recognised */
  change_id: z.string().max(128).optional(),
  subs: Subs.optional(),
  /** how it reached us: a postback (GET/POST), the signed JSON API, or a store platform's webhook */
  source: EventSource.optional(),
  /** when the merchant says it happened (ms since epoch) */
  occurred_at_ms: z.number().int().min(0),
  /** when our postback service accepted it */
  received_at_ms: z.number().int().min(0),
});
export type ConversionEvent = z.infer<typeof ConversionEvent>;

/** Parse JSON bytes from Kafka into a typed event, or a reason it is unusable. */
export function decodeJson<S extends z.ZodType>(
  schema: S,
  value: Buffer | null,
): { ok: true; value: z.output<S> } | { ok: false; reason: string } {
  if (!value) return { ok: false, reason: "empty_message" };
  let json: unknown;
  try {
    json = JSON.parse(value.toString("utf8"));
  } catch {
    return { ok: false, reason: "invalid_json" };
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success)
    return {
      ok: false,
      reason: `schema: ${parsed.error.issues.map((i) => `${i.path.join(".")} ${i.message}`).join("; ")}`,
    };
  return { ok: true, value: parsed.data };
}
