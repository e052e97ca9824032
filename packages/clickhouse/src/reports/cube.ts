import { APPROVED_TABLE, CUBE_TABLE, HOUR_S, type Level } from "../aggregates";
import { CLICKS_BY_HOUR_TABLE, CLICKS_CUBE_TABLE } from "../clicks-cube";
import { inList, LEDGER_TABLE } from "../ledger";
import { ident, join, raw, type Sql, sql } from "../sql";
import { type GroupBy, keyExpr, type ReportFilter, type ReportStatus, scopeWhere } from "./filter";
import { type Tile, tilePeriod, tilesWhere } from "./tiles";

/**
 * Commission figures of a report from the cube (schema/009), with the same columns as the ledger query.
 *
 * Buckets: every instant of the period belongs to exactly one cube bucket used here (tilePeriod: the coarsest
 * buckets inside the period and inside one group), selected as primary-key ranges so only those rows are read.
 *
 * Held and payable: the cube counts all approved money as payable; the approved entries of the period still held at
 * `as_of` (payable_at > as_of) are read from approved_ledger_v1, a primary-key range from `as_of` on, and moved from
 * payable to approved (held), so any `as_of` is exact. At `as_of` = now that range is the money in its holding
 * period. `e` counts the ledger entries behind each line, so a group exists exactly when the ledger has an entry
 * of it matching the status filter (a group whose payable money is all held is not a row of zeros).
 */
export function cubeAggregate(q: ReportFilter & { groupBy: GroupBy }, level: Level): Sql {
  const inner = innerPeriod(q, QUARTER_S);
  const tiles = tilePeriod(q.groupBy, q.timeZone, inner.fromMs, inner.toMs);
  const fromCube = sql`SELECT ${keyExpr(q.groupBy, "bucket", q.timeZone)} AS k, toString(commission_currency) AS currency,
      if(status = 'approved', 'payable', status) AS report_status, commission_minor AS c, revenue_minor AS r, sales AS s,
      order_currency_min AS cmin, order_currency_max AS cmax, toInt64(entries) AS e
    FROM ${ident(CUBE_TABLE)} FINAL
    WHERE level = ${level} AND (${tilesWhere(tiles)})${moneyScope(q)}`;
  // each held entry twice: into approved (+), out of payable (-); revenue and sales are already in the cube rows
  const held = sql`SELECT ${keyExpr(q.groupBy, "event_time", q.timeZone)} AS k, toString(commission_currency) AS currency,
      commission_minor AS c, ['approved', 'payable'] AS statuses, [toInt64(1), toInt64(-1)] AS signs
    FROM ${ident(APPROVED_TABLE)} FINAL
    WHERE payable_at > ${new Date(q.asOfMs)}
      AND event_time >= ${new Date(inner.fromMs)} AND event_time < ${new Date(inner.toMs)}${moneyScope(q)}`;
  const moves = sql`SELECT k, currency, report_status, c * sign AS c, toInt64(0) AS r, toUInt64(0) AS s,
      '' AS cmin, '' AS cmax, sign AS e
    FROM (${held})
    ARRAY JOIN statuses AS report_status, signs AS sign`;
  const sum = (status: ReportStatus) => sql`sumIf(c, report_status = ${status}) AS ${raw(`${status}_minor`)}`;
  return sql`SELECT k, currency, ${sum("pending")}, ${sum("review")}, ${sum("approved")}, ${sum("payable")},
      ${sum("paid")}, ${sum("rejected")}, ${sum("reversed")}, sum(s) AS conversions, sum(r) AS revenue_minor,
      minIf(cmin, cmin != '') AS revenue_currency, max(cmax) AS revenue_currency_max
    FROM (${fromCube} UNION ALL ${moves}${edgeEntries(q, inner)})
    ${statusWhere(q.statuses)}
    GROUP BY k, currency
    HAVING sum(e) > 0`;
}

const QUARTER_S = 900;

/**
 * The part of the period the cube's buckets cover: from and to rounded inwards to whole `stepS` seconds (empty, at
 * `to`, when no whole step fits).
 */
export function innerPeriod(q: ReportFilter, stepS: number): { fromMs: number; toMs: number } {
  const stepMs = stepS * 1000;
  const fromMs = Math.ceil(q.fromMs / stepMs) * stepMs;
  const toMs = Math.floor(q.toMs / stepMs) * stepMs;
  return fromMs < toMs ? { fromMs, toMs } : { fromMs: q.toMs, toMs: q.toMs };
}

/** The minutes of the period outside `inner`, as a condition on `column`; undefined when there are none. */
function edges(q: ReportFilter, inner: { fromMs: number; toMs: number }, column: string): Sql | undefined {
  const parts: Sql[] = [];
  const t = ident(column);
  if (q.fromMs < inner.fromMs) parts.push(sql`(${t} >= ${new Date(q.fromMs)} AND ${t} < ${new Date(inner.fromMs)})`);
  if (inner.toMs < q.toMs) parts.push(sql`(${t} >= ${new Date(inner.toMs)} AND ${t} < ${new Date(q.toMs)})`);
  return parts.length === 0 ? undefined : join(parts, " OR ");
}

/**
 * Ledger entries of the minutes before the first and after the last quarter hour of the period (a date-time `from`
 * or `to`), as lines like the cube's, deduplicated by entry id with argMax (what FINAL keeps) rather than FINAL over
 * their whole month. Those minutes lie inside one group: zone offsets are whole quarter hours (planReport).
 */
function edgeEntries(q: ReportFilter & { groupBy: GroupBy }, inner: { fromMs: number; toMs: number }): Sql {
  const where = edges(q, inner, "event_time");
  if (!where) return raw("");
  const columns = [
    "merchant_id",
    "campaign_id",
    "influencer_id",
    "entry_type",
    "status",
    "order_amount_minor",
    "order_currency",
    "commission_minor",
    "commission_currency",
    "payable_at",
  ].map((c) => sql`argMax(${ident(c)}, version) AS ${ident(c)}`);
  return sql` UNION ALL SELECT ${keyExpr(q.groupBy, "event_time", q.timeZone)} AS k, toString(commission_currency) AS currency,
      multiIf(status != 'approved', status, payable_at <= ${new Date(q.asOfMs)}, 'payable', 'approved') AS report_status,
      commission_minor AS c, if(status IN ('pending', 'review', 'approved'), order_amount_minor, toInt64(0)) AS r,
      toUInt64(entry_type = 'sale') AS s, if(entry_type = 'sale', toString(order_currency), '') AS cmin, cmin AS cmax,
      toInt64(1) AS e
    FROM (
      SELECT entry_id, event_time, ${join(columns, ", ")}
      FROM ${ident(LEDGER_TABLE)}
      WHERE ${where}
      GROUP BY entry_id, event_time
    )
    WHERE 1${moneyScope(q)}`;
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

/**
 * Click figures of a report from the clicks cube (schema/008), with the columns of the clicks query. The tiles give
 * clicks and bot clicks (and unique clicks from hours, days and months). Unique clicks do not add up over quarter
 * hours, so for each hour cut into quarter-hour tiles they come from the hour row's split by quarter sets: a
 * (link, IP, user agent) whose clicks fell in quarters of two groups counts once in each, as in the clicks table.
 */
export function clicksCubeAggregate(q: ReportFilter & { groupBy: GroupBy }, level: Level): Sql {
  const inner = innerPeriod(q, HOUR_S);
  const tiles = tilePeriod(q.groupBy, q.timeZone, inner.fromMs, inner.toMs);
  const whole = sql`SELECT ${keyExpr(q.groupBy, "bucket", q.timeZone)} AS k, clicks AS n, bot_clicks AS nb, unique_clicks AS u
    FROM ${ident(CLICKS_CUBE_TABLE)} FINAL WHERE ${clicksWhere(q, level, sql`(${tilesWhere(tiles)})`)}`;
  const cut = cutHours(tiles);
  const parts = [whole];
  if (cut.length > 0) parts.push(cutHourUniques({ ...q, ...inner }, level, cut));
  const edge = edgeClicks(q, inner);
  if (edge) parts.push(edge);
  return sql`SELECT k, sum(n) AS clicks, sum(nb) AS bot_clicks, sum(u) AS unique_clicks
    FROM (${join(parts, " UNION ALL ")}) GROUP BY k`;
}

/**
 * Clicks of the hours the period only partly covers (a date-time `from` or `to`), counted from clicks_by_hour_v1,
 * a primary-key range per hour, exactly as the clicks table would: those hours are not read from the cube.
 */
function edgeClicks(q: ReportFilter & { groupBy: GroupBy }, inner: { fromMs: number; toMs: number }): Sql | undefined {
  const where = edges(q, inner, "clicked_at");
  if (!where) return undefined;
  const hours: number[] = [];
  for (let h = Math.floor(q.fromMs / 3_600_000) * 3600; h * 1000 < q.toMs; h += HOUR_S)
    if (h * 1000 < inner.fromMs || h * 1000 >= inner.toMs) hours.push(h);
  const hourIn = sql`hour IN ${inList(hours.map((h) => new Date(h * 1000)))}`;
  return sql`SELECT ${keyExpr(q.groupBy, "clicked_at", q.timeZone)} AS k, count() AS n, countIf(is_bot = 1) AS nb,
      uniqExactIf(link_id, ip, user_agent, hour, is_bot = 0) AS u
    FROM ${ident(CLICKS_BY_HOUR_TABLE)} FINAL
    WHERE ${join([hourIn, sql`(${where})`, ...scopeWhere(q)], " AND ")}
    GROUP BY k`;
}

const clicksWhere = (q: ReportFilter, level: Level, cond: Sql) =>
  join([sql`level = ${level}`, cond, ...scopeWhere(q)], " AND ");

/**
 * Unique clicks of hours cut into quarter-hour tiles: per hour row, its quarters inside the period and their group
 * keys, then one line per distinct key with the unique clicks whose quarter set meets that key's quarters (none: no
 * line, as the group may have no clicks at all). 18.16 drops subquery columns that only a lambda reads and lambdas
 * cannot read an enclosing lambda's arguments, so every column reaches a lambda as an argument (replicate).
 */
function cutHourUniques(q: ReportFilter & { groupBy: GroupBy }, level: Level, cut: readonly number[]): Sql {
  const byPeriod = q.groupBy === "day" || q.groupBy === "week" || q.groupBy === "month";
  const keys = byPeriod
    ? sql`arrayMap((x, b) -> ${keyExpr(q.groupBy, raw("(b + x * 900)"), q.timeZone)}, qs, replicate(bucket, qs))`
    : sql`replicate(${keyExpr(q.groupBy, "bucket", q.timeZone)}, qs)`;
  const hours = sql`grain = 1 AND bucket IN ${inList(cut.map((h) => new Date(h * 1000)))}`;
  return sql`SELECT k, toUInt64(0) AS n, toUInt64(0) AS nb,
      arraySum(arrayMap((c, s, m) -> if(bitAnd(s, m) != 0, c, toUInt64(0)), unique_by_quarters, range(16),
        replicate(mask, unique_by_quarters))) AS u
    FROM (
      SELECT k, unique_by_quarters,
        arraySum(arrayMap((x, kx, kk) -> if(kx = kk, bitShiftLeft(toUInt8(1), x), toUInt8(0)), qs, ks, replicate(k, qs))) AS mask
      FROM (
        SELECT unique_by_quarters, qs, ${keys} AS ks
        FROM (
          SELECT bucket, merchant_id, campaign_id, influencer_id, unique_by_quarters,
            arrayFilter((x, b) -> b + x * 900 >= toDateTime(${Math.floor(q.fromMs / 1000)}, 'UTC')
              AND b + x * 900 < toDateTime(${Math.floor(q.toMs / 1000)}, 'UTC'), [0, 1, 2, 3], replicate(bucket, [0, 1, 2, 3])) AS qs
          FROM ${ident(CLICKS_CUBE_TABLE)} FINAL
          WHERE ${clicksWhere(q, level, hours)}
        )
      )
      ARRAY JOIN arrayFilter((v, i, all) -> indexOf(all, v) = i, ks, arrayEnumerate(ks), replicate(ks, ks)) AS k
    )
    WHERE u > 0`;
}

/** The UTC hours covered by quarter-hour tiles. */
function cutHours(tiles: readonly Tile[]): number[] {
  const hours = new Set<number>();
  for (const t of tiles)
    if (t.grain === "q15") for (let s = t.fromSec; s < t.toSec; s += 900) hours.add(s - (s % HOUR_S));
  return [...hours].sort((a, b) => a - b);
}
