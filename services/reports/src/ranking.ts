import { z } from "zod";
import { rateBound, rateBoundLowerIsBetter, rateBps, shrunkEpc, Z95 } from "./score-math";
import type { Acc } from "./scorecard";

export const RankMetric = z.enum([
  "conversion_rate",
  "approval_rate",
  "genuine_share",
  "refund_rate",
  "consistency",
  "epc",
  "conversions",
]);
export type RankMetric = z.infer<typeof RankMetric>;

/**
 * Trials without success added before Wilson's bound, per rate (see score-math.ts): about what it takes to see a
 * typical rate once. Conversion rate is per unique click (100), approval and refund rate per decided sale (20),
 * genuine share per click (50), consistency per week of the period (4).
 */
export const PRIOR_TRIALS: Record<Exclude<RankMetric, "epc" | "conversions">, number> = {
  conversion_rate: 100,
  approval_rate: 20,
  genuine_share: 50,
  refund_rate: 20,
  consistency: 4,
};
/** Pseudo-clicks at the pool's EPC in the EPC shrinkage estimate. */
export const EPC_PRIOR_CLICKS = 200;

/** successes and trials of a rate metric */
function sample(m: Exclude<RankMetric, "epc" | "conversions">, a: Acc, weeks: number): [number, number] {
  switch (m) {
    case "conversion_rate":
      return [Math.min(a.clickConversions, a.uniqueClicks), a.uniqueClicks];
    case "approval_rate":
      return [a.approved + a.refunded, a.approved + a.refunded + a.rejected];
    case "genuine_share":
      return [a.clicks - a.botClicks, a.clicks];
    case "refund_rate":
      return [a.refunded, a.approved + a.refunded];
    case "consistency":
      return [Math.min(a.weeks.size, weeks), weeks];
  }
}

export type Scored = {
  influencerId: number;
  /** raw value: basis points for rates, minor units for EPC, a count for conversions; null without data */
  value: number | null;
  /** what the ranking sorts by, in the same unit as value */
  bound: number;
  successes: number;
  trials: number;
};

const genuine = (a: Acc) => a.clicks - a.botClicks;

/**
 * Scores candidates by the metric's bound; sorted best first, ties by larger sample then id. `money` (EPC only) is
 * the earned commission in the ranking's currency per candidate (absent: not visible to the caller, ranked last).
 */
export function rank(
  metric: RankMetric,
  accs: ReadonlyMap<number, Acc>,
  weeks: number,
  earned?: ReadonlyMap<number, number>,
): Scored[] {
  const scored: Scored[] = [];
  if (metric === "epc") {
    let poolEarned = 0;
    let poolClicks = 0;
    for (const [id, a] of accs)
      if (earned?.has(id)) {
        poolEarned += earned.get(id) ?? 0;
        poolClicks += genuine(a);
      }
    const poolEpc = poolClicks > 0 ? poolEarned / poolClicks : 0;
    for (const [id, a] of accs) {
      const e = earned?.get(id);
      const clicks = genuine(a);
      scored.push({
        influencerId: id,
        value: e === undefined || clicks === 0 ? null : e / clicks,
        bound: e === undefined ? Number.NEGATIVE_INFINITY : shrunkEpc(e, clicks, poolEpc, EPC_PRIOR_CLICKS),
        successes: e ?? 0,
        trials: clicks,
      });
    }
  } else if (metric === "conversions") {
    for (const [id, a] of accs)
      scored.push({
        influencerId: id,
        value: a.conversions,
        bound: a.conversions,
        successes: a.conversions,
        trials: 0,
      });
  } else {
    const prior = PRIOR_TRIALS[metric];
    const lowerIsBetter = metric === "refund_rate";
    for (const [id, a] of accs) {
      const [k, n] = sample(metric, a, weeks);
      const b = lowerIsBetter ? rateBoundLowerIsBetter(k, n, prior) : rateBound(k, n, prior);
      // lower-is-better sorts by 1 - upper end, so "best first" is one descending sort for every metric
      scored.push({
        influencerId: id,
        value: rateBps(k, n),
        bound: lowerIsBetter ? 1 - b : b,
        successes: k,
        trials: n,
      });
    }
  }
  return scored.sort((x, y) => y.bound - x.bound || y.trials - x.trials || x.influencerId - y.influencerId);
}

/** How the bound of a metric is computed, echoed in every ranking so a reader can check it. */
export function boundMethod(metric: RankMetric) {
  if (metric === "epc")
    return { method: "shrinkage", prior_clicks: EPC_PRIOR_CLICKS, prior: "pooled EPC of the ranked candidates" };
  if (metric === "conversions") return { method: "count" };
  return {
    method: metric === "refund_rate" ? "wilson_upper" : "wilson_lower",
    z: Z95,
    prior_trials_without_success: PRIOR_TRIALS[metric],
  };
}
