import { z } from "zod";
import type { Querier } from "../client";
import { Int64Sum } from "../int64";
import { LEDGER_TABLE } from "../ledger";
import { ident, join, sql } from "../sql";
import { type ReportFilter, scopeWhere } from "./filter";

/*
 * The second clock (docs/adr/0006, "Two clocks"). Every ledger entry has the time its business event happened
 * (`event_time`, which periods select on) and the time we learned of it (`recorded_at`, with millisecond precision in
 * `version`: the receive time of its event, taken from the event so a replay writes it again unchanged). `as_of` means
 * "what we knew at that instant": only entries recorded at or before it count, so a report, statement or payout read
 * with the same `as_of` answers the same forever, whatever arrives later, however it is dated (`recordedBy`).
 */

const Newest = z.object({ newest: Int64Sum });

/**
 * The newest receive time (ms) among the ledger entries of a report's period and scope, 0 when there are none. The
 * pre-aggregates hold every entry whatever its receive time, so they answer only when nothing in the period was
 * recorded after `as_of`; otherwise the ledger answers (`as_of_before_last_recorded`).
 */
export function newestRecorded(ch: Querier) {
  return async (f: ReportFilter): Promise<number> => {
    const parts = [sql`event_time >= ${new Date(f.fromMs)}`, sql`event_time < ${new Date(f.toMs)}`, ...scopeWhere(f)];
    if (f.currency !== undefined) parts.push(sql`commission_currency = ${f.currency}`);
    const rows = await ch.query(
      "newest_recorded",
      sql`SELECT max(version) AS newest FROM ${ident(LEDGER_TABLE)} WHERE ${join(parts, " AND ")}`,
      Newest,
    );
    return Number(rows[0]?.newest ?? 0n);
  };
}

/** How far before its receipt an event may be dated (packages/events MAX_BACKDATE_MS): 400 days. */
const MAX_BACKDATE_MS = 400 * 86_400_000;

/**
 * The newest receive time (ms) among entries in scope that could have been recorded after `as_of`: an entry received
 * later is dated at most 400 days before its receipt, so only event times from `as_of` - 400 days are read (payouts
 * are balances over all time, not a period).
 */
export function newestRecordedSince(ch: Querier) {
  const newest = newestRecorded(ch);
  return (f: ReportFilter) =>
    newest({ ...f, fromMs: Math.max(0, f.asOfMs - MAX_BACKDATE_MS), toMs: 4_294_967_295_000 });
}
