import { z } from "zod";
import type { Inserter, Querier } from "./client";
import { Int64Text } from "./int64";
import { CONVERSIONS_TABLE, IN_CHUNK, inList, LEDGER_TABLE } from "./ledger";
import { recordedBy } from "./reports/filter";
import { ident, sql } from "./sql";

/** Payout runs (schema/010, docs/adr/0006 "Payout runs"). */
export const PAYOUT_RUNS_TABLE = "payout_runs_v1";
export const PAYOUT_LINES_TABLE = "payout_lines_v1";
export const PAYOUT_PAID_TABLE = "payout_line_paid_v1";

export const PayoutRunRow = z.object({
  run_id: z.string().length(32),
  idempotency_key: z.string(),
  currency: z.string().length(3),
  as_of_ms: Int64Text,
  created_at_ms: Int64Text,
  created_by: z.string(),
  manifest: z.string(),
  total_minor: Int64Text,
  line_count: z.number().int(),
  line_ids: z.array(z.string()),
  version: Int64Text,
});
export type PayoutRunRow = z.output<typeof PayoutRunRow>;

export const PayoutLineRow = z.object({
  run_id: z.string().length(32),
  line_id: z.string().length(32),
  influencer_id: z.number().int().min(1),
  currency: z.string().length(3),
  amount_minor: Int64Text,
  items: z.string(),
  entry_ids: z.array(z.string()),
  payee: z.string(),
  version: Int64Text,
});
export type PayoutLineRow = z.output<typeof PayoutLineRow>;

export const PayoutPaidRow = z.object({
  run_id: z.string().length(32),
  line_id: z.string().length(32),
  paid_at_ms: Int64Text,
  reference: z.string(),
  version: Int64Text,
});
export type PayoutPaidRow = z.output<typeof PayoutPaidRow>;

/** An approved ledger entry no payout line covers yet, payable at the run's `as_of`. */
export const PayoutCandidate = z.object({
  entry_id: z.string(),
  conversion_id: z.string(),
  merchant_id: z.number().int(),
  campaign_id: z.number().int(),
  influencer_id: z.number().int(),
  commission_minor: Int64Text,
});
export type PayoutCandidate = z.output<typeof PayoutCandidate>;

/**
 * Approved entries in `currency` recorded and payable by `asOfMs` that no line of a committed run covers (a run is
 * committed once its header row is written, after its lines; only the lines its header lists count). Payout entries
 * themselves (money moved to the paid bucket) are never candidates: what a line pays is the sum of what it covers.
 */
export function getPayoutCandidates(ch: Querier) {
  return (currency: string, asOfMs: number) =>
    ch.query(
      "payout_candidates",
      sql`SELECT entry_id, conversion_id, merchant_id, campaign_id, influencer_id, commission_minor
        FROM ${ident(LEDGER_TABLE)} FINAL
        WHERE status = 'approved' AND entry_type != 'payout' AND commission_currency = ${currency}
          AND ${recordedBy(asOfMs)} AND payable_at <= ${new Date(asOfMs)} AND commission_minor != 0
          AND entry_id NOT IN (
            SELECT arrayJoin(entry_ids) FROM ${ident(PAYOUT_LINES_TABLE)} FINAL
            WHERE (run_id, line_id) IN (SELECT run_id, arrayJoin(line_ids) FROM ${ident(PAYOUT_RUNS_TABLE)} FINAL)
          )
        ORDER BY influencer_id, campaign_id, conversion_id, entry_id`,
      PayoutCandidate,
    );
}

const OrderIdRow = z.object({ conversion_id: z.string(), order_id: z.string() });

/** Merchant order ids of conversions (payout events name their order like every conversion event). */
export function getOrderIds(ch: Querier) {
  return async (conversionIds: readonly string[]): Promise<Map<string, string>> => {
    const out = new Map<string, string>();
    for (let i = 0; i < conversionIds.length; i += IN_CHUNK) {
      const rows = await ch.query(
        "order_ids",
        sql`SELECT conversion_id, order_id FROM ${ident(CONVERSIONS_TABLE)} FINAL
          WHERE conversion_id IN ${inList(conversionIds.slice(i, i + IN_CHUNK))}`,
        OrderIdRow,
      );
      for (const r of rows) out.set(r.conversion_id, r.order_id);
    }
    return out;
  };
}

const RUN_COLUMNS = sql`run_id, idempotency_key, toString(currency) AS currency, as_of_ms, created_at_ms, created_by,
  manifest, total_minor, line_count, line_ids, version`;

export function getPayoutRun(ch: Querier) {
  return async (runId: string): Promise<PayoutRunRow | undefined> =>
    (
      await ch.query(
        "payout_run",
        sql`SELECT ${RUN_COLUMNS} FROM ${ident(PAYOUT_RUNS_TABLE)} FINAL WHERE run_id = ${runId}`,
        PayoutRunRow,
      )
    )[0];
}

/** Every run, newest first; with an influencer, only runs paying that influencer. */
export function listPayoutRuns(ch: Querier) {
  return (influencerId?: number) =>
    ch.query(
      "payout_runs",
      influencerId === undefined
        ? sql`SELECT ${RUN_COLUMNS} FROM ${ident(PAYOUT_RUNS_TABLE)} FINAL ORDER BY created_at_ms DESC, run_id`
        : sql`SELECT ${RUN_COLUMNS} FROM ${ident(PAYOUT_RUNS_TABLE)} FINAL
            WHERE run_id IN (SELECT run_id FROM ${ident(PAYOUT_LINES_TABLE)} WHERE influencer_id = ${influencerId})
            ORDER BY created_at_ms DESC, run_id`,
      PayoutRunRow,
    );
}

/** The lines of a run, only those its header lists (ordered by influencer). */
export function getPayoutLines(ch: Querier) {
  return (runId: string) =>
    ch.query(
      "payout_lines",
      sql`SELECT run_id, line_id, influencer_id, toString(currency) AS currency, amount_minor, items, entry_ids, payee, version
        FROM ${ident(PAYOUT_LINES_TABLE)} FINAL
        WHERE run_id = ${runId}
          AND line_id IN (SELECT arrayJoin(line_ids) FROM ${ident(PAYOUT_RUNS_TABLE)} FINAL WHERE run_id = ${runId})
        ORDER BY influencer_id, line_id`,
      PayoutLineRow,
    );
}

export function getPayoutPaid(ch: Querier) {
  return (runId: string) =>
    ch.query(
      "payout_paid",
      sql`SELECT run_id, line_id, paid_at_ms, reference, version
        FROM ${ident(PAYOUT_PAID_TABLE)} FINAL WHERE run_id = ${runId}`,
      PayoutPaidRow,
    );
}

export function insertPayoutRun(ch: Inserter) {
  return (row: z.input<typeof PayoutRunRow>) => ch.insert("insert_payout_run", PAYOUT_RUNS_TABLE, [row]);
}
export function insertPayoutLines(ch: Inserter) {
  return (rows: readonly z.input<typeof PayoutLineRow>[]) =>
    ch.insert("insert_payout_lines", PAYOUT_LINES_TABLE, [...rows]);
}
export function insertPayoutPaid(ch: Inserter) {
  return (rows: readonly z.input<typeof PayoutPaidRow>[]) =>
    ch.insert("insert_payout_paid", PAYOUT_PAID_TABLE, [...rows]);
}
