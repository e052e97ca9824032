import { type Catalog, CouponCode, CouponInput, CouponRegistry, FxRates, FxTable } from "@aff/catalog";
import { sendError, sendValidationError } from "@aff/common";
import express from "express";
import { z } from "zod";

const CouponKey = z.object({
  merchant_id: z.coerce
    .number()
    .int()
    .min(1)
    .max(2 ** 32 - 1),
  code: CouponCode,
});

const invalid = (res: express.Response, path: string, message: string) =>
  sendError(res, "unknown_reference", message, [{ path, message, code: "unknown_reference" }]);

/**
 * Coupons and FX rates for attribution, mounted inside the admin API (behind its key and JSON parser):
 * POST /coupons, GET /coupons/:merchant_id/:code, POST /fx-rates { rates: [...] }.
 */
export function adminCampaignExtras(catalog: Catalog): express.Router {
  const r = express.Router();
  const coupons = new CouponRegistry(catalog.redis, catalog.prefix);
  const fx = new FxRates(catalog.redis, catalog.prefix);

  r.post("/coupons", async (req, res) => {
    const parsed = CouponInput.safeParse(req.body ?? {});
    if (!parsed.success) return sendValidationError(res, parsed.error);
    const c = parsed.data;
    const campaign = await catalog.getCampaign(c.campaign_id);
    if (!campaign) return invalid(res, "campaign_id", `campaign ${c.campaign_id} does not exist`);
    if (campaign.merchant_id !== c.merchant_id)
      return invalid(res, "merchant_id", `campaign ${c.campaign_id} belongs to another merchant`);
    if (!(await catalog.getInfluencer(c.influencer_id)))
      return invalid(res, "influencer_id", `influencer ${c.influencer_id} does not exist`);
    res.status(201).json(await coupons.put(c));
  });

  r.get("/coupons/:merchant_id/:code", async (req, res) => {
    const parsed = CouponKey.safeParse(req.params);
    if (!parsed.success) return sendValidationError(res, parsed.error);
    const found = await coupons.get(parsed.data.merchant_id, parsed.data.code);
    if (!found) return sendError(res, "not_found", "no such coupon");
    res.json(found);
  });

  r.post("/fx-rates", async (req, res) => {
    const parsed = z.strictObject({ rates: FxTable }).safeParse(req.body ?? {});
    if (!parsed.success) return sendValidationError(res, parsed.error);
    res.status(201).json({ loaded: await fx.load(parsed.data.rates) });
  });
  return r;
}
