import { FLAGS_TABLE } from "../outcomes";
import { ident, join, type Sql, sql } from "../sql";
import { type GroupBy, keyExpr, type ReportFilter, scopeWhere } from "./filter";

/**
 * Credited conversions with at least one flag (conversion_flags_v1), per report group and settlement currency: the report's
 * `flagged_conversions` column. Counted by sale time (a conversion's period is its sale's), only
 * sales recorded by `as_of`, so the column obeys the same two clocks as the money.
 */
export function flaggedAggregate(q: ReportFilter & { groupBy: GroupBy }): Sql {
  const parts = [
    sql`occurred_at >= ${new Date(q.fromMs)}`,
    sql`occurred_at < ${new Date(q.toMs)}`,
    sql`sale_recorded_ms <= ${Math.floor(q.asOfMs)}`,
    sql`campaign_id > 0`,
    sql`notEmpty(flags)`,
    ...scopeWhere(q),
  ];
  if (q.currency !== undefined) parts.push(sql`commission_currency = ${q.currency}`);
  if (q.flags && q.flags.length > 0)
    parts.push(
      sql`hasAny(flags, [${join(
        q.flags.map((f) => sql`${f}`),
        ", ",
      )}])`,
    );
  return sql`SELECT ${keyExpr(q.groupBy, "occurred_at", q.timeZone)} AS k, toString(commission_currency) AS currency,
      count() AS flagged_conversions
    FROM ${ident(FLAGS_TABLE)} FINAL
    WHERE ${join(parts, " AND ")}
    GROUP BY k, currency`;
}
