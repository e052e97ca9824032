import { AmountMinor, Currency, EntityId } from "@aff/events";
import { z } from "zod";
import { checkDestination } from "./destination";

const Name = z.string().trim().min(1).max(200);
/** A bare host name such as `shop.example.com`; IDNs are kept in their ASCII (punycode) form. */
export const Domain = z
  .string()
  .trim()
  .toLowerCase()
  .max(253)
  .transform((d, ctx) => {
    const host = /^[^/:@?#\\\s]+$/.test(d) && URL.canParse(`http://${d}`) ? new URL(`http://${d}`).hostname : "";
    if (!/^[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(host)) {
      ctx.addIssue({ code: "custom", message: "must be a bare domain name such as shop.example.com" });
      return z.NEVER;
    }
    return host;
  });

export const CommissionRule = z.discriminatedUnion("type", [
  z.object({ type: z.literal("bps"), bps: z.number().int().min(0).max(10_000) }),
  z.object({ type: z.literal("fixed"), amount_minor: AmountMinor }),
]);
export type CommissionRule = z.infer<typeof CommissionRule>;

export const MerchantInput = z.strictObject({ name: Name });

/** A secret and token replaced by a rotation, still accepted until `not_after_ms` so merchants can switch over. */
export const RetiredCredential = z.object({ secret: z.string(), token: z.string(), not_after_ms: z.number().int() });
export type RetiredCredential = z.infer<typeof RetiredCredential>;

/** An IPv4/IPv6 address or CIDR block allowed to send postbacks. */
export const IpRule = z.union([z.ipv4(), z.ipv6(), z.cidrv4(), z.cidrv6()], {
  error: "must be an IPv4/IPv6 address or CIDR block",
});

/** Postback settings an admin may change; platform secrets are the ones the store platform signs its webhooks with. */
export const MerchantPostbackSettings = z.strictObject({
  /** empty: any address may send */
  ip_allowlist: z.array(IpRule).max(100).optional(),
  /** Shopify app / webhook signing secret (X-Shopify-Hmac-Sha256); null removes it */
  shopify_webhook_secret: z.string().min(8).max(256).nullable().optional(),
  /** WooCommerce webhook secret (X-WC-Webhook-Signature); null removes it */
  woocommerce_webhook_secret: z.string().min(8).max(256).nullable().optional(),
  /** let token postbacks (unsigned) approve, reject, refund and adjust, not only report sales */
  token_status_changes: z.boolean().optional(),
});
export type MerchantPostbackSettings = z.infer<typeof MerchantPostbackSettings>;

export const Merchant = MerchantInput.extend({
  id: EntityId,
  /** HMAC key for signed postbacks */
  postback_secret: z.string(),
  /** shared token for pixel-style GET postbacks (weaker than a signature) */
  postback_token: z.string(),
  /** credentials replaced by rotation, accepted until their not_after_ms */
  retired_credentials: z.array(RetiredCredential).default([]),
  /** addresses allowed to send postbacks; empty means any */
  ip_allowlist: z.array(IpRule).default([]),
  shopify_webhook_secret: z.string().optional(),
  woocommerce_webhook_secret: z.string().optional(),
  /** token postbacks may change a conversion's status (off: they create sales only; status changes are signed) */
  token_status_changes: z.boolean().default(false),
  created_at_ms: z.number().int(),
});
export type Merchant = z.infer<typeof Merchant>;

/** Secrets and tokens accepted at `nowMs`: the current one first, then retired ones still inside their overlap. */
export function acceptedCredentials(m: Merchant, nowMs: number): { secrets: string[]; tokens: string[] } {
  const live = m.retired_credentials.filter((c) => c.not_after_ms > nowMs);
  return {
    secrets: [m.postback_secret, ...live.map((c) => c.secret)],
    tokens: [m.postback_token, ...live.map((c) => c.token)],
  };
}

export const CampaignInputFields = z.strictObject({
  merchant_id: EntityId,
  name: Name,
  commission: CommissionRule,
  /** settlement currency of the commission */
  currency: Currency,
  allowed_domains: z.array(Domain).min(1).max(50),
  default_destination: z.string().max(2048),
  /** days after a click during which a sale is credited to it */
  attribution_window_days: z.number().int().min(1).max(365).default(30),
  /** last_click credits the click id the merchant sent; first_click credits the earliest click of the same shopper (IP and user agent) on the campaign inside the window */
  attribution_model: z.enum(["last_click", "first_click"]).default("last_click"),
  /** seconds: a sale sooner than this after its click is flagged suspect (coupon-extension hijacking); 0 = off */
  min_click_to_conversion_seconds: z.number().int().min(0).max(86_400).default(0),
  /**
   * true: commission of a suspect conversion (too fast after its click, through a bot-flagged click) waits in status
   * `review` until the merchant or an admin approves or rejects it; false: it is credited as usual and shown flagged.
   * A sale dated before its click always waits for review.
   */
  hold_suspect: z.boolean().default(false),
  /**
   * what the commission is a share of: the order total as sent (`total`, with shipping and tax), or the net sale
   * (`net`: total less shipping and tax) where the platform or merchant sends it; a sale without a net is paid on its total
   */
  commission_base: z.enum(["total", "net"]).default("total"),
  /** who is credited when the click and a valid coupon name different influencers */
  coupon_policy: z.enum(["click_wins", "coupon_wins"]).default("click_wins"),
  /** days after approval before approved commission becomes payable */
  holding_days: z.number().int().min(0).max(365).default(30),
  /** per-influencer commission replacing the campaign's */
  influencer_overrides: z
    .array(z.strictObject({ influencer_id: EntityId, commission: CommissionRule }))
    .max(10_000)
    .default([]),
  /** query parameter carrying the click id to the merchant */
  click_param: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/)
    .default("click_id"),
});
/** The destination must be on the campaign's own allowlist: checked with every other field, so all issues come back at once. */
export const CampaignInput = CampaignInputFields.superRefine((c, ctx) => {
  const check = checkDestination(c.default_destination, c.allowed_domains);
  if (!check.ok) ctx.addIssue({ code: "custom", path: ["default_destination"], message: check.reason });
});
export const Campaign = CampaignInputFields.extend({ id: EntityId, created_at_ms: z.number().int() });
export type Campaign = z.infer<typeof Campaign>;

export const InfluencerInput = z.strictObject({ name: Name, handle: z.string().trim().max(100).optional() });
export const Influencer = InfluencerInput.extend({ id: EntityId, created_at_ms: z.number().int() });
export type Influencer = z.infer<typeof Influencer>;
