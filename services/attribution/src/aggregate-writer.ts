import {
  type ClickHouse,
  type ClickRow,
  type HourlyTouch,
  insertApprovedEntries,
  insertClickHours,
  insertClicks,
  insertLedgerEntries,
  type LedgerRow,
  rebuildAggregates,
  rebuildClickAggregates,
} from "@aff/clickhouse";

/**
 * The worker's writes that feed the reports' pre-aggregates (docs/adr/0006): ledger rows go to the ledger and, when
 * approved, to approved_ledger_v1 (identical rows on a replay); after the write, every cube key of the touched
 * campaigns and hours is rebuilt from the ledger (overwrite, never increment), and the hourly table with it.
 */
export function aggregateWriter(ch: ClickHouse) {
  const ledger = insertLedgerEntries(ch);
  const approved = insertApprovedEntries(ch);
  const rebuild = rebuildAggregates(ch);
  return {
    writeLedger: async (rows: readonly LedgerRow[]) => {
      await Promise.all([ledger(rows), approved(rows)]);
    },
    /** Rebuilds carry their own versions (microseconds read from the clock before each statement). */
    rebuildHourly: (touched: readonly HourlyTouch[], _version: number) =>
      rebuild({
        campaigns: [...new Set(touched.map((t) => t.campaignId))],
        hourStartsSec: touched.map((t) => t.hourStartSec),
      }),
  };
}

/**
 * Clicks go to clicks_raw_v1 and, ordered by hour, to clicks_by_hour_v1 (identical rows on a replay); once both are
 * acknowledged, every clicks cube key of the touched campaigns and hours is rebuilt (overwrite, never increment).
 */
export function clickWriter(ch: ClickHouse) {
  const raw = insertClicks(ch);
  const byHour = insertClickHours(ch);
  const rebuild = rebuildClickAggregates(ch);
  return async (rows: readonly ClickRow[]) => {
    if (rows.length === 0) return;
    await Promise.all([raw(rows), byHour(rows)]);
    await rebuild({
      campaigns: [...new Set(rows.map((r) => r.campaign_id))],
      hourStartsSec: rows.map((r) => Math.floor(r.clicked_at_ms / 3_600_000) * 3600),
    });
  };
}
