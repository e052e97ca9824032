import type { ClickEvent } from "@aff/events";
import { z } from "zod";
import type { Inserter, Querier } from "./client";
import { ident, join, sql } from "./sql";
import { toDateTimeText } from "./time";

export const CLICKS_TABLE = "clicks_raw_v1";

export const ClickRow = z.object({
  click_id: z.string(),
  link_id: z.number().int(),
  link_code: z.string(),
  campaign_id: z.number().int(),
  influencer_id: z.number().int(),
  merchant_id: z.number().int(),
  clicked_at: z.string(),
  clicked_at_ms: z.number().int(),
  ip: z.string(),
  user_agent: z.string(),
  referer: z.string(),
  is_bot: z.union([z.literal(0), z.literal(1)]),
  is_unique: z.union([z.literal(0), z.literal(1)]),
  version: z.number().int(),
});
export type ClickRow = z.infer<typeof ClickRow>;

/** The row for a click event. `version` is the click time, so a replay writes an identical row. */
export function clickRow(e: ClickEvent): ClickRow {
  return {
    click_id: e.click_id,
    link_id: e.link_id,
    link_code: e.link_code,
    campaign_id: e.campaign_id,
    influencer_id: e.influencer_id,
    merchant_id: e.merchant_id,
    clicked_at: toDateTimeText(e.clicked_at_ms),
    clicked_at_ms: e.clicked_at_ms,
    ip: e.ip,
    user_agent: e.user_agent,
    referer: e.referer,
    is_bot: e.is_bot ? 1 : 0,
    is_unique: e.is_unique ? 1 : 0,
    version: e.clicked_at_ms,
  };
}

export function insertClicks(ch: Inserter) {
  return (rows: readonly ClickRow[]) =>
    ch.insert(
      "insert_clicks",
      CLICKS_TABLE,
      rows.map((r) => ClickRow.parse(r)),
    );
}

const ClickIdRow = z.object({ click_id: z.string() });

/**
 * The click ids among `clickIds` that the redirect flagged as bots' (crawler, preview, HEAD, prefetch). A click whose
 * event has not reached ClickHouse yet is not found: the sale is then resolved without the flag (the clicks topic is
 * normally far ahead of a sale, which follows a shopper's visit to the store).
 */
export function getBotClicks(ch: Querier) {
  return async (clickIds: readonly string[]): Promise<Set<string>> => {
    const out = new Set<string>();
    const unique = [...new Set(clickIds)];
    for (let i = 0; i < unique.length; i += 2_000) {
      const list = join(
        unique.slice(i, i + 2_000).map((id) => sql`${id}`),
        ", ",
      );
      const rows = await ch.query(
        "bot_clicks",
        sql`SELECT DISTINCT click_id FROM ${ident(CLICKS_TABLE)} WHERE click_id IN (${list}) AND is_bot = 1`,
        ClickIdRow,
      );
      for (const r of rows) out.add(r.click_id);
    }
    return out;
  };
}
