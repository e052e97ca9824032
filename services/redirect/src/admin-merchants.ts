import { type Catalog, type Merchant, MerchantPostbackSettings } from "@aff/catalog";
import { sendError, sendValidationError } from "@aff/common";
import express from "express";
import { z } from "zod";

const Id = z.coerce
  .number()
  .int()
  .min(1)
  .max(2 ** 32 - 1);
const Rotation = z.strictObject({
  /** seconds the previous secret and token stay valid (default one day, at most 30 days) */
  overlap_s: z
    .number()
    .int()
    .min(0)
    .max(30 * 86_400)
    .default(86_400),
});

/** Merchant postback credentials: rotation with an overlap, IP allowlist, store-platform webhook secrets. */
export function adminMerchants(catalog: Catalog): express.Router {
  const r = express.Router();
  const update = (
    path: string,
    schema: z.ZodType,
    apply: (id: number, body: never) => Promise<Merchant | undefined>,
  ) => {
    r.post(path, async (req, res) => {
      const id = Id.safeParse(req.params.id);
      if (!id.success) return sendValidationError(res, id.error);
      const body = schema.safeParse(req.body ?? {});
      if (!body.success) return sendValidationError(res, body.error);
      const merchant = await apply(id.data, body.data as never);
      if (!merchant) return sendError(res, "not_found", `merchant ${id.data} does not exist`);
      res.json(merchant);
    });
  };
  update("/merchants/:id/rotate-credentials", Rotation, (id, body: z.output<typeof Rotation>) =>
    catalog.rotateMerchantCredentials(id, body.overlap_s),
  );
  update("/merchants/:id/postback-settings", MerchantPostbackSettings, (id, body: MerchantPostbackSettings) =>
    catalog.setMerchantPostbackSettings(id, body),
  );
  return r;
}
