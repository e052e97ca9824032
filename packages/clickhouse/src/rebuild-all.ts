import { z } from "zod";
import { bucketOf, copyApprovedEntries, HOUR_S, rebuildAggregates } from "./aggregates";
import { CLICKS_TABLE } from "./clicks";
import { copyClickHours, rebuildClickAggregates } from "./clicks-cube";
import type { Querier } from "./client";
import { LEDGER_TABLE } from "./ledger";
import { ident, type Sql, sql } from "./sql";

/** The UTC months holding ledger entries or clicks, oldest first, as [start, end) in seconds. */
export async function aggregateMonths(ch: Querier): Promise<{ startSec: number; endSec: number }[]> {
  const months = (table: string, time: string): Sql =>
    sql`SELECT DISTINCT toUInt32(toDateTime(toStartOfMonth(${ident(time)}), 'UTC')) AS m FROM ${ident(table)}`;
  const rows = await ch.query(
    "aggregate_months",
    sql`SELECT DISTINCT m FROM (${months(LEDGER_TABLE, "event_time")} UNION ALL ${months(CLICKS_TABLE, "clicked_at")})
      ORDER BY m`,
    z.object({ m: z.coerce.number().int() }),
  );
  return rows.map((r) => ({ startSec: r.m, endSec: bucketOf("month", r.m).end }));
}

/**
 * Rebuilds every aggregate from the ledger and the clicks, one UTC month at a time (its approved entries and hourly
 * clicks, then every cube key of the month). Safe beside a running worker: both overwrite with versions read from the
 * clock after their sources were written, so whichever read last wins, and a worker rebuild that follows its own
 * write always reads later.
 */
export async function rebuildAllAggregates(
  ch: Querier,
  onMonth: (done: number, total: number, monthStartSec: number) => void = () => undefined,
): Promise<number> {
  const months = await aggregateMonths(ch);
  const rebuild = rebuildAggregates(ch);
  const rebuildClicks = rebuildClickAggregates(ch);
  const copyApproved = copyApprovedEntries(ch);
  const copyClicks = copyClickHours(ch);
  onMonth(0, months.length, months[0]?.startSec ?? 0);
  for (const [i, m] of months.entries()) {
    const hours: number[] = [];
    for (let h = m.startSec; h < m.endSec; h += HOUR_S) hours.push(h);
    await Promise.all([copyApproved(m.startSec, m.endSec), copyClicks(m.startSec, m.endSec)]);
    await Promise.all([rebuild({ hourStartsSec: hours }), rebuildClicks({ hourStartsSec: hours })]);
    onMonth(i + 1, months.length, m.startSec);
  }
  return months.length;
}
