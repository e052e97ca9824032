import {
  type Campaign,
  CampaignInputFields,
  type Catalog,
  type Listing,
  ListingInput,
  Listings,
  type Offer,
  Offers,
  type Principal,
  Profiles,
} from "@aff/catalog";
import { sendError, sendValidationError } from "@aff/common";
import { EntityId } from "@aff/events";
import express from "express";
import { z } from "zod";
import { principalOf, requireRole, sendAppError } from "./api-errors";

const PathId = z.coerce.number().pipe(EntityId);
const Note = z.string().trim().max(500).default("");

/** A campaign as a merchant sets it up: its terms and its listing in one body. */
const NewCampaign = CampaignInputFields.omit({ influencer_overrides: true })
  .extend({ merchant_id: EntityId.optional() })
  .extend(ListingInput.shape);
/** Terms a merchant may change later (links already issued keep their domains; past sales keep their terms). */
const TermsUpdate = CampaignInputFields.pick({
  name: true,
  commission: true,
  allowed_domains: true,
  default_destination: true,
  attribution_window_days: true,
  min_click_to_conversion_seconds: true,
  coupon_policy: true,
  holding_days: true,
})
  .partial()
  .extend({ target_niches: ListingInput.shape.target_niches.optional(), open: z.boolean().optional() })
  .extend({ brief: z.string().trim().max(2000).optional() })
  .strict();
const InfluencerRef = z.strictObject({ influencer_id: EntityId, note: Note });
const NoteBody = z.strictObject({ note: Note });

/** What an influencer reads before applying: the commercial terms, never other influencers' overrides. */
function termsOf(c: Campaign, merchantName: string | undefined, l: Listing | undefined, offer?: Offer) {
  return {
    campaign_id: c.id,
    name: c.name,
    merchant: { id: c.merchant_id, name: merchantName ?? null },
    commission: c.commission,
    currency: c.currency,
    attribution_window_days: c.attribution_window_days,
    attribution_model: c.attribution_model,
    min_click_to_conversion_seconds: c.min_click_to_conversion_seconds,
    holding_days: c.holding_days,
    coupon_policy: c.coupon_policy,
    allowed_domains: c.allowed_domains,
    default_destination: c.default_destination,
    target_niches: l?.target_niches ?? [],
    open: l?.open ?? false,
    brief: l?.brief ?? "",
    offer: offer ? { state: offer.state, by: offer.by, note: offer.note, updated_at_ms: offer.updated_at_ms } : null,
  };
}

/**
 * The marketplace loop, scoped by role: a merchant key sets up and edits its own campaigns with terms and target
 * niches, invites influencers and accepts applications; an influencer key sees open campaigns in its niches (and those
 * it is invited to), reads the terms, applies, and accepts or declines invitations. Acceptance is the campaign
 * enrolment (catalog.enrol), which is what lets the influencer's key create links on the campaign.
 */
export function marketplaceApi(catalog: Catalog): express.Router {
  const r = express.Router();
  const listings = new Listings(catalog.redis, catalog.prefix);
  const offers = new Offers(catalog.redis, catalog.prefix);
  const profiles = new Profiles(catalog.redis, catalog.prefix);

  const manages = (p: Principal, c: Campaign) =>
    p.role === "admin" || (p.role === "merchant" && p.merchant_id === c.merchant_id);
  /** An influencer may read a campaign that is open in one of its niches, or that it has an offer or enrolment on. */
  const influencerMayRead = async (influencerId: number, c: Campaign, l: Listing | undefined) => {
    if (await offers.get(c.id, influencerId)) return true;
    if (await catalog.enrolments.has(c.id, influencerId)) return true;
    const niches = (await profiles.get(influencerId))?.niches ?? [];
    return l?.open === true && l.target_niches.some((n) => niches.includes(n));
  };

  /** The campaign in the path when the caller may see it (404 otherwise, so ids cannot be probed). */
  async function load(req: express.Request, res: express.Response, need: "read" | "manage") {
    const id = PathId.safeParse(req.params.id);
    if (!id.success) return void sendValidationError(res, id.error);
    const campaign = await catalog.getCampaign(id.data);
    const listing = campaign && (await listings.get(campaign.id));
    const p = principalOf(res);
    const visible =
      campaign !== undefined &&
      (manages(p, campaign) ||
        (need === "read" &&
          p.role === "influencer" &&
          (await influencerMayRead(p.influencer_id ?? 0, campaign, listing))));
    if (!campaign || !visible) return void sendError(res, "not_found", "no such campaign");
    return { campaign, listing };
  }

  const view = async (c: Campaign, l: Listing | undefined, offer?: Offer) =>
    termsOf(c, (await catalog.getMerchant(c.merchant_id))?.name, l, offer);

  r.post("/campaigns", requireRole("admin", "merchant"), async (req, res) => {
    const p = principalOf(res);
    const body = NewCampaign.safeParse({
      ...(req.body ?? {}),
      ...(p.role === "merchant" ? { merchant_id: p.merchant_id } : {}),
    });
    if (!body.success) return sendValidationError(res, body.error);
    const { target_niches, open, brief, merchant_id, ...terms } = body.data;
    if (merchant_id === undefined)
      return sendError(res, "validation_failed", "the request has invalid fields", [
        { path: "merchant_id", message: "required for an admin key", code: "custom" },
      ]);
    try {
      const campaign = await catalog.createCampaign({ ...terms, merchant_id, influencer_overrides: [] });
      const listing = await listings.put(campaign.id, merchant_id, { target_niches, open, brief });
      res.status(201).json(await view(campaign, listing));
    } catch (err) {
      sendAppError(res, err);
    }
  });

  r.patch("/campaigns/:id", requireRole("admin", "merchant"), async (req, res) => {
    const found = await load(req, res, "manage");
    if (!found) return;
    const body = TermsUpdate.safeParse(req.body ?? {});
    if (!body.success) return sendValidationError(res, body.error);
    const { target_niches, open, brief, ...terms } = body.data;
    try {
      const campaign = (await catalog.updateCampaign(found.campaign.id, (c) => ({ ...c, ...terms }))) ?? found.campaign;
      const before = found.listing;
      const listing =
        target_niches || open !== undefined || brief !== undefined || !before
          ? await listings.put(campaign.id, campaign.merchant_id, {
              target_niches: target_niches ?? before?.target_niches ?? [],
              open: open ?? before?.open ?? false,
              brief: brief ?? before?.brief ?? "",
            })
          : before;
      res.json(await view(campaign, listing));
    } catch (err) {
      sendAppError(res, err);
    }
  });

  r.get("/campaigns", async (req, res) => {
    const p = principalOf(res);
    let ids: number[];
    if (p.role === "influencer") {
      const niches = (await profiles.get(p.influencer_id ?? 0))?.niches ?? [];
      const open = (await Promise.all(niches.map((n) => listings.inNiche(n, true)))).flat();
      const offered = (await offers.ofInfluencer(p.influencer_id ?? 0)).map((o) => o.campaign_id);
      ids = [...new Set([...open, ...offered])];
    } else if (p.role === "merchant") {
      ids = await listings.ofMerchant(p.merchant_id ?? 0);
    } else {
      const merchant = PathId.safeParse(req.query.merchant_id);
      if (!merchant.success) return sendValidationError(res, merchant.error);
      ids = await listings.ofMerchant(merchant.data);
    }
    ids.sort((a, b) => a - b);
    const found = await Promise.all(ids.map((id) => catalog.getCampaign(id)));
    const ls = await listings.getMany(ids);
    const mine = p.role === "influencer" ? await offers.ofInfluencer(p.influencer_id ?? 0) : [];
    const campaigns = await Promise.all(
      found.flatMap((c) =>
        c
          ? [
              view(
                c,
                ls.get(c.id),
                mine.find((o) => o.campaign_id === c.id),
              ),
            ]
          : [],
      ),
    );
    res.json({ campaigns });
  });

  r.get("/campaigns/:id", async (req, res) => {
    const found = await load(req, res, "read");
    if (!found) return;
    const p = principalOf(res);
    const offer = p.role === "influencer" ? await offers.get(found.campaign.id, p.influencer_id ?? 0) : undefined;
    res.json(await view(found.campaign, found.listing, offer));
  });

  /** Records an offer state after checking the one it moves from. */
  const move = async (
    res: express.Response,
    campaignId: number,
    influencerId: number,
    from: Offer["state"][] | "any",
    to: Offer["state"],
    note: string,
  ) => {
    const current = await offers.get(campaignId, influencerId);
    if (from !== "any" && !(current && from.includes(current.state)))
      return void sendError(
        res,
        "conflict",
        `no ${from.join(" or ")} offer to ${to === "accepted" ? "accept" : "change"}`,
      );
    if (to === "accepted") await catalog.enrol(campaignId, influencerId);
    const by = principalOf(res).role;
    return offers.put({
      campaign_id: campaignId,
      influencer_id: influencerId,
      state: to,
      by: by === "finance" ? "admin" : by,
      note,
      updated_at_ms: Date.now(),
    });
  };

  r.post("/campaigns/:id/invitations", requireRole("admin", "merchant"), async (req, res) => {
    const found = await load(req, res, "manage");
    if (!found) return;
    const body = InfluencerRef.safeParse(req.body ?? {});
    if (!body.success) return sendValidationError(res, body.error);
    const { influencer_id, note } = body.data;
    if (!(await catalog.getInfluencer(influencer_id)))
      return sendError(res, "unknown_reference", `influencer ${influencer_id} does not exist`, [
        { path: "influencer_id", message: "does not exist", code: "unknown_reference" },
      ]);
    if (await catalog.enrolments.has(found.campaign.id, influencer_id))
      return sendError(res, "conflict", "the influencer is already enrolled in this campaign");
    const current = await offers.get(found.campaign.id, influencer_id);
    // an application already waiting: inviting is accepting it
    const to = current?.state === "applied" ? "accepted" : "invited";
    try {
      const offer = await move(res, found.campaign.id, influencer_id, "any", to, note);
      if (offer) res.status(201).json(offer);
    } catch (err) {
      sendAppError(res, err);
    }
  });

  r.get("/campaigns/:id/offers", requireRole("admin", "merchant"), async (req, res) => {
    const found = await load(req, res, "manage");
    if (found) res.json({ offers: await offers.ofCampaign(found.campaign.id) });
  });

  r.post("/campaigns/:id/apply", requireRole("influencer"), async (req, res) => {
    const found = await load(req, res, "read");
    if (!found) return;
    const body = NoteBody.safeParse(req.body ?? {});
    if (!body.success) return sendValidationError(res, body.error);
    const me = principalOf(res).influencer_id ?? 0;
    const current = await offers.get(found.campaign.id, me);
    if (current?.state === "accepted") return sendError(res, "conflict", "already enrolled in this campaign");
    if (current?.state !== "invited" && !found.listing?.open)
      return sendError(res, "forbidden", "this campaign takes invited influencers only");
    // an invitation already waiting: applying is accepting it
    const to = current?.state === "invited" ? "accepted" : "applied";
    try {
      const offer = await move(res, found.campaign.id, me, "any", to, body.data.note);
      if (offer) res.status(201).json(offer);
    } catch (err) {
      sendAppError(res, err);
    }
  });

  /**
   * The campaign and influencer an accept or decline is about: the caller itself for an influencer key, the body's
   * influencer_id for the merchant side. Answers the error itself otherwise.
   */
  async function counterpart(req: express.Request, res: express.Response) {
    const p = principalOf(res);
    const found = await load(req, res, p.role === "influencer" ? "read" : "manage");
    if (!found) return;
    if (p.role === "influencer") {
      const body = NoteBody.safeParse(req.body ?? {});
      if (!body.success) return void sendValidationError(res, body.error);
      return { campaignId: found.campaign.id, influencerId: p.influencer_id ?? 0, note: body.data.note };
    }
    const body = InfluencerRef.safeParse(req.body ?? {});
    if (!body.success) return void sendValidationError(res, body.error);
    return { campaignId: found.campaign.id, influencerId: body.data.influencer_id, note: body.data.note };
  }

  r.post("/campaigns/:id/accept", async (req, res) => {
    const t = await counterpart(req, res);
    if (!t) return;
    // each side accepts what the other side offered: an influencer an invitation, a merchant an application
    const from: Offer["state"][] = principalOf(res).role === "influencer" ? ["invited"] : ["applied"];
    try {
      const offer = await move(res, t.campaignId, t.influencerId, from, "accepted", t.note);
      if (offer) res.json({ ...offer, enrolled: true });
    } catch (err) {
      sendAppError(res, err);
    }
  });

  r.post("/campaigns/:id/decline", async (req, res) => {
    const t = await counterpart(req, res);
    if (!t) return;
    const offer = await move(res, t.campaignId, t.influencerId, ["invited", "applied"], "declined", t.note);
    if (offer) res.json(offer);
  });

  r.get("/offers", requireRole("influencer"), async (_req, res) => {
    const mine = await offers.ofInfluencer(principalOf(res).influencer_id ?? 0);
    const ls = await listings.getMany(mine.map((o) => o.campaign_id));
    const out = await Promise.all(
      mine.map(async (o) => {
        const c = await catalog.getCampaign(o.campaign_id);
        return c ? view(c, ls.get(c.id), o) : undefined;
      }),
    );
    res.json({ offers: out.filter((x) => x !== undefined) });
  });
  return r;
}
