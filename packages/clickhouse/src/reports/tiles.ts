import { zonedTimeToUtcMs } from "@aff/common";
import { bucketOf, GRAIN_ID, type Grain } from "../aggregates";
import { join, raw, type Sql, sql } from "../sql";
import type { GroupBy } from "./filter";

/** A run of consecutive buckets of one grain, [fromSec, toSec). */
export type Tile = { grain: Grain; fromSec: number; toSec: number };

const COARSEST_FIRST: readonly Grain[] = ["month", "day", "hour", "q15"];
const DAY_MS = 86_400_000;

/**
 * The starts of the report's groups inside (fromMs, toMs): local midnights (day), local Monday midnights (week) or
 * local first-of-month midnights (month) in `timeZone`; none for entity groupings.
 */
export function groupStartsSec(groupBy: GroupBy, timeZone: string, fromMs: number, toMs: number): number[] {
  if (groupBy !== "day" && groupBy !== "week" && groupBy !== "month") return [];
  const out: number[] = [];
  // local calendar dates from a day before the period to a day after it (offsets are under a day)
  for (let d = Math.floor(fromMs / DAY_MS) * DAY_MS - DAY_MS; d <= toMs + DAY_MS; d += DAY_MS) {
    const date = new Date(d);
    if (groupBy === "week" && date.getUTCDay() !== 1) continue;
    if (groupBy === "month" && date.getUTCDate() !== 1) continue;
    const at = zonedTimeToUtcMs(d, timeZone);
    if (at > fromMs && at < toMs) out.push(at / 1000);
  }
  return out;
}

/**
 * The cube buckets that tile [fromMs, toMs) exactly: cut the period at every group start, then cover each piece
 * greedily with the coarsest UTC bucket that starts where the previous one ended and ends inside the piece. Every
 * instant lies in exactly one bucket and every bucket in one group. Adjacent buckets of one grain are merged, so a
 * year by day in Berlin is one run of hours. planReport() has checked that every cut falls on a quarter hour.
 */
export function tilePeriod(groupBy: GroupBy, timeZone: string, fromMs: number, toMs: number): Tile[] {
  const cuts = [fromMs / 1000, ...groupStartsSec(groupBy, timeZone, fromMs, toMs), toMs / 1000];
  const tiles: Tile[] = [];
  for (let p = 0; p + 1 < cuts.length; p++) {
    const end = cuts[p + 1] ?? 0;
    for (let t = cuts[p] ?? 0; t < end; ) {
      const grain = COARSEST_FIRST.find((g) => {
        const b = bucketOf(g, t);
        return b.start === t && b.end <= end;
      });
      if (grain === undefined) throw new Error(`period cut off a quarter hour at ${t}`);
      const next = bucketOf(grain, t).end;
      const last = tiles[tiles.length - 1];
      if (last && last.grain === grain && last.toSec === t) last.toSec = next;
      else tiles.push({ grain, fromSec: t, toSec: next });
      t = next;
    }
  }
  return tiles;
}

/** WHERE condition selecting the cube rows of the tiles: ranges of the primary key (grain, bucket). */
export function tilesWhere(tiles: readonly Tile[]): Sql {
  if (tiles.length === 0) return raw("0");
  return join(
    tiles.map(
      (t) =>
        sql`(grain = ${GRAIN_ID[t.grain]} AND bucket >= toDateTime(${t.fromSec}, 'UTC') AND bucket < toDateTime(${t.toSec}, 'UTC'))`,
    ),
    " OR ",
  );
}
