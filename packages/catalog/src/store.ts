import { randomBytes } from "node:crypto";
import { AppError } from "@aff/common";
import type { Redis } from "ioredis";
import type { z } from "zod";
import { ApiKeys } from "./api-keys";
import { checkDestination } from "./destination";
import { type Link, type LinkInput, LinkStore } from "./links";
import {
  Campaign,
  type CampaignInput,
  Influencer,
  type InfluencerInput,
  Merchant,
  type MerchantInput,
} from "./schemas";

/**
 * Merchants, campaigns, influencers and links, kept in Redis (AOF on) as JSON values.
 * Every change of a link is announced on a pub/sub channel so redirect caches drop it within a second.
 */
export class Catalog {
  readonly apiKeys: ApiKeys;
  readonly links: LinkStore;

  constructor(
    readonly redis: Redis,
    readonly prefix: string,
  ) {
    this.apiKeys = new ApiKeys(redis, prefix);
    this.links = new LinkStore(redis, prefix);
  }

  get linkChannel(): string {
    return this.links.channel;
  }

  private key(...parts: (string | number)[]): string {
    return this.prefix + parts.join(":");
  }

  private async nextId(kind: string): Promise<number> {
    return this.redis.incr(this.key("seq", kind));
  }

  private async getJson<S extends z.ZodType>(schema: S, key: string): Promise<z.output<S> | undefined> {
    const raw = await this.redis.get(key);
    return raw === null ? undefined : schema.parse(JSON.parse(raw));
  }

  async createMerchant(input: z.output<typeof MerchantInput>): Promise<Merchant> {
    const m: Merchant = {
      ...input,
      id: await this.nextId("merchant"),
      postback_secret: randomBytes(32).toString("base64url"),
      postback_token: randomBytes(18).toString("base64url"),
      created_at_ms: Date.now(),
    };
    await this.redis.set(this.key("merchant", m.id), JSON.stringify(m));
    return m;
  }

  getMerchant(id: number): Promise<Merchant | undefined> {
    return this.getJson(Merchant, this.key("merchant", id));
  }

  async createCampaign(input: z.output<typeof CampaignInput>): Promise<Campaign> {
    if (!(await this.getMerchant(input.merchant_id))) throw new AppError("not_found", `merchant ${input.merchant_id} does not exist`, { context: { path: "merchant_id" } });
    const check = checkDestination(input.default_destination, input.allowed_domains);
    if (!check.ok) throw new AppError("invalid_destination", `default_destination: ${check.reason}`, { context: { path: "default_destination" } });
    const c: Campaign = { ...input, id: await this.nextId("campaign"), created_at_ms: Date.now() };
    await this.redis.set(this.key("campaign", c.id), JSON.stringify(c));
    return c;
  }

  getCampaign(id: number): Promise<Campaign | undefined> {
    return this.getJson(Campaign, this.key("campaign", id));
  }

  async createInfluencer(input: z.output<typeof InfluencerInput>): Promise<Influencer> {
    const i: Influencer = { ...input, id: await this.nextId("influencer"), created_at_ms: Date.now() };
    await this.redis.set(this.key("influencer", i.id), JSON.stringify(i));
    return i;
  }

  getInfluencer(id: number): Promise<Influencer | undefined> {
    return this.getJson(Influencer, this.key("influencer", id));
  }

  /** Creates a link on an existing campaign for an existing influencer (the link code lives in links.ts). */
  async createLink(input: z.output<typeof LinkInput>): Promise<Link> {
    const campaign = await this.getCampaign(input.campaign_id);
    if (!campaign) throw new AppError("not_found", `campaign ${input.campaign_id} does not exist`, { context: { path: "campaign_id" } });
    if (!(await this.getInfluencer(input.influencer_id))) throw new AppError("not_found", `influencer ${input.influencer_id} does not exist`, { context: { path: "influencer_id" } });
    return this.links.create(input, campaign);
  }

  getLink(code: string): Promise<Link | undefined> {
    return this.links.get(code);
  }
}
