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
