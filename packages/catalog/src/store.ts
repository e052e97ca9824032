import { randomBytes } from "node:crypto";
import { AppError } from "@aff/common";
import type { Redis } from "ioredis";
import type { z } from "zod";
import { ApiKeys } from "./api-keys";
import { checkDestination } from "./destination";
import { type Enrolment, Enrolments } from "./enrolments";
import { type Link, type LinkInput, LinkStore } from "./links";
import { Optimistic } from "./optimistic";
import {
  Campaign,
  type CampaignInput,
  Influencer,
  type InfluencerInput,
  Merchant,
  type MerchantInput,
  type MerchantPostbackSettings,
} from "./schemas";

/**
 * Merchants, campaigns, influencers and links, kept in Redis (AOF on) as JSON values.
 * Every change of a link is announced on a pub/sub channel so redirect caches drop it within a second.
 */
export class Catalog {
  readonly apiKeys: ApiKeys;
  readonly links: LinkStore;
  readonly enrolments: Enrolments;
  private readonly optimistic: Optimistic;

  constructor(
    readonly redis: Redis,
    readonly prefix: string,
  ) {
    this.apiKeys = new ApiKeys(redis, prefix);
    this.links = new LinkStore(redis, prefix);
    this.enrolments = new Enrolments(redis, prefix);
    this.optimistic = new Optimistic(redis);
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
      retired_credentials: [],
      ip_allowlist: [],
      token_status_changes: false,
      created_at_ms: Date.now(),
    };
    await this.redis.set(this.key("merchant", m.id), JSON.stringify(m));
    return m;
  }

  getMerchant(id: number): Promise<Merchant | undefined> {
    return this.getJson(Merchant, this.key("merchant", id));
  }

  /**
   * New postback secret and token; the old pair keeps working for `overlapS` seconds so a merchant can deploy the
   * new one without refused postbacks. Retired pairs past their overlap are dropped. Compare-and-set makes
   * concurrent rotations or setting changes retry instead of losing one another's write.
   */
  rotateMerchantCredentials(id: number, overlapS: number, nowMs = Date.now()): Promise<Merchant | undefined> {
    return this.updateMerchant(id, (m) => ({
      ...m,
      postback_secret: randomBytes(32).toString("base64url"),
      postback_token: randomBytes(18).toString("base64url"),
      retired_credentials: [
        { secret: m.postback_secret, token: m.postback_token, not_after_ms: nowMs + overlapS * 1000 },
        ...m.retired_credentials.filter((c) => c.not_after_ms > nowMs),
      ].slice(0, 5),
    }));
  }

  /** IP allowlist, store-platform webhook secrets, token status changes; absent fields stay, null removes a secret. */
  setMerchantPostbackSettings(id: number, s: MerchantPostbackSettings): Promise<Merchant | undefined> {
    const secret = (next: string | null | undefined, current: string | undefined) =>
      next === undefined ? current : (next ?? undefined);
    return this.updateMerchant(id, (m) => ({
      ...m,
      ip_allowlist: s.ip_allowlist ?? m.ip_allowlist,
      shopify_webhook_secret: secret(s.shopify_webhook_secret, m.shopify_webhook_secret),
      woocommerce_webhook_secret: secret(s.woocommerce_webhook_secret, m.woocommerce_webhook_secret),
      token_status_changes: s.token_status_changes ?? m.token_status_changes,
    }));
  }

  private updateMerchant(id: number, change: (m: Merchant) => Merchant): Promise<Merchant | undefined> {
    return this.optimistic.modify(this.key("merchant", id), {
      parse: (raw) => Merchant.parse(JSON.parse(raw)),
      change,
      what: `merchant ${id}`,
    });
  }

  async createCampaign(input: z.output<typeof CampaignInput>): Promise<Campaign> {
    if (!(await this.getMerchant(input.merchant_id)))
      throw new AppError("unknown_reference", `merchant ${input.merchant_id} does not exist`, {
        context: { path: "merchant_id" },
      });
    const check = checkDestination(input.default_destination, input.allowed_domains);
    if (!check.ok)
      throw new AppError("invalid_destination", `default_destination: ${check.reason}`, {
        context: { path: "default_destination" },
      });
    const c: Campaign = { ...input, id: await this.nextId("campaign"), created_at_ms: Date.now() };
    await this.redis.set(this.key("campaign", c.id), JSON.stringify(c));
    return c;
  }

  getCampaign(id: number): Promise<Campaign | undefined> {
    return this.getJson(Campaign, this.key("campaign", id));
  }

  /**
   * Changes a campaign's terms. Links already issued keep the domains and fallback they were created with; sales
   * already attributed keep the terms frozen at their sale (docs/adr/0005). The destination is checked again.
   */
  updateCampaign(id: number, change: (c: Campaign) => Campaign): Promise<Campaign | undefined> {
    return this.optimistic.modify(this.key("campaign", id), {
      parse: (raw) => Campaign.parse(JSON.parse(raw)),
      change: (c) => {
        const next = { ...change(c), id: c.id, merchant_id: c.merchant_id, created_at_ms: c.created_at_ms };
        const check = checkDestination(next.default_destination, next.allowed_domains);
        if (!check.ok)
          throw new AppError("invalid_destination", `default_destination: ${check.reason}`, {
            context: { path: "default_destination" },
          });
        return next;
      },
      what: `campaign ${id}`,
    });
  }

  async createInfluencer(input: z.output<typeof InfluencerInput>): Promise<Influencer> {
    const i: Influencer = { ...input, id: await this.nextId("influencer"), created_at_ms: Date.now() };
    await this.redis.set(this.key("influencer", i.id), JSON.stringify(i));
    return i;
  }

  getInfluencer(id: number): Promise<Influencer | undefined> {
    return this.getJson(Influencer, this.key("influencer", id));
  }

  /** Enrols an existing influencer in an existing campaign (idempotent). */
  async enrol(campaignId: number, influencerId: number): Promise<Enrolment> {
    await this.requireCampaign(campaignId);
    await this.requireInfluencer(influencerId);
    return this.enrolments.add(campaignId, influencerId);
  }

  /**
   * Creates a link on an existing campaign for an existing influencer (the link code lives in links.ts).
   * `enrolled: "required"` (an influencer's own request) refuses a campaign the influencer is not enrolled in, with
   * one message whether or not the campaign exists, so ids cannot be probed; `"grant"` (an admin's request) enrols
   * the influencer with the link, since an admin issuing a link for a campaign is an enrolment decision.
   */
  async createLink(input: z.output<typeof LinkInput>, opts: { enrolled: "required" | "grant" }): Promise<Link> {
    if (opts.enrolled === "required" && !(await this.enrolments.has(input.campaign_id, input.influencer_id)))
      throw new AppError("forbidden", "campaign_id: the influencer is not enrolled in this campaign", {
        context: { path: "campaign_id" },
      });
    const campaign = await this.requireCampaign(input.campaign_id);
    await this.requireInfluencer(input.influencer_id);
    const link = await this.links.create(input, campaign);
    if (opts.enrolled === "grant") await this.enrolments.add(campaign.id, input.influencer_id);
    return link;
  }

  private async requireCampaign(id: number): Promise<Campaign> {
    const campaign = await this.getCampaign(id);
    if (!campaign)
      throw new AppError("unknown_reference", `campaign ${id} does not exist`, { context: { path: "campaign_id" } });
    return campaign;
  }

  private async requireInfluencer(id: number): Promise<Influencer> {
    const influencer = await this.getInfluencer(id);
    if (!influencer)
      throw new AppError("unknown_reference", `influencer ${id} does not exist`, {
        context: { path: "influencer_id" },
      });
    return influencer;
  }

  getLink(code: string): Promise<Link | undefined> {
    return this.links.get(code);
  }
}
