import {
  type ClickHouse,
  type HourlyTouch,
  insertApprovedEntries,
  insertLedgerEntries,
  type LedgerRow,
  rebuildAggregates,
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
