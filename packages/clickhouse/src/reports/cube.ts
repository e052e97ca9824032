import { APPROVED_TABLE, CUBE_TABLE, type Level } from "../aggregates";
import { ident, join, raw, type Sql, sql } from "../sql";
import { type GroupBy, keyExpr, type ReportFilter, type ReportStatus, scopeWhere } from "./filter";
import { tilePeriod, tilesWhere } from "./tiles";

/**
 * Commission figures of a report from the cube (schema/006), with the same columns as the ledger query.
 *
 * Buckets: every instant of the period belongs to exactly one cube bucket used here (tilePeriod: the coarsest
 * buckets inside the period and inside one group), selected as primary-key ranges so only those rows are read.
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
    WHERE level = ${level} AND (${tilesWhere(tilePeriod(q.groupBy, q.timeZone, q.fromMs, q.toMs))}) AND NOT (status = 'approved' AND payable_day = ${asOfDay})${moneyScope(q)}`;
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
