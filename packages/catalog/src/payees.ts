import type { Redis } from "ioredis";
import { z } from "zod";

/**
 * How an influencer is paid: bank account (SEPA credit transfer) and/or PayPal. Kept by the catalog beside the
 * influencer (Redis hash `{prefix}payees`, one JSON value per influencer). Payout runs copy these details into each
 * line when the run is created, so an export of the run stays byte-identical whatever changes later.
 */

/** ISO 13616 check: letters moved to the end and mapped to 10..35, the number mod 97 must be 1. */
export function ibanValid(iban: string): boolean {
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$/.test(iban)) return false;
  const moved = iban.slice(4) + iban.slice(0, 4);
  let rest = 0;
  for (const ch of moved) {
    const digits = /[A-Z]/.test(ch) ? String(ch.charCodeAt(0) - 55) : ch;
    for (const d of digits) rest = (rest * 10 + Number(d)) % 97;
  }
  return rest === 1;
}

export const Iban = z
  .string()
  .max(42)
  .transform((v) => v.replace(/\s+/g, "").toUpperCase())
  .refine(ibanValid, "must be a valid IBAN (ISO 13616 check digits)");

export const PayeeInput = z.strictObject({
  /** account holder as the bank knows it */
  name: z.string().trim().min(1).max(70),
  iban: Iban.optional(),
  bic: z
    .string()
    .regex(/^[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?$/, "must be a BIC of 8 or 11 characters")
    .optional(),
  paypal_email: z.email().max(127).optional(),
});
export type PayeeInput = z.infer<typeof PayeeInput>;
export const Payee = PayeeInput.extend({ influencer_id: z.number().int().min(1), updated_at_ms: z.number().int() });
export type Payee = z.infer<typeof Payee>;

export class PayeeStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private get key() {
    return `${this.prefix}payees`;
  }

  async set(influencerId: number, input: PayeeInput, nowMs = Date.now()): Promise<Payee> {
    const payee = Payee.parse({ ...input, influencer_id: influencerId, updated_at_ms: nowMs });
    await this.redis.hset(this.key, String(influencerId), JSON.stringify(payee));
    return payee;
  }

  async get(influencerId: number): Promise<Payee | undefined> {
    const raw = await this.redis.hget(this.key, String(influencerId));
    return raw === null ? undefined : Payee.parse(JSON.parse(raw));
  }

  /** Details of many influencers in one round trip. */
  async many(influencerIds: readonly number[]): Promise<Map<number, Payee>> {
    const out = new Map<number, Payee>();
    if (influencerIds.length === 0) return out;
    const raws = await this.redis.hmget(this.key, ...influencerIds.map(String));
    raws.forEach((raw, i) => {
      const id = influencerIds[i];
      if (raw !== null && id !== undefined) out.set(id, Payee.parse(JSON.parse(raw)));
    });
    return out;
  }
}
