import { currencyExponent, divRoundHalfAway } from "@aff/common";
import { Currency } from "@aff/events";
import type { Redis } from "ioredis";
import { z } from "zod";

const RATE_SCALE_DIGITS = 10;

/** A rate as an exact decimal string: units of `to` per unit of `from`, at most 10 decimals. */
export const FxRateText = z
  .string()
  .regex(/^\d{1,12}(\.\d{1,10})?$/, "decimal with at most 10 decimals")
  .refine((r) => /[1-9]/.test(r), "must be positive");

export const FxRateInput = z.strictObject({
  from: Currency,
  to: Currency,
  rate: FxRateText,
  /** ms since epoch from which the rate is in force (until the next rate of the pair) */
  effective_from_ms: z.number().int().min(0),
});
export type FxRate = z.output<typeof FxRateInput>;
export const FxTable = z.array(FxRateInput).min(1).max(100_000);

/**
 * `amountMinor` of `from` in minor units of `to`: amount x rate x 10^(exp(to) - exp(from)), computed in integers
 * and rounded once, half away from zero (the rule used for every commission).
 */
export function convertMinor(amountMinor: number, from: string, to: string, rate: string): number {
  const [whole = "0", frac = ""] = rate.split(".");
  const scaled = BigInt(whole + frac.padEnd(RATE_SCALE_DIGITS, "0"));
  const shift = currencyExponent(to) - currencyExponent(from);
  let num = BigInt(amountMinor) * scaled;
  let den = 10n ** BigInt(RATE_SCALE_DIGITS);
  if (shift >= 0) num *= 10n ** BigInt(shift);
  else den *= 10n ** BigInt(-shift);
  return Number(divRoundHalfAway(num, den));
}

/** Rates per currency pair in Redis sorted sets scored by the instant they take effect. */
export class FxRates {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(from: string, to: string): string {
    return `${this.prefix}fx:${from}:${to}`;
  }

  /** Loads a table; loading the same row again is a no-op, a new rate for the same instant replaces the old one. */
  async load(rows: readonly FxRate[]): Promise<number> {
    const tx = this.redis.multi();
    for (const r of rows) {
      const key = this.key(r.from, r.to);
      tx.zremrangebyscore(key, r.effective_from_ms, r.effective_from_ms);
      tx.zadd(key, r.effective_from_ms, `${r.effective_from_ms}:${r.rate}`);
    }
    await tx.exec();
    return rows.length;
  }

  /** The rate in force at `atMs` (the latest taking effect at or before it), "1" for the same currency. */
  async rateAt(from: string, to: string, atMs: number): Promise<string | undefined> {
    if (from === to) return "1";
    const found = await this.redis.zrevrangebyscore(this.key(from, to), atMs, "-inf", "LIMIT", 0, 1);
    return found[0]?.split(":")[1];
  }
}
