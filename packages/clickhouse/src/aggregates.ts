import type { Inserter, Querier } from "./client";
import {
  type ClusterTarget,
  DISTRIBUTED_FINAL,
  EVERY_REPLICA_SETTINGS,
  everyReplicaFinal,
  everyReplicaRunner,
  type FinalRead,
} from "./cluster";
import { HOURLY_TABLE, IN_CHUNK, inList, LEDGER_TABLE, type LedgerRow } from "./ledger";
import { ident, join, raw, type Sql, sql } from "./sql";

/** Exact pre-aggregates of the ledger (schema/009, docs/adr/0006): one table, four time grains, three levels. */
export const CUBE_TABLE = "commission_cube_v2";
/** Approved ledger entries ordered by payable_at (schema/006). */
export const APPROVED_TABLE = "approved_ledger_v1";

/** UTC bucket widths of the cube, finest first. */
export const GRAINS = ["q15", "hour", "day", "month"] as const;
export type Grain = (typeof GRAINS)[number];
export const GRAIN_ID: Record<Grain, number> = { q15: 0, hour: 1, day: 2, month: 3 };

/** Which ids a cube row keeps: all three, merchant and campaign, or none. */
export type Level = 0 | 2 | 3;
export const LEVELS: readonly Level[] = [3, 2, 0];

/** What one rebuild covers: every key of these campaigns (every campaign when absent) in these UTC hours. */
export type AggregateScope = { campaigns?: readonly number[]; hourStartsSec: readonly number[] };

export const HOUR_S = 3600;
const DAY_S = 86_400;

/** Versions are microseconds of the wall clock, strictly increasing within the process. */
let lastVersion = 0;
export function nextVersion(): number {
  lastVersion = Math.max(Math.floor((performance.timeOrigin + performance.now()) * 1000), lastVersion + 1);
  return lastVersion;
}

const monthStartSec = (sec: number): number => {
  const d = new Date(sec * 1000);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1) / 1000;
};
const nextMonthSec = (sec: number): number => {
  const d = new Date(sec * 1000);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) / 1000;
};

/** Start and end (exclusive) of the UTC bucket of `grain` holding `sec`. */
export function bucketOf(grain: Grain, sec: number): { start: number; end: number } {
  switch (grain) {
    case "q15":
      return { start: sec - (sec % 900), end: sec - (sec % 900) + 900 };
    case "hour":
      return { start: sec - (sec % HOUR_S), end: sec - (sec % HOUR_S) + HOUR_S };
    case "day":
      return { start: sec - (sec % DAY_S), end: sec - (sec % DAY_S) + DAY_S };
    case "month":
      return { start: monthStartSec(sec), end: nextMonthSec(sec) };
  }
}

const ids = (level: Level): Sql =>
  raw(
    level === 3
      ? "merchant_id AS m, campaign_id AS c, influencer_id AS i"
      : level === 2
        ? "merchant_id AS m, campaign_id AS c, toUInt32(0) AS i"
        : "toUInt32(0) AS m, toUInt32(0) AS c, toUInt32(0) AS i",
  );

const KEY_COLUMNS = raw("bucket, merchant_id, campaign_id, influencer_id, commission_currency, status");

/** The cube's rows at 15 minutes and level 3, summed from the ledger (FINAL) for the given campaigns and hours. */
function fromLedger(read: FinalRead, scope: Sql, version: number): Sql {
  return sql`INSERT INTO ${ident(CUBE_TABLE)}
    SELECT toUInt8(3) AS level, toUInt8(0) AS grain, toStartOfFifteenMinutes(event_time) AS bucket,
      merchant_id, campaign_id, influencer_id, commission_currency, status,
      sum(commission_minor), sum(order_amount_minor), sumIf(order_amount_minor, status IN ('pending', 'review', 'approved')),
      countIf(entry_type = 'sale') AS sales,
      if(sales > 0, toString(minIf(order_currency, entry_type = 'sale')), '') ,
      if(sales > 0, toString(maxIf(order_currency, entry_type = 'sale')), ''),
      count(), toUInt64(${version})
    FROM ${read(LEDGER_TABLE, scope)}
    GROUP BY ${KEY_COLUMNS}`;
}

/** What differs between cubes: the table, its key columns after the ids, and how its value columns add up. */
export type CubeSpec = { table: string; dims: Sql; values: Sql; sums: (grain: Grain) => Sql };

export const COMMISSION_CUBE: CubeSpec = {
  table: CUBE_TABLE,
  dims: raw("commission_currency, status"),
  values: raw(
    "commission_minor, order_amount_minor, revenue_minor, sales, order_currency_min, order_currency_max, entries",
  ),
  sums: () =>
    raw(`sum(commission_minor), sum(order_amount_minor), sum(revenue_minor), sum(sales),
      minIf(order_currency_min, order_currency_min != ''), max(order_currency_max), sum(entries)`),
};

/** Rows of `level` at `grain`, summed from cube rows (FINAL) of a finer grain or level. */
export function fromCube(
  read: FinalRead,
  cube: CubeSpec,
  to: { level: Level; grain: Grain; bucket: Sql },
  from: { level: Level; grain: Grain },
  scope: Sql,
  version: number,
): Sql {
  // New keys get new names (b, m, c, i): an alias equal to a column name would replace that column in WHERE.
  const dims = cube.dims.text === "" ? raw("") : sql`, ${cube.dims}`;
  return sql`INSERT INTO ${ident(cube.table)}
    SELECT toUInt8(${to.level}), toUInt8(${GRAIN_ID[to.grain]}), b, m, c, i${dims}, ${cube.sums(to.grain)}, toUInt64(${version})
    FROM (
      SELECT ${to.bucket} AS b, ${ids(to.level)}${dims}, ${cube.values}
      FROM ${read(cube.table, sql`level = ${from.level} AND grain = ${GRAIN_ID[from.grain]} AND ${scope}`)}
    )
    GROUP BY b, m, c, i${dims}`;
}

/** Bucket expression of the next coarser grain, from a source bucket column. */
export const COARSER: Record<Exclude<Grain, "q15">, Sql> = {
  hour: raw("toStartOfHour(bucket, 'UTC')"),
  day: raw("toStartOfDay(bucket, 'UTC')"),
  month: raw("bucket - (toDayOfMonth(bucket, 'UTC') - 1) * 86400"),
};

/** Condition selecting the source rows of target buckets: `column` in the buckets of `grain`. */
export function bucketCondition(column: string, grain: Grain, starts: readonly number[]): Sql {
  const c = ident(column);
  const lo = Math.min(...starts);
  const hi = Math.max(...starts.map((s) => bucketOf(grain, s).end));
  const range = sql`${c} >= toDateTime(${lo}, 'UTC') AND ${c} < toDateTime(${hi}, 'UTC')`;
  const keys =
    grain === "month"
      ? sql`toYYYYMM(${c}, 'UTC') IN ${inList(starts.map((s) => Number(new Date(s * 1000).toISOString().slice(0, 7).replace("-", ""))))}`
      : grain === "day"
        ? sql`toUInt32(toStartOfDay(${c}, 'UTC')) IN ${inList([...starts])}`
        : sql`toUInt32(toStartOfHour(${c}, 'UTC')) IN ${inList([...starts])}`;
  return sql`${range} AND ${keys}`;
}

const unique = (xs: Iterable<number>) => [...new Set(xs)].sort((a, b) => a - b);

function chunks<T>(xs: readonly T[], size = IN_CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size));
  return out.length > 0 ? out : [[]];
}

/** Builds one statement per chunk of target buckets and of campaigns (level 0 spans every campaign). */
export type EachChunk = (level: Level, grain: Grain, build: (where: Sql) => Sql) => Sql[];

/**
 * The target buckets of every grain holding the scope's hours, as a statement builder; undefined when the scope is
 * empty. Rows at 15 minutes and level 3 are rebuilt whole hours at a time from `sourceTime` (a time column of the
 * source table), so they are selected by hour; every other statement selects cube rows by `bucket`.
 */
export function scopedChunks(scope: AggregateScope, sourceTime: string): EachChunk | undefined {
  const hours = unique(scope.hourStartsSec.map((h) => h - (h % HOUR_S)));
  if (hours.length === 0 || scope.campaigns?.length === 0) return undefined;
  const starts: Record<Grain, number[]> = {
    q15: hours,
    hour: hours,
    day: unique(hours.map((h) => bucketOf("day", h).start)),
    month: unique(hours.map((h) => bucketOf("month", h).start)),
  };
  const campaignChunks = scope.campaigns ? chunks(unique(scope.campaigns)) : [undefined];
  return (level, grain, build) =>
    chunks(starts[grain]).flatMap((bucketChunk) =>
      (level === 0 ? [undefined] : campaignChunks).map((campaigns) => {
        const column = level === 3 && grain === "q15" ? sourceTime : "bucket";
        const parts = [bucketCondition(column, grain === "q15" ? "hour" : grain, bucketChunk)];
        if (campaigns) parts.push(sql`campaign_id IN ${inList(campaigns)}`);
        return build(join(parts, " AND "));
      }),
    );
}

/** Rounds that sum every coarser grain from the next finer one, at every level. */
export function coarserRounds(
  read: FinalRead,
  cube: CubeSpec,
  each: EachChunk,
  grains: readonly (readonly [Grain, Grain])[],
): Round[] {
  return grains.map(
    ([finer, grain]) =>
      (v: () => number) =>
        LEVELS.flatMap((level) =>
          each(level, grain, (w) =>
            fromCube(
              read,
              cube,
              { level, grain, bucket: COARSER[grain as Exclude<Grain, "q15">] },
              { level, grain: finer },
              w,
              v(),
            ),
          ),
        ),
  );
}

/** One round of a rebuild: its statements, each with a version read just before it is built. */
export type Round = (version: () => number) => Sql[];

/** The statements of one rebuild, in dependency order: each round runs after the previous one was acknowledged. */
export function rebuildRounds(scope: AggregateScope, read: FinalRead = DISTRIBUTED_FINAL): Round[] {
  const each = scopedChunks(scope, "event_time");
  if (!each) return [];
  const cube = COMMISSION_CUBE;
  return [
    (v) => each(3, "q15", (w) => fromLedger(read, w, v())),
    (v) =>
      each(2, "q15", (w) =>
        fromCube(read, cube, { level: 2, grain: "q15", bucket: raw("bucket") }, { level: 3, grain: "q15" }, w, v()),
      ),
    (v) =>
      each(0, "q15", (w) =>
        fromCube(read, cube, { level: 0, grain: "q15", bucket: raw("bucket") }, { level: 2, grain: "q15" }, w, v()),
      ),
    ...coarserRounds(read, cube, each, [
      ["q15", "hour"],
      ["hour", "day"],
      ["day", "month"],
    ]),
    (v) => each(3, "hour", (w) => hourlyFromCube(read, w, v())),
  ];
}

/**
 * Runs a rebuild's rounds in order, each statement of a round in parallel, with versions read just before each
 * statement. On a cluster every round reads every replica (`everyReplicaFinal`), so a round sees what the previous
 * one wrote whichever replica took it; a round whose first server is down runs again on the rotated list (a rebuild
 * overwrites, so running a round twice changes nothing). `settings` end each statement on a cluster: whether a
 * lagging replica is read too (`EVERY_REPLICA_SETTINGS`) or skipped (`REBUILD_REPLICA_SETTINGS`).
 */
export function roundRunner(ch: Querier & Partial<ClusterTarget>, settings: Sql) {
  const { cluster, database } = ch;
  if (!cluster || !database)
    return async (name: string, rounds: (read: FinalRead) => Round[]) => {
      for (const round of rounds(DISTRIBUTED_FINAL)) await Promise.all(round(nextVersion).map((s) => ch.exec(name, s)));
    };
  const onReplicas = everyReplicaRunner(ch, cluster);
  return async (name: string, rounds: (read: FinalRead) => Round[]) => {
    const count = rounds(DISTRIBUTED_FINAL).length;
    for (let i = 0; i < count; i++)
      await onReplicas((servers) => {
        const round = rounds(everyReplicaFinal(servers, database))[i] ?? (() => []);
        return Promise.all(round(nextVersion).map((s) => ch.exec(name, sql`${s} ${settings}`)));
      });
  };
}

/** The legacy hourly table (schema/004), now summed from the cube's hourly rows instead of a second ledger read. */
function hourlyFromCube(read: FinalRead, scope: Sql, version: number): Sql {
  return sql`INSERT INTO ${ident(HOURLY_TABLE)}
    SELECT bucket AS hour, merchant_id, campaign_id, influencer_id, status, commission_currency,
      sum(commission_minor), sum(order_amount_minor), sum(entries), sum(sales), toUInt64(${Math.floor(version / 1000)})
    FROM ${read(CUBE_TABLE, sql`level = 3 AND grain = 1 AND ${scope}`)}
    GROUP BY hour, merchant_id, campaign_id, influencer_id, status, commission_currency`;
}

/**
 * Overwrites every cube key of the given campaigns and hours (and the days and months holding them) with totals
 * rebuilt from the ledger. Never increments: running it twice, after a replay or beside another writer, leaves the
 * same totals. Each statement's version is taken after the rows it reads were acknowledged and before it reads, so
 * the row that wins a key (highest version) is the one that read last and saw every write before it. On a cluster it
 * reads every replica that answers, lagging ones included: these totals are the finance reports' figures.
 */
export function rebuildAggregates(ch: Querier & Partial<ClusterTarget>) {
  const run = roundRunner(ch, EVERY_REPLICA_SETTINGS);
  return (scope: AggregateScope): Promise<void> => run("rebuild_commission_cube", (read) => rebuildRounds(scope, read));
}

/** The approved entries among ledger rows, for approved_ledger_v1 (identical rows on a replay). */
export function approvedRows(rows: readonly LedgerRow[]) {
  return rows
    .filter((r) => r.status === "approved")
    .map((r) => ({
      entry_id: r.entry_id,
      merchant_id: r.merchant_id,
      campaign_id: r.campaign_id,
      influencer_id: r.influencer_id,
      entry_type: r.entry_type,
      order_amount_minor: r.order_amount_minor,
      order_currency: r.order_currency,
      commission_minor: r.commission_minor,
      commission_currency: r.commission_currency,
      event_time: r.event_time,
      payable_at: r.payable_at,
      version: r.version,
    }));
}

export function insertApprovedEntries(ch: Inserter) {
  return (rows: readonly LedgerRow[]) => ch.insert("insert_approved_entries", APPROVED_TABLE, approvedRows(rows));
}

/** Copies the approved entries of a period from the ledger (FINAL): the rebuild's counterpart of the worker's insert. */
export function copyApprovedEntries(ch: Querier) {
  return (fromSec: number, toSec: number) =>
    ch.exec(
      "copy_approved_entries",
      sql`INSERT INTO ${ident(APPROVED_TABLE)}
        SELECT entry_id, merchant_id, campaign_id, influencer_id, entry_type, order_amount_minor, order_currency,
          commission_minor, commission_currency, event_time, payable_at, version
        FROM ${ident(LEDGER_TABLE)} FINAL
        WHERE status = 'approved' AND event_time >= toDateTime(${fromSec}, 'UTC') AND event_time < toDateTime(${toSec}, 'UTC')`,
    );
}
