import { offsetsAreMultiplesOf } from "@aff/common";
import type { Level } from "../aggregates";
import type { GroupBy, ReportFilter } from "./filter";

/** Which table answered a report: the exact pre-aggregates, or the ledger itself. */
export type ReportSource = "aggregate" | "ledger";

export type ReportPlan = { source: "aggregate"; level: Level } | { source: "ledger"; reason: string };

const QUARTER_HOUR_MS = 900_000;

/**
 * The aggregates answer a report exactly when every bucket they would contribute lies inside one group: for
 * day/week/month groups every local midnight of the period must fall on a quarter hour (its zone's offsets are
 * multiples of 15 minutes, as every zone's since 1986). Otherwise the ledger answers. Minutes of the period outside
 * its quarter hours (a date-time from/to) come from the ledger and the hourly clicks (see cube.ts). The level keeps
 * the ids the grouping and the filters need.
 */
export function planReport(q: ReportFilter & { groupBy: GroupBy }): ReportPlan {
  const byPeriod = q.groupBy === "day" || q.groupBy === "week" || q.groupBy === "month";
  if (byPeriod && !offsetsAreMultiplesOf(q.timeZone, q.fromMs, q.toMs, QUARTER_HOUR_MS))
    return { source: "ledger", reason: "zone_offset_not_quarter_hour" };
  return { source: "aggregate", level: levelFor(q) };
}

function levelFor(q: ReportFilter & { groupBy: GroupBy }): Level {
  if (q.groupBy === "influencer" || q.influencerId !== undefined) return 3;
  if (q.groupBy === "campaign" || q.groupBy === "merchant" || q.campaignId !== undefined || q.merchantId !== undefined)
    return 2;
  return 0;
}
