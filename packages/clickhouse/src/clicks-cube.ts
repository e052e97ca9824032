import {
  type AggregateScope,
  type CubeSpec,
  coarserRounds,
  fromCube,
  type Grain,
  type Round,
  roundRunner,
  scopedChunks,
} from "./aggregates";
import { CLICKS_TABLE, type ClickRow } from "./clicks";
import type { Inserter, Querier } from "./client";
import { type ClusterTarget, DISTRIBUTED_FINAL, type FinalRead, REBUILD_REPLICA_SETTINGS } from "./cluster";
import { ident, raw, type Sql, sql } from "./sql";

/** Exact pre-aggregates of the clicks (schema/008, docs/adr/0006): the grains and levels of the commission cube. */
export const CLICKS_CUBE_TABLE = "clicks_cube_v1";
/** The clicks ordered by UTC hour, the clicks cube's source (schema/008). */
export const CLICKS_BY_HOUR_TABLE = "clicks_by_hour_v1";

/** Quarter-set breakdowns add up element by element over ids; days and months do not keep them. */
export const CLICKS_CUBE: CubeSpec = {
  table: CLICKS_CUBE_TABLE,
  dims: raw(""),
  values: raw("clicks, bot_clicks, unique_clicks, unique_by_quarters"),
  sums: (grain: Grain) =>
    raw(
      `sum(clicks), sum(bot_clicks), sum(unique_clicks), ${grain === "q15" || grain === "hour" ? "sumForEach(unique_by_quarters)" : "emptyArrayUInt64()"}`,
    ),
};

/** The clicks_by_hour_v1 rows of click rows (identical rows on a replay). */
export function clickHourRows(rows: readonly ClickRow[]) {
  return rows.map((r) => ({
    hour: `${r.clicked_at.slice(0, 13)}:00:00`,
    campaign_id: r.campaign_id,
    click_id: r.click_id,
    link_id: r.link_id,
    influencer_id: r.influencer_id,
    merchant_id: r.merchant_id,
    clicked_at: r.clicked_at,
    ip: r.ip,
    user_agent: r.user_agent,
    is_bot: r.is_bot,
    version: r.version,
  }));
}

export function insertClickHours(ch: Inserter) {
  return (rows: readonly ClickRow[]) => ch.insert("insert_click_hours", CLICKS_BY_HOUR_TABLE, clickHourRows(rows));
}

/** Copies the clicks of a period from clicks_raw_v1 (FINAL): the rebuild's counterpart of the worker's insert. */
export function copyClickHours(ch: Querier) {
  return (fromSec: number, toSec: number) =>
    ch.exec(
      "copy_click_hours",
      sql`INSERT INTO ${ident(CLICKS_BY_HOUR_TABLE)}
        SELECT toStartOfHour(clicked_at) AS hour, campaign_id, click_id, link_id, influencer_id, merchant_id, clicked_at,
          ip, user_agent, is_bot, version
        FROM ${ident(CLICKS_TABLE)} FINAL
        WHERE clicked_at >= toDateTime(${fromSec}, 'UTC') AND clicked_at < toDateTime(${toSec}, 'UTC')`,
    );
}

/** 15-minute rows at level 3 from the clicks: counts only (unique clicks do not add up over quarter hours). */
function quartersFromClicks(read: FinalRead, scope: Sql, version: number): Sql {
  return sql`INSERT INTO ${ident(CLICKS_CUBE_TABLE)}
    SELECT toUInt8(3), toUInt8(0), toStartOfFifteenMinutes(clicked_at) AS b, merchant_id, campaign_id, influencer_id,
      count(), countIf(is_bot = 1), toUInt64(0), emptyArrayUInt64(), toUInt64(${version})
    FROM ${read(CLICKS_BY_HOUR_TABLE, scope)}
    GROUP BY b, merchant_id, campaign_id, influencer_id`;
}

/**
 * Hour rows at level 3 from the clicks: each (link, IP, user agent) of the hour with the bit set of the quarters its
 * non-bot clicks fell in (0 when it has only bot clicks), then per ids the unique total and the count per bit set.
 */
function hoursFromClicks(read: FinalRead, scope: Sql, version: number): Sql {
  // one 0/1 per possible quarter set, summed element by element (18.16 lambdas cannot read columns under GROUP BY)
  const perSet = raw(`[${Array.from({ length: 16 }, (_, s) => `toUInt64(quarters = ${s})`).join(", ")}]`);
  return sql`INSERT INTO ${ident(CLICKS_CUBE_TABLE)}
    SELECT toUInt8(3), toUInt8(1), hour, merchant_id, campaign_id, influencer_id, sum(clicks), sum(bots),
      countIf(quarters != 0), sumForEach(${perSet}), toUInt64(${version})
    FROM (
      SELECT hour, merchant_id, campaign_id, influencer_id, count() AS clicks, countIf(is_bot = 1) AS bots,
        groupBitOr(if(is_bot = 0, bitShiftLeft(toUInt8(1), intDiv(toMinute(clicked_at), 15)), toUInt8(0))) AS quarters
      FROM ${read(CLICKS_BY_HOUR_TABLE, scope)}
      GROUP BY hour, merchant_id, campaign_id, influencer_id, link_id, ip, user_agent
    )
    GROUP BY hour, merchant_id, campaign_id, influencer_id`;
}

/** The statements of one clicks cube rebuild, in dependency order (see rebuildRounds for the commission cube). */
export function clickRebuildRounds(scope: AggregateScope, read: FinalRead = DISTRIBUTED_FINAL): Round[] {
  const each = scopedChunks(scope, "hour");
  if (!each) return [];
  const cube = CLICKS_CUBE;
  const sameBucket = (level: 2 | 0, from: 3 | 2) => (v: () => number) =>
    (["q15", "hour"] as const).flatMap((grain) =>
      each(level, grain, (w) =>
        fromCube(read, cube, { level, grain, bucket: raw("bucket") }, { level: from, grain }, w, v()),
      ),
    );
  return [
    (v) => [
      ...each(3, "q15", (w) => quartersFromClicks(read, w, v())),
      ...each(3, "q15", (w) => hoursFromClicks(read, w, v())),
    ],
    sameBucket(2, 3),
    sameBucket(0, 2),
    ...coarserRounds(read, cube, each, [
      ["hour", "day"],
      ["day", "month"],
    ]),
  ];
}

/**
 * Overwrites every clicks cube key of the given campaigns and hours (and the days and months holding them) with
 * totals rebuilt from clicks_by_hour_v1: never increments, so replays and concurrent rebuilds leave the same totals.
 * On a cluster it still skips a replica lagging by a second or more (`REBUILD_REPLICA_SETTINGS`, the known gap).
 */
export function rebuildClickAggregates(ch: Querier & Partial<ClusterTarget>) {
  const run = roundRunner(ch, REBUILD_REPLICA_SETTINGS);
  return (scope: AggregateScope): Promise<void> =>
    run("rebuild_clicks_cube", (read) => clickRebuildRounds(scope, read));
}
