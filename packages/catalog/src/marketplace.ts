import type { Redis } from "ioredis";
import { z } from "zod";

/**
 * Where an influencer stands with a campaign before (and at) enrolment: invited by the merchant, applied by the
 * influencer, accepted (the enrolment exists: catalog.enrolments), or declined by either side.
 */
export const OfferState = z.enum(["invited", "applied", "accepted", "declined"]);
export type OfferState = z.infer<typeof OfferState>;

export const Offer = z.object({
  campaign_id: z.number().int(),
  influencer_id: z.number().int(),
  state: OfferState,
  /** who moved it to this state */
  by: z.enum(["admin", "merchant", "influencer"]),
  note: z.string().max(500).default(""),
  updated_at_ms: z.number().int(),
});
export type Offer = z.infer<typeof Offer>;

/**
 * Invitations and applications, in two hashes kept in step (by campaign, by influencer) so both sides list theirs in
 * one read. Acceptance itself is the enrolment: the API enrols through the catalog, then records `accepted` here.
 */
export class Offers {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private byCampaign(id: number): string {
    return `${this.prefix}offers:campaign:${id}`;
  }

  private byInfluencer(id: number): string {
    return `${this.prefix}offers:influencer:${id}`;
  }

  async get(campaignId: number, influencerId: number): Promise<Offer | undefined> {
    const raw = await this.redis.hget(this.byCampaign(campaignId), String(influencerId));
    return raw === null ? undefined : Offer.parse(JSON.parse(raw));
  }

  async put(o: Offer): Promise<Offer> {
    const value = JSON.stringify(Offer.parse(o));
    await this.redis
      .multi()
      .hset(this.byCampaign(o.campaign_id), String(o.influencer_id), value)
      .hset(this.byInfluencer(o.influencer_id), String(o.campaign_id), value)
      .exec();
    return o;
  }

  async ofCampaign(campaignId: number): Promise<Offer[]> {
    const all = await this.redis.hgetall(this.byCampaign(campaignId));
    return Object.values(all)
      .map((v) => Offer.parse(JSON.parse(v)))
      .sort((a, b) => a.influencer_id - b.influencer_id);
  }

  async ofInfluencer(influencerId: number): Promise<Offer[]> {
    const all = await this.redis.hgetall(this.byInfluencer(influencerId));
    return Object.values(all)
      .map((v) => Offer.parse(JSON.parse(v)))
      .sort((a, b) => a.campaign_id - b.campaign_id);
  }
}
