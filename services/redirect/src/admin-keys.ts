import { ApiKeyInput, type Catalog, KEY_ID_PATTERN, Role } from "@aff/catalog";
import { sendError, sendValidationError } from "@aff/common";
import { EntityId } from "@aff/events";
import express from "express";
import { z } from "zod";

const KeyPath = z.object({ id: z.string().regex(KEY_ID_PATTERN, "must be a key id (12 hex digits)") });
const ListQuery = z.strictObject({
  role: Role.optional(),
  merchant_id: z.coerce.number().pipe(EntityId).optional(),
  influencer_id: z.coerce.number().pipe(EntityId).optional(),
  status: z.enum(["active", "expired", "revoked"]).optional(),
});
const Rotation = z.strictObject({
  /** seconds the old key keeps working after the rotation (default 0: revoked at once; at most 30 days) */
  overlap_s: z
    .number()
    .int()
    .min(0)
    .max(30 * 86_400)
    .default(0),
  /** expiry of the new key; absent keeps the old key's, null means none */
  expires_at_ms: z
    .number()
    .int()
    .refine((t) => t > Date.now(), "must be in the future")
    .nullable()
    .optional(),
});

/**
 * API key management, mounted inside the admin API (admin role): issue, list, read, revoke and rotate keys of every
 * role. Keys are shown in clear only in the answer that issues them; listings show ids, scope, status and last use.
 */
export function adminKeys(catalog: Catalog): express.Router {
  const r = express.Router();
  const keys = catalog.apiKeys;

  r.post("/keys", async (req, res) => {
    const parsed = ApiKeyInput.safeParse(req.body ?? {});
    if (!parsed.success) return sendValidationError(res, parsed.error);
    res.status(201).json(await keys.create(parsed.data));
  });

  r.get("/keys", async (req, res) => {
    const q = ListQuery.safeParse(req.query);
    if (!q.success) return sendValidationError(res, q.error);
    const f = q.data;
    const all = await keys.list();
    res.json({
      keys: all.filter(
        (k) =>
          (f.role === undefined || k.role === f.role) &&
          (f.merchant_id === undefined || k.merchant_id === f.merchant_id) &&
          (f.influencer_id === undefined || k.influencer_id === f.influencer_id) &&
          (f.status === undefined || k.status === f.status),
      ),
    });
  });

  /** The key id in the path, or a 400 naming it. */
  const keyIdOf = (req: express.Request, res: express.Response): string | undefined => {
    const path = KeyPath.safeParse(req.params);
    if (!path.success) return void sendValidationError(res, path.error);
    return path.data.id;
  };

  r.get("/keys/:id", async (req, res) => {
    const id = keyIdOf(req, res);
    if (id === undefined) return;
    const found = await keys.get(id);
    if (!found) return sendError(res, "not_found", "no such key");
    res.json(found);
  });

  r.post("/keys/:id/revoke", async (req, res) => {
    const id = keyIdOf(req, res);
    if (id === undefined) return;
    const revoked = await keys.revokeById(id);
    if (!revoked) return sendError(res, "not_found", "no such key");
    res.json(revoked);
  });

  r.post("/keys/:id/rotate", async (req, res) => {
    const id = keyIdOf(req, res);
    if (id === undefined) return;
    const body = Rotation.safeParse(req.body ?? {});
    if (!body.success) return sendValidationError(res, body.error);
    const rotated = await keys.rotate(id, body.data);
    if (rotated === undefined) return sendError(res, "not_found", "no such key");
    if (rotated === "not_active")
      return sendError(res, "conflict", "this key is revoked, expired or already replaced; rotate its successor");
    res.status(201).json(rotated);
  });
  return r;
}
