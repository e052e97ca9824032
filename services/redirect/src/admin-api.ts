import { CampaignInput, type Catalog, InfluencerInput, LinkCode, LinkInput, MerchantInput } from "@aff/catalog";
import { AppError, bearerAuth, sendValidationError } from "@aff/common";
import express from "express";
import { z } from "zod";
import { adminCampaignExtras } from "./admin-campaign-extras";
import { adminMerchants } from "./admin-merchants";

const Id = z.coerce.number().int().min(1).max(2 ** 32 - 1);

const STATUS: Record<string, number> = { not_found: 422, invalid_destination: 400, conflict: 409 };

function sendAppError(res: express.Response, err: unknown): void {
  if (err instanceof AppError && STATUS[err.code]) {
    res.status(STATUS[err.code] as number).json({ error: err.code, message: err.message, issues: [{ path: String(err.context.path ?? ""), message: err.message }] });
    return;
  }
  throw err;
}

/** Create and read merchants, campaigns, influencers and links. Admin key only for now. */
export function adminApi(catalog: Catalog, adminKey: string): express.Router {
  const r = express.Router();
  r.use(bearerAuth([adminKey]));
  r.use(express.json({ limit: "64kb" }));

  const create = <S extends z.ZodType, T>(path: string, schema: S, make: (input: z.output<S>) => Promise<T>) => {
    r.post(path, async (req, res) => {
      const parsed = schema.safeParse(req.body ?? {});
      if (!parsed.success) return sendValidationError(res, parsed.error);
      try {
        res.status(201).json(await make(parsed.data));
      } catch (err) {
        sendAppError(res, err);
      }
    });
  };
  const read = <T>(path: string, param: z.ZodType<string | number>, get: (id: never) => Promise<T | undefined>) => {
    r.get(path, async (req, res) => {
      const parsed = param.safeParse(req.params.id);
      if (!parsed.success) return sendValidationError(res, parsed.error);
      const found = await get(parsed.data as never);
      if (found === undefined) return void res.status(404).json({ error: "not_found" });
      res.json(found);
    });
  };

  create("/merchants", MerchantInput, (i) => catalog.createMerchant(i));
  create("/campaigns", CampaignInput, (i) => catalog.createCampaign(i));
  create("/influencers", InfluencerInput, (i) => catalog.createInfluencer(i));
  create("/links", LinkInput, (i) => catalog.createLink(i));
  read("/merchants/:id", Id, (id: number) => catalog.getMerchant(id));
  read("/campaigns/:id", Id, (id: number) => catalog.getCampaign(id));
  read("/influencers/:id", Id, (id: number) => catalog.getInfluencer(id));
  read("/links/:id", LinkCode, (code: string) => catalog.getLink(code));
  r.use(adminMerchants(catalog));
  r.use(adminCampaignExtras(catalog));
  return r;
}
