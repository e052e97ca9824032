import { type Catalog, type Link, LinkCode, LinkInput, LinkUpdate, type Principal } from "@aff/catalog";
import { sendError, sendValidationError } from "@aff/common";
import { EntityId } from "@aff/events";
import express from "express";
import { z } from "zod";
import { principalOf, requireRole, sendAppError } from "./api-errors";

const ListQuery = z
  .strictObject({
    influencer_id: z.coerce.number().pipe(EntityId).optional(),
    campaign_id: z.coerce.number().pipe(EntityId).optional(),
    /** cursor: the last id of the previous page */
    after_id: z.coerce.number().int().min(0).optional(),
    limit: z.coerce.number().int().min(1).max(500).default(100),
  })
  .refine((q) => q.influencer_id !== undefined || q.campaign_id !== undefined, {
    message: "influencer_id or campaign_id is required",
    path: ["influencer_id"],
  });

/** Whether a caller may see a link: admin and finance see all, a merchant its own campaigns', an influencer its own. */
function canSee(p: Principal, link: Link): boolean {
  if (p.role === "admin" || p.role === "finance") return true;
  if (p.role === "merchant") return p.merchant_id === link.merchant_id;
  return p.influencer_id === link.influencer_id;
}

const canChange = (p: Principal, link: Link) =>
  p.role === "admin" || (p.role === "influencer" && p.influencer_id === link.influencer_id);

/**
 * Link issuance: create, list, get, update (destination, subs, expiry), revoke, expire. An influencer key works on
 * its own links only (someone else's link answers 404, so codes cannot be probed) and creates links only on
 * campaigns it is enrolled in; a link an admin creates enrols its influencer.
 */
export function linksApi(catalog: Catalog): express.Router {
  const r = express.Router();

  r.post("/", requireRole("admin", "influencer"), async (req, res) => {
    const p = principalOf(res);
    const body = { ...(req.body ?? {}) };
    if (p.role === "influencer") body.influencer_id ??= p.influencer_id;
    const parsed = LinkInput.safeParse(body);
    if (!parsed.success) return sendValidationError(res, parsed.error);
    if (p.role === "influencer" && parsed.data.influencer_id !== p.influencer_id) {
      return sendError(res, "forbidden", "influencer_id: an influencer key creates links for its own influencer only");
    }
    try {
      const enrolled = p.role === "admin" ? "grant" : "required";
      res.status(201).json(await catalog.createLink(parsed.data, { enrolled }));
    } catch (err) {
      sendAppError(res, err);
    }
  });

  r.get("/", async (req, res) => {
    const p = principalOf(res);
    const query = { ...(req.query as Record<string, unknown>) };
    if (p.role === "influencer") query.influencer_id = String(p.influencer_id);
    const parsed = ListQuery.safeParse(query);
    if (!parsed.success) return sendValidationError(res, parsed.error);
    const links = (await catalog.links.list(parsed.data)).filter((l) => canSee(p, l));
    res.json({ links, next_after_id: links.length === parsed.data.limit ? links.at(-1)?.id : undefined });
  });

  /** Loads the link named in the path and checks the caller may act on it; answers the error itself otherwise. */
  const load = async (
    req: express.Request,
    res: express.Response,
    allowed: (p: Principal, l: Link) => boolean,
  ): Promise<Link | undefined> => {
    const code = LinkCode.safeParse(req.params.code);
    if (!code.success) return void sendValidationError(res, code.error);
    const link = await catalog.links.get(code.data);
    if (link === undefined || !canSee(principalOf(res), link)) return void sendError(res, "not_found", "no such link");
    if (!allowed(principalOf(res), link)) return void sendError(res, "forbidden", "this key cannot change this link");
    return link;
  };

  r.get("/:code", async (req, res) => {
    const link = await load(req, res, canSee);
    if (link) res.json(link);
  });

  const change = (
    method: "patch" | "post",
    path: string,
    apply: (link: Link, body: unknown) => Promise<Link | undefined> | z.ZodError,
  ) => {
    r[method](path, async (req, res) => {
      const link = await load(req, res, canChange);
      if (!link) return;
      try {
        const out = await apply(link, req.body ?? {});
        if (out instanceof z.ZodError) return sendValidationError(res, out);
        if (out === undefined) return sendError(res, "not_found", "no such link");
        res.json(out);
      } catch (err) {
        sendAppError(res, err);
      }
    });
  };
  change("patch", "/:code", (link, body) => {
    const parsed = LinkUpdate.safeParse(body);
    return parsed.success ? catalog.links.update(link.code, parsed.data) : parsed.error;
  });
  change("post", "/:code/revoke", (link) => catalog.links.revoke(link.code));
  change("post", "/:code/expire", (link) => catalog.links.update(link.code, { expires_at_ms: Date.now() }));
  return r;
}
