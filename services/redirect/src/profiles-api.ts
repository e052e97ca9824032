import {
  AdminProfileInput,
  type Campaign,
  type Catalog,
  ListingInput,
  Listings,
  NICHES,
  type Principal,
  type Profile,
  ProfileInput,
  Profiles,
  TIER_THRESHOLDS,
  verifiedFieldChanged,
  viewProfile,
} from "@aff/catalog";
import { ApiError, sendError, sendValidationError } from "@aff/common";
import { EntityId } from "@aff/events";
import express from "express";
import { z } from "zod";
import { principalOf, sendAppError } from "./api-errors";

const PathId = z.coerce.number().pipe(EntityId);

/** Merchants choose influencers from profiles, so every role reads them; an influencer key reads only its own. */
const mayRead = (p: Principal, influencerId: number) => p.role !== "influencer" || p.influencer_id === influencerId;
const mayWrite = (p: Principal, influencerId: number) =>
  p.role === "admin" || (p.role === "influencer" && p.influencer_id === influencerId);

/** Builds the stored profile from an influencer's own edit: verified audiences stay verified (they cannot change). */
function ownEdit(id: number, input: ProfileInput, nowMs: number) {
  return (current: Profile | undefined): Profile => {
    const field = verifiedFieldChanged(current, input);
    if (field)
      throw new ApiError("forbidden", `${field}: a verified audience is changed by an admin only`, {
        issues: [{ path: field, message: "verified; ask an admin to change it", code: "forbidden" }],
      });
    const verified = new Set(current?.platforms.filter((p) => p.audience_verified).map((p) => p.platform));
    const platforms = input.platforms.map((p) => ({ ...p, audience_verified: verified.has(p.platform) }));
    return { ...input, influencer_id: id, platforms, updated_at_ms: nowMs };
  };
}

/**
 * Influencer profiles and campaign listings: GET /niches, GET|PUT /influencers/:id/profile,
 * GET|PUT /campaigns/:id/listing. Admins set everything; an influencer key edits its own profile except verified
 * audiences; a merchant key edits the listing of its own campaigns.
 */
export function profilesApi(catalog: Catalog): express.Router {
  const r = express.Router();
  const profiles = new Profiles(catalog.redis, catalog.prefix);
  const listings = new Listings(catalog.redis, catalog.prefix);

  r.get("/niches", (_req, res) => {
    res.json({
      niches: Object.entries(NICHES).map(([id, label]) => ({ id, label })),
      tiers: TIER_THRESHOLDS.map((t) => ({ tier: t.tier, min_audience: t.min })),
    });
  });

  /** The influencer in the path when the caller may act on it, else answers (404 hides others from influencers). */
  const influencerOf = async (req: express.Request, res: express.Response, allowed: typeof mayRead) => {
    const id = PathId.safeParse(req.params.id);
    if (!id.success) return void sendValidationError(res, id.error);
    const p = principalOf(res);
    if (!mayRead(p, id.data)) return void sendError(res, "not_found", "no such influencer");
    if (!allowed(p, id.data)) return void sendError(res, "forbidden", "this key cannot change this profile");
    const influencer = await catalog.getInfluencer(id.data);
    if (!influencer) return void sendError(res, "not_found", "no such influencer");
    return influencer;
  };

  r.get("/influencers/:id/profile", async (req, res) => {
    const influencer = await influencerOf(req, res, mayRead);
    if (!influencer) return;
    const profile = await profiles.get(influencer.id);
    if (!profile) return sendError(res, "not_found", `influencer ${influencer.id} has no profile yet`);
    res.json({ name: influencer.name, handle: influencer.handle, ...viewProfile(profile) });
  });

  r.put("/influencers/:id/profile", async (req, res) => {
    const influencer = await influencerOf(req, res, mayWrite);
    if (!influencer) return;
    const nowMs = Date.now();
    try {
      if (principalOf(res).role === "admin") {
        const body = AdminProfileInput.safeParse(req.body ?? {});
        if (!body.success) return sendValidationError(res, body.error);
        const saved = await profiles.put(influencer.id, () => ({
          ...body.data,
          influencer_id: influencer.id,
          updated_at_ms: nowMs,
        }));
        return res.json({ name: influencer.name, ...viewProfile(saved) });
      }
      const body = ProfileInput.safeParse(req.body ?? {});
      if (!body.success) return sendValidationError(res, body.error);
      const saved = await profiles.put(influencer.id, ownEdit(influencer.id, body.data, nowMs));
      res.json({ name: influencer.name, ...viewProfile(saved) });
    } catch (err) {
      sendAppError(res, err);
    }
  });

  /** The campaign in the path when the caller may manage it (admin or its merchant); anyone else gets 404. */
  const managedCampaign = async (req: express.Request, res: express.Response): Promise<Campaign | undefined> => {
    const id = PathId.safeParse(req.params.id);
    if (!id.success) return void sendValidationError(res, id.error);
    const campaign = await catalog.getCampaign(id.data);
    const p = principalOf(res);
    if (!campaign || !(p.role === "admin" || (p.role === "merchant" && p.merchant_id === campaign.merchant_id)))
      return void sendError(res, "not_found", "no such campaign");
    return campaign;
  };

  r.put("/campaigns/:id/listing", async (req, res) => {
    const campaign = await managedCampaign(req, res);
    if (!campaign) return;
    const body = ListingInput.safeParse(req.body ?? {});
    if (!body.success) return sendValidationError(res, body.error);
    res.json(await listings.put(campaign.id, campaign.merchant_id, body.data));
  });

  r.get("/campaigns/:id/listing", async (req, res) => {
    const campaign = await managedCampaign(req, res);
    if (!campaign) return;
    const listing = await listings.get(campaign.id);
    if (!listing) return sendError(res, "not_found", `campaign ${campaign.id} has no listing yet`);
    res.json(listing);
  });
  return r;
}
