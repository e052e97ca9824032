import type { Redis } from "ioredis";
import type { Link } from "./links";

export type Enrolment = { campaign_id: number; influencer_id: number; enrolled_at_ms: number };

/**
 * Which influencers may take links on which campaigns: two sorted sets kept in step (members of a campaign,
 * campaigns of an influencer), scored by the time of enrolment. Existence of the campaign and influencer is the
 * caller's (the Catalog's) concern.
 */
export class Enrolments {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private byCampaign(campaignId: number): string {
    return `${this.prefix}enrol:campaign:${campaignId}`;
  }

  private byInfluencer(influencerId: number): string {
    return `${this.prefix}enrol:influencer:${influencerId}`;
  }

  /** Idempotent: enrolling again keeps the first enrolment time. */
  async add(campaignId: number, influencerId: number, nowMs = Date.now()): Promise<Enrolment> {
    await this.redis
      .multi()
      .zadd(this.byCampaign(campaignId), "NX", nowMs, String(influencerId))
      .zadd(this.byInfluencer(influencerId), "NX", nowMs, String(campaignId))
      .exec();
    const score = await this.redis.zscore(this.byCampaign(campaignId), String(influencerId));
    return { campaign_id: campaignId, influencer_id: influencerId, enrolled_at_ms: Number(score ?? nowMs) };
  }

  /** Many enrolments at once (a backfill), pipelined; existing ones keep their time. */
  async addMany(pairs: readonly { campaign_id: number; influencer_id: number }[], nowMs = Date.now()): Promise<void> {
    const p = this.redis.pipeline();
    for (const e of pairs) {
      p.zadd(this.byCampaign(e.campaign_id), "NX", nowMs, String(e.influencer_id));
      p.zadd(this.byInfluencer(e.influencer_id), "NX", nowMs, String(e.campaign_id));
    }
    await p.exec();
  }

  /**
   * Once per catalog: enrols every influencer in the campaigns it already holds links on (links issued before
   * enrolment existed were issued by an admin or by the influencer when any campaign was open to it). Only links
   * created before the backfill first started count: a link issued since was issued under enrolment, and an
   * enrolment removed since must stay removed. A marker records the start (so a killed backfill resumes with the
   * same cut) and the end (later calls return at once). Returns the links read, or 0 when it had already run.
   */
  async backfillFromLinks(
    scan: (
      cursor: string,
    ) => Promise<{ cursor: string; links: Pick<Link, "campaign_id" | "influencer_id" | "created_at_ms">[] }>,
    nowMs = Date.now(),
  ): Promise<number> {
    const marker = `${this.prefix}enrol:backfilled`;
    await this.redis.set(marker, `started:${nowMs}`, "NX");
    const state = (await this.redis.get(marker)) ?? "";
    // a marker of any other form (a plain time, or done:) is a finished backfill
    if (!state.startsWith("started:")) return 0;
    const cutMs = Number(state.slice("started:".length));
    let cursor = "0";
    let read = 0;
    do {
      const page = await scan(cursor);
      cursor = page.cursor;
      read += page.links.length;
      await this.addMany(page.links.filter((l) => l.created_at_ms < cutMs));
    } while (cursor !== "0");
    await this.redis.set(marker, `done:${cutMs}`);
    return read;
  }

  /** True when there was an enrolment to remove. */
  async remove(campaignId: number, influencerId: number): Promise<boolean> {
    const done = await this.redis
      .multi()
      .zrem(this.byCampaign(campaignId), String(influencerId))
      .zrem(this.byInfluencer(influencerId), String(campaignId))
      .exec();
    return done?.[0]?.[1] === 1;
  }

  async has(campaignId: number, influencerId: number): Promise<boolean> {
    return (await this.redis.zscore(this.byCampaign(campaignId), String(influencerId))) !== null;
  }

  /** Influencers of a campaign, oldest enrolment first. */
  async ofCampaign(campaignId: number): Promise<Enrolment[]> {
    const flat = await this.redis.zrange(this.byCampaign(campaignId), 0, -1, "WITHSCORES");
    return pairs(flat).map(([influencer, at]) => ({
      campaign_id: campaignId,
      influencer_id: Number(influencer),
      enrolled_at_ms: Number(at),
    }));
  }

  /** Campaigns of an influencer, oldest enrolment first. */
  async ofInfluencer(influencerId: number): Promise<Enrolment[]> {
    const flat = await this.redis.zrange(this.byInfluencer(influencerId), 0, -1, "WITHSCORES");
    return pairs(flat).map(([campaign, at]) => ({
      campaign_id: Number(campaign),
      influencer_id: influencerId,
      enrolled_at_ms: Number(at),
    }));
  }
}

function pairs(flat: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i] as string, flat[i + 1] as string]);
  return out;
}
