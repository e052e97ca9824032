import { APPROVED_TABLE, CUBE_TABLE, GRAIN_ID, GRAINS, type Grain, type Level } from "../aggregates";
import { ident, join, raw, type Sql, sql } from "../sql";
import { type GroupBy, keyExpr, type ReportFilter, type ReportStatus, scopeWhere } from "./filter";

/**
 * Commission figures of a report from the cube (schema/006), with the same columns as the ledger query.
 *
 * Buckets: every instant of the period belongs to exactly one cube row used here, the row of the coarsest grain
 * whose bucket lies inside the period and inside one group (one local day, week or month for period groupings).
 * A row is used when its own bucket qualifies and its parent (next coarser grain) does not. planReport() has checked
 * that the 15-minute buckets always qualify, so the chosen rows tile the period exactly.
 *
 * Held and payable: approved money is keyed by its payable UTC day. Days before the `as_of` day are payable, days
 * after it held; the `as_of` day itself is left out of the cube and read entry by entry from approved_ledger_v1.
 */
export function cubeAggregate(q: ReportFilter & { groupBy: GroupBy }, level: Level): Sql {
  const asOfDay = sql`toDate(${new Date(q.asOfMs).toISOString().slice(0, 10)})`;
  const ledgerStatus = sql`multiIf(status != 'approved', status, payable_day < ${asOfDay}, 'payable', 'approved')`;
  const fromCube = sql`SELECT ${keyExpr(q.groupBy, "bucket", q.timeZone)} AS k, toString(commission_currency) AS currency,
      ${ledgerStatus} AS report_status, commission_minor AS c, revenue_minor AS r, sales AS s,
      order_currency_min AS cmin, order_currency_max AS cmax
    FROM ${ident(CUBE_TABLE)} FINAL
    WHERE level = ${level} AND (${tiling(q)}) AND NOT (status = 'approved' AND payable_day = ${asOfDay})${moneyScope(q)}`;
  const dayStart = new Date(q.asOfMs - (q.asOfMs % 86_400_000));
  const fromEntries = sql`SELECT ${keyExpr(q.groupBy, "event_time", q.timeZone)} AS k, toString(commission_currency) AS currency,
      if(payable_at <= ${new Date(q.asOfMs)}, 'payable', 'approved') AS report_status, commission_minor AS c,
      order_amount_minor AS r, toUInt64(entry_type = 'sale') AS s,
      if(entry_type = 'sale', toString(order_currency), '') AS cmin, cmin AS cmax
    FROM ${ident(APPROVED_TABLE)} FINAL
    WHERE payable_at >= ${dayStart} AND payable_at < ${new Date(dayStart.getTime() + 86_400_000)}
      AND event_time >= ${new Date(q.fromMs)} AND event_time < ${new Date(q.toMs)}${moneyScope(q)}`;
  const sum = (status: ReportStatus) => sql`sumIf(c, report_status = ${status}) AS ${raw(`${status}_minor`)}`;
  return sql`SELECT k, currency, ${sum("pending")}, ${sum("approved")}, ${sum("payable")}, ${sum("rejected")},
      ${sum("reversed")}, sum(s) AS conversions, sum(r) AS revenue_minor,
      minIf(cmin, cmin != '') AS revenue_currency, max(cmax) AS revenue_currency_max
    FROM (${fromCube} UNION ALL ${fromEntries})
    ${statusWhere(q.statuses)}
    GROUP BY k, currency`;
}

/** Scope and currency conditions, shared by the cube and the entries (both carry ids and commission_currency). */
function moneyScope(q: ReportFilter): Sql {
  const parts = scopeWhere(q);
  if (q.currency !== undefined) parts.push(sql`commission_currency = ${q.currency}`);
  return parts.length === 0 ? raw("") : sql` AND ${join(parts, " AND ")}`;
}

function statusWhere(statuses: readonly ReportStatus[] | undefined): Sql {
  if (!statuses || statuses.length === 0) return raw("");
  return sql`WHERE report_status IN (${join(
    statuses.map((s) => sql`${s}`),
    ", ",
  )})`;
}

/** End of a bucket of each grain, and its parent's start and end (none for months). */
const SHAPE: Record<Grain, { end: Sql; parent?: { start: Sql; end: Sql } }> = {
  q15: {
    end: raw("bucket + 900"),
    parent: { start: raw("toStartOfHour(bucket, 'UTC')"), end: raw("toStartOfHour(bucket, 'UTC') + 3600") },
  },
  hour: {
    end: raw("bucket + 3600"),
    parent: { start: raw("toStartOfDay(bucket, 'UTC')"), end: raw("toStartOfDay(bucket, 'UTC') + 86400") },
  },
  day: {
    end: raw("bucket + 86400"),
    parent: {
      start: raw("toDateTime(bucket - (toDayOfMonth(bucket, 'UTC') - 1) * 86400, 'UTC')"),
      end: raw("addMonths(toDateTime(bucket - (toDayOfMonth(bucket, 'UTC') - 1) * 86400, 'UTC'), 1)"),
    },
  },
  month: { end: raw("addMonths(bucket, 1)") },
};

/** The rows of every grain that tile the period: inside it and in one group, with a parent that is not. */
function tiling(q: ReportFilter & { groupBy: GroupBy }): Sql {
  const from = new Date(q.fromMs);
  const to = new Date(q.toMs);
  const byPeriod = q.groupBy === "day" || q.groupBy === "week" || q.groupBy === "month";
  const inside = (start: Sql, end: Sql) => {
    const sameGroup = byPeriod
      ? sql` AND ${keyExpr(q.groupBy, start, q.timeZone)} = ${keyExpr(q.groupBy, sql`${end} - 1`, q.timeZone)}`
      : raw("");
    return sql`(${start} >= ${from} AND ${end} <= ${to}${sameGroup})`;
  };
  return join(
    GRAINS.map((g) => {
      const { end, parent } = SHAPE[g];
      const notParent = parent ? sql` AND NOT ${inside(parent.start, parent.end)}` : raw("");
      return sql`(grain = ${GRAIN_ID[g]} AND bucket >= ${from} AND bucket < ${to} AND ${inside(raw("bucket"), end)}${notParent})`;
    }),
    " OR ",
  );
}
