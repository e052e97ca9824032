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
export const Merchant = MerchantInput.extend({
  id: EntityId,
  /** HMAC key for signed postbacks */
  postback_secret: z.string(),
  /** shared token for pixel-style GET postbacks (weaker than a signature) */
  postback_token: z.string(),
  created_at_ms: z.number().int(),
});
export type Merchant = z.infer<typeof Merchant>;

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
  /** who is credited when the click and a valid coupon name different influencers */
  coupon_policy: z.enum(["click_wins", "coupon_wins"]).default("click_wins"),
  /** days after approval before approved commission becomes payable */
  holding_days: z.number().int().min(0).max(365).default(30),
  /** per-influencer commission replacing the campaign's */
  influencer_overrides: z.array(z.strictObject({ influencer_id: EntityId, commission: CommissionRule })).max(10_000).default([]),
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

export const LinkCode = z.string().regex(/^[A-Za-z0-9_-]{3,64}$/, "must be 3-64 letters, digits, - or _");

export const LinkInput = z.strictObject({
  campaign_id: EntityId,
  influencer_id: EntityId,
  /** deep link on one of the campaign's allowed domains; the campaign's default when absent */
  destination: z.string().max(2048).optional(),
  alias: LinkCode.optional(),
});
export const Link = z.object({
  id: EntityId,
  code: LinkCode,
  campaign_id: EntityId,
  influencer_id: EntityId,
  merchant_id: EntityId,
  destination: z.string(),
  /** the campaign's allowlist when the link was saved; the destination is checked against it again at redirect */
  allowed_domains: z.array(z.string()),
  click_param: z.string(),
  status: z.enum(["active", "revoked"]),
  created_at_ms: z.number().int(),
});
export type Link = z.infer<typeof Link>;
