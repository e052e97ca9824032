import { CampaignInput, type Catalog, InfluencerInput, MerchantInput, resolverWithBootstrap } from "@aff/catalog";
import { keyAuth, sendError, sendValidationError } from "@aff/common";
import express from "express";
import { z } from "zod";
import { adminCampaignExtras } from "./admin-campaign-extras";
import { adminKeys } from "./admin-keys";
import { adminMerchants } from "./admin-merchants";
import { requireRole, sendAppError } from "./api-errors";
import { enrolmentsApi } from "./enrolments-api";
import { linksApi } from "./links-api";
import { marketplaceApi } from "./marketplace-api";
import { profilesApi } from "./profiles-api";

const Id = z.coerce
  .number()
  .int()
  .min(1)
  .max(2 ** 32 - 1);

/**
 * The management API: merchants, campaigns, influencers and API keys (admin), links (admin and influencer keys),
 * enrolments (admin and the campaign's merchant).
 */
export function adminApi(catalog: Catalog, adminKey: string): express.Router {
  const r = express.Router();
  r.use(keyAuth(resolverWithBootstrap(catalog.apiKeys, adminKey, "admin", "ADMIN_API_KEY")));
  r.use(express.json({ limit: "64kb" }));
  r.use("/links", linksApi(catalog));
  r.use(enrolmentsApi(catalog));
  r.use(profilesApi(catalog));
  r.use("/marketplace", marketplaceApi(catalog));

  const admin = express.Router();
  admin.use(requireRole("admin"));
  const create = <S extends z.ZodType, T>(path: string, schema: S, make: (input: z.output<S>) => Promise<T>) => {
    admin.post(path, async (req, res) => {
      const parsed = schema.safeParse(req.body ?? {});
      if (!parsed.success) return sendValidationError(res, parsed.error);
      try {
        res.status(201).json(await make(parsed.data));
      } catch (err) {
        sendAppError(res, err);
      }
    });
  };
  const read = <T>(path: string, get: (id: number) => Promise<T | undefined>) => {
    admin.get(path, async (req, res) => {
      const parsed = Id.safeParse(req.params.id);
      if (!parsed.success) return sendValidationError(res, parsed.error);
      const found = await get(parsed.data);
      if (found === undefined) return sendError(res, "not_found", `nothing at ${req.path}`);
      res.json(found);
    });
  };

  create("/merchants", MerchantInput, (i) => catalog.createMerchant(i));
  create("/campaigns", CampaignInput, (i) => catalog.createCampaign(i));
  create("/influencers", InfluencerInput, (i) => catalog.createInfluencer(i));
  read("/merchants/:id", (id) => catalog.getMerchant(id));
  read("/campaigns/:id", (id) => catalog.getCampaign(id));
  read("/influencers/:id", (id) => catalog.getInfluencer(id));
  admin.use(adminKeys(catalog));
  admin.use(adminMerchants(catalog));
  admin.use(adminCampaignExtras(catalog));
  r.use(admin);
  return r;
}
