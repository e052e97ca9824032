import { EntityId } from "@aff/events";
import type { Redis } from "ioredis";
import { z } from "zod";

/** Coupon codes are matched case-insensitively: stored and looked up in upper case. */
export const CouponCode = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_-]+$/, "letters, digits, - or _")
  .transform((c) => c.toUpperCase());

export const CouponInput = z
  .strictObject({
    code: CouponCode,
    merchant_id: EntityId,
    campaign_id: EntityId,
    influencer_id: EntityId,
    /** ms since epoch; valid from this instant (inclusive) */
    valid_from_ms: z.number().int().min(0).default(0),
    /** ms since epoch; valid until this instant (exclusive); absent = no end */
    valid_to_ms: z.number().int().min(0).optional(),
  })
  .refine((c) => c.valid_to_ms === undefined || c.valid_to_ms > c.valid_from_ms, {
    path: ["valid_to_ms"],
    message: "must be after valid_from_ms",
  });
export type Coupon = z.output<typeof CouponInput>;

export function couponValidAt(c: Coupon, atMs: number): boolean {
  return atMs >= c.valid_from_ms && (c.valid_to_ms === undefined || atMs < c.valid_to_ms);
}

/** Coupon registry in Redis, one key per merchant and code (a code belongs to one merchant). */
export class CouponRegistry {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(merchantId: number, code: string): string {
    return `${this.prefix}coupon:${merchantId}:${code.toUpperCase()}`;
  }

  async put(c: Coupon): Promise<Coupon> {
    await this.redis.set(this.key(c.merchant_id, c.code), JSON.stringify(c));
    return c;
  }

  async get(merchantId: number, code: string): Promise<Coupon | undefined> {
    const raw = await this.redis.get(this.key(merchantId, code));
    return raw === null ? undefined : CouponInput.parse(JSON.parse(raw));
  }
}
