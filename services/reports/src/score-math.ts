import { divRoundHalfAway } from "@aff/common";

/** z for a two-sided 95 % interval: the bound is the 2.5 % lower end. */
export const Z95 = 1.959964;

/** successes / trials in basis points, rounded half away from zero; null without trials. */
export function rateBps(successes: number, trials: number): number | null {
  if (trials <= 0) return null;
  return Number(divRoundHalfAway(BigInt(successes) * 10_000n, BigInt(trials)));
}

/** Integer division of minor units, rounded half away from zero; null when dividing by zero. */
export function perMinor(amountMinor: number, count: number): number | null {
  if (count <= 0) return null;
  return Number(divRoundHalfAway(BigInt(amountMinor), BigInt(count)));
}

/** Wilson score interval's lower end for k successes in n trials (as a fraction); 0 without trials. */
export function wilsonLower(k: number, n: number, z = Z95): number {
  if (n <= 0) return 0;
  const p = Math.min(1, Math.max(0, k / n));
  const z2 = z * z;
  const centre = p + z2 / (2 * n);
  const spread = z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return Math.max(0, (centre - spread) / (1 + z2 / n));
}

/** Wilson score interval's upper end (for rates where lower is better, such as refunds). */
export const wilsonUpper = (k: number, n: number, z = Z95): number => (n <= 0 ? 1 : 1 - wilsonLower(n - k, n, z));

/**
 * The ranking bound of a rate: Wilson's lower end after adding `priorTrials` trials without success. Wilson alone
 * still puts 1 of 2 (lower end 9.5 %) above 300 of 10 000 (2.7 %); a prior at the pool's rate does too whenever the
 * pool converts above about 5 %. Pseudo-trials without success make a rate earn its rank: 1 of 2 falls to 0.2 %
 * (Wilson of 1 in 102), 300 of 10 000 stays at 2.6 %, and for any pool 2 successes can never beat 300 of 10 000.
 * With many trials the prior washes out and the bound approaches Wilson's.
 */
export function rateBound(k: number, n: number, priorTrials: number): number {
  return wilsonLower(Math.min(Math.max(k, 0), n), n + priorTrials);
}

/** For rates where lower is better (refunds): one minus the bound of the complement, so unseen trials count as bad. */
export function rateBoundLowerIsBetter(k: number, n: number, priorTrials: number): number {
  return 1 - rateBound(n - Math.min(k, n), n, priorTrials);
}

/**
 * Earnings per click shrunk towards the pool's EPC: (earned + m x poolEpc) / (clicks + m), in minor units (may be
 * fractional). An influencer with few clicks sits near the pool; one with many keeps its own EPC.
 */
export function shrunkEpc(earnedMinor: number, clicks: number, poolEpcMinor: number, priorClicks: number): number {
  if (clicks + priorClicks <= 0) return 0;
  return (earnedMinor + priorClicks * poolEpcMinor) / (clicks + priorClicks);
}
