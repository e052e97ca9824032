import { EntityId } from "@aff/events";
import type { Redis } from "ioredis";
import { z } from "zod";
import { modifyWithSets } from "./optimistic";
import { Niche } from "./profiles";

/**
 * What a campaign offers influencers beyond its commercial terms (which stay on the campaign): the niches it
 * targets, whether influencers may find it and apply (`open`), and a short brief.
 */
export const ListingInput = z.strictObject({
  target_niches: z
    .array(Niche)
    .min(1)
    .max(Niche.options.length)
    .refine((n) => new Set(n).size === n.length, "each niche once"),
  /** open: influencers in its niches see it and may apply; closed: by invitation only */
  open: z.boolean().default(false),
  brief: z.string().trim().max(2000).default(""),
});
export type ListingInput = z.output<typeof ListingInput>;

export const Listing = ListingInput.extend({ campaign_id: EntityId, updated_at_ms: z.number().int() });
export type Listing = z.infer<typeof Listing>;

/**
 * Campaign listings in Redis: one JSON value per campaign, plus per niche the set of campaigns targeting it and the
 * set of open ones, changed in one MULTI under WATCH with the value.
 */
export class Listings {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(campaignId: number): string {
    return `${this.prefix}listing:${campaignId}`;
  }

  private nicheKey(niche: Niche, openOnly: boolean): string {
    return `${this.prefix}niche:${openOnly ? "open_campaigns" : "campaigns"}:${niche}`;
  }

  async get(campaignId: number): Promise<Listing | undefined> {
    const raw = await this.redis.get(this.key(campaignId));
    return raw === null ? undefined : Listing.parse(JSON.parse(raw));
  }

  async getMany(ids: readonly number[]): Promise<Map<number, Listing>> {
    const out = new Map<number, Listing>();
    if (ids.length === 0) return out;
    const raws = await this.redis.mget(ids.map((id) => this.key(id)));
    raws.forEach((raw, i) => {
      const id = ids[i];
      if (raw !== null && id !== undefined) out.set(id, Listing.parse(JSON.parse(raw)));
    });
    return out;
  }

  /** Campaign ids targeting a niche (all, or only the open ones), ascending. */
  async inNiche(niche: Niche, openOnly = false): Promise<number[]> {
    return (await this.redis.smembers(this.nicheKey(niche, openOnly))).map(Number).sort((a, b) => a - b);
  }

  private merchantKey(merchantId: number): string {
    return `${this.prefix}merchant:listed_campaigns:${merchantId}`;
  }

  /** Campaign ids of a merchant that have a listing, ascending. */
  async ofMerchant(merchantId: number): Promise<number[]> {
    return (await this.redis.smembers(this.merchantKey(merchantId))).map(Number).sort((a, b) => a - b);
  }

  put(campaignId: number, merchantId: number, input: ListingInput, nowMs = Date.now()): Promise<Listing> {
    const next: Listing = { ...input, campaign_id: campaignId, updated_at_ms: nowMs };
    const listedIn = (l: Listing) =>
      l.target_niches.flatMap((n) =>
        l.open ? [this.nicheKey(n, false), this.nicheKey(n, true)] : [this.nicheKey(n, false)],
      );
    return modifyWithSets(this.redis, this.key(campaignId), {
      parse: (raw) => Listing.parse(JSON.parse(raw)),
      change: (current) => ({
        next,
        leave: (current?.target_niches ?? []).flatMap((n) => [this.nicheKey(n, false), this.nicheKey(n, true)]),
        join: [this.merchantKey(merchantId), ...listedIn(next)],
      }),
      member: String(campaignId),
      what: `campaign ${campaignId} listing`,
      path: "campaign_id",
    });
  }
}
