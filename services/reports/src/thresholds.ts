import type { Redis } from "ioredis";

/**
 * Minimum payout per campaign (minor units of its settlement currency), kept by the reports service in Redis beside
 * the catalog. Campaigns without one use the configured default.
 */
export class PayoutThresholds {
  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly defaultMinor: number,
  ) {}

  async set(campaignId: number, minPayoutMinor: number): Promise<void> {
    await this.redis.hset(this.key, String(campaignId), String(minPayoutMinor));
  }

  /** All thresholds as a lookup (one round trip per payout report). */
  async lookup(): Promise<(campaignId: number) => number> {
    const all = await this.redis.hgetall(this.key);
    return (campaignId) => {
      const v = all[String(campaignId)];
      return v === undefined ? this.defaultMinor : Number(v);
    };
  }
}
