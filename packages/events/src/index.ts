import { isCurrency } from "@aff/common";
import { z } from "zod";

export * from "./click-records";

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

/** A redirect served to a shopper (topic `clicks`, many per record: see click-records.ts). */
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

/**
 * What happened to a conversion. Merchants send sale, approve, reject, refund and adjust; `payout` is published by the
 * reports service when finance marks a payout line paid (docs/adr/0006 "Payout runs"), never accepted from a merchant.
 */
export const ConversionEventType = z.enum(["sale", "approve", "reject", "refund", "adjust", "payout"]);
export type ConversionEventType = z.infer<typeof ConversionEventType>;
export const EventSource = z.enum(["postback", "api", "shopify", "woocommerce", "payout"]);
export type EventSource = z.infer<typeof EventSource>;

/**
 * Largest amount of one conversion event: 10^13 minor units (100 billion major units of a 2-decimal currency).
 * Far above any real order, and small enough that what the books derive from it stays exact: 900 such amounts
 * still sum below 2^53, about 900,000 below Int64/UInt64 (the ledger's columns), and an FX conversion by a rate
 * times 10^(exponent difference) below 900 stays a safe integer. Conversions beyond that are the worker's to refuse.
 */
export const MAX_AMOUNT_MINOR = 10 ** 13;
/** How far before its receipt an event may say it happened: 400 days (the sale-dedup memory is as long). */
export const MAX_BACKDATE_MS = 400 * 86_400_000;
/** How far after its receipt an event may say it happened: 10 minutes of clock skew. */
export const MAX_AHEAD_MS = 10 * 60_000;
/**
 * Receive times outside 2000-01-01..2100-01-01 are refused: inside this range every derived time (plus the
 * 400 days back, the 10 minutes ahead and a holding period of up to a year) is a valid Date and a ClickHouse
 * DateTime, and `received_at_ms x 1000 + n` (the conversion version) stays a safe integer.
 */
export const MIN_RECEIVED_AT_MS = Date.UTC(2000, 0, 1);
export const MAX_RECEIVED_AT_MS = Date.UTC(2100, 0, 1);
/** Longest text of each field, in UTF-16 code units. */
export const TEXT_MAX = {
  order_id: 128,
  click_id: 64,
  coupon_code: 64,
  reason: 512,
  change_id: 128,
  sub: 255,
} as const;

/**
 * Control characters (C0, DEL, C1), line and paragraph separators, bidi embedding/override/isolate marks and lone
 * surrogates. They are refused, not stripped: stripping would silently change an id the merchant keeps (two
 * order ids that differ by a NUL would merge), while they have no business in ids or notes and can disguise
 * one id as another in reports and CSV exports.
 */
const UNSAFE_CHARS = /[\p{Cc}\p{Cs}\u2028\u2029\u202A-\u202E\u2066-\u2069]/u;
export const isCleanText = (s: string): boolean => !UNSAFE_CHARS.test(s);
export const CLEAN_TEXT_MESSAGE = "must not contain control characters";
/** A string of at most `max` code units without control characters. */
export const CleanText = (max: number) => z.string().max(max).refine(isCleanText, CLEAN_TEXT_MESSAGE);

export const OrderAmountMinor = z
  .number()
  .int("must be an integer number of minor units")
  .min(0, "must not be negative")
  .max(MAX_AMOUNT_MINOR, `must be at most ${MAX_AMOUNT_MINOR} minor units`);
const HexId = z.string().regex(/^[0-9a-f]{32}$/, "must be 32 lower-case hex digits");

/**
 * The fields of a conversion event. `strict` is what intake accepts today (clean text, the amount bound, hex ids, a
 * plausible receive time); the lenient form is how the worker re-reads events it stored earlier, under whatever
 * rules were in force then: tightening intake must never change the books of what was already booked.
 */
function conversionEventFields(strict: boolean) {
  const text = (max: number) => (strict ? CleanText(max) : z.string().max(max));
  const sub = text(TEXT_MAX.sub).optional();
  return z.object({
    v: z.literal(1),
    /** deterministic: the same merchant event always gets the same id */
    event_id: strict ? HexId : z.string().length(32),
    conversion_id: strict ? HexId : z.string().length(32),
    merchant_id: EntityId,
    order_id: text(TEXT_MAX.order_id).min(1),
    type: ConversionEventType,
    click_id: text(TEXT_MAX.click_id).optional(),
    coupon_code: text(TEXT_MAX.coupon_code).optional(),
    amount_minor: (strict ? OrderAmountMinor : AmountMinor).optional(),
    /** sales only: the order net of shipping and tax, where the platform or merchant sends it (commission base) */
    net_amount_minor: (strict ? OrderAmountMinor : AmountMinor).optional(),
    currency: Currency.optional(),
    reason: text(TEXT_MAX.reason).optional(),
    /** the merchant's own id for a refund or adjustment, so each one is told apart and a resend is recognised */
    change_id: text(TEXT_MAX.change_id).optional(),
    subs: z.object({ sub1: sub, sub2: sub, sub3: sub, sub4: sub, sub5: sub }).optional(),
    /** payout events only: the line that paid this conversion and what it paid (signed: a recovered debt is negative) */
    payout: z
      .object({
        run_id: z.string().length(32),
        line_id: z.string().length(32),
        amount_minor: z.number().int().min(-MAX_AMOUNT_MINOR).max(MAX_AMOUNT_MINOR),
      })
      .optional(),
    /** how it reached us: a postback (GET/POST), the signed JSON API, or a store platform's webhook */
    source: EventSource.optional(),
    /** when the merchant says it happened (ms since epoch), within MAX_BACKDATE_MS before and MAX_AHEAD_MS after receipt */
    occurred_at_ms: strict ? z.number().int() : z.number().int().min(0),
    /**
     * when our postback service accepted it (ms since epoch). Where the merchant's time could be abused (the start of
     * a holding period) the books use the later of the two.
     */
    received_at_ms: strict ? z.number().int().min(MIN_RECEIVED_AT_MS).max(MAX_RECEIVED_AT_MS) : z.number().int().min(0),
  });
}

/**
 * A merchant postback after validation (topic `postbacks`, key = conversion id). The postback service checks every
 * event with this very schema before it answers 2xx, and the worker parses with it: what is accepted is bookable.
 */
export const ConversionEvent = conversionEventFields(true).superRefine((e, ctx) => {
  const issue = (path: string, message: string) => ctx.addIssue({ code: "custom", path: [path], message });
  if (e.occurred_at_ms < e.received_at_ms - MAX_BACKDATE_MS)
    issue("occurred_at_ms", `must be at most ${MAX_BACKDATE_MS / 86_400_000} days before receipt`);
  if (e.occurred_at_ms > e.received_at_ms + MAX_AHEAD_MS)
    issue("occurred_at_ms", `must be at most ${MAX_AHEAD_MS / 60_000} minutes after receipt`);
  const needsAmount = e.type === "sale" || e.type === "refund" || e.type === "adjust";
  if (needsAmount && e.amount_minor === undefined) issue("amount_minor", `required for ${e.type}`);
  if (e.amount_minor !== undefined && e.currency === undefined) issue("currency", "required with an amount");
  if (e.type === "refund" && e.amount_minor === 0) issue("amount_minor", "a refund must return money");
  if (e.type === "payout" && e.payout === undefined) issue("payout", "required for payout");
});
/** An event the worker stored earlier, read back for a conversion's history (see `conversionEventFields`). */
export const StoredConversionEvent = conversionEventFields(false);
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
