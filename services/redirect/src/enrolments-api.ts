import type { Campaign, Catalog, Principal } from "@aff/catalog";
import { sendError, sendValidationError } from "@aff/common";
import { EntityId } from "@aff/events";
import express from "express";
import { z } from "zod";
import { principalOf, requireRole, sendAppError } from "./api-errors";

const PathId = z.coerce.number().pipe(EntityId);
const EnrolmentInput = z.strictObject({ influencer_id: EntityId });

/** A merchant key manages its own campaigns only; anyone else's (or a missing one) is the same 404. */
const mayManage = (p: Principal, c: Campaign) => p.role === "admin" || p.merchant_id === c.merchant_id;

/**
 * Campaign enrolment, by an admin or the campaign's merchant: POST /campaigns/:id/enrolments {influencer_id},
 * GET /campaigns/:id/enrolments, DELETE /campaigns/:id/enrolments/:influencer_id. An influencer key lists the
 * campaigns it is enrolled in with GET /enrolments. Removing an enrolment stops new links; links already issued
 * keep working until revoked (their clicks may still turn into sales that must be credited).
 */
export function enrolmentsApi(catalog: Catalog): express.Router {
  const r = express.Router();

  /** The campaign in the path, when the caller may manage it; otherwise answers 404 itself. */
  const campaignOf = async (req: express.Request, res: express.Response): Promise<Campaign | undefined> => {
    const id = PathId.safeParse(req.params.id);
    if (!id.success) return void sendValidationError(res, id.error);
    const campaign = await catalog.getCampaign(id.data);
    if (campaign === undefined || !mayManage(principalOf(res), campaign))
      return void sendError(res, "not_found", "no such campaign");
    return campaign;
  };

  const manage = requireRole("admin", "merchant");
  r.post("/campaigns/:id/enrolments", manage, async (req, res) => {
    const campaign = await campaignOf(req, res);
    if (!campaign) return;
    const body = EnrolmentInput.safeParse(req.body ?? {});
    if (!body.success) return sendValidationError(res, body.error);
    try {
      res.status(201).json(await catalog.enrol(campaign.id, body.data.influencer_id));
    } catch (err) {
      sendAppError(res, err);
    }
  });

  r.get("/campaigns/:id/enrolments", manage, async (req, res) => {
    const campaign = await campaignOf(req, res);
    if (campaign) res.json({ enrolments: await catalog.enrolments.ofCampaign(campaign.id) });
  });

  r.delete("/campaigns/:id/enrolments/:influencer_id", manage, async (req, res) => {
    const campaign = await campaignOf(req, res);
    if (!campaign) return;
    const influencer = PathId.safeParse(req.params.influencer_id);
    if (!influencer.success) return sendValidationError(res, influencer.error);
    if (!(await catalog.enrolments.remove(campaign.id, influencer.data)))
      return sendError(res, "not_found", "no such enrolment");
    res.status(204).end();
  });

  r.get("/enrolments", requireRole("influencer"), async (_req, res) => {
    const influencerId = principalOf(res).influencer_id ?? 0;
    res.json({ enrolments: await catalog.enrolments.ofInfluencer(influencerId) });
  });
  return r;
}
