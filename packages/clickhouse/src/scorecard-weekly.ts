import { z } from "zod";
import { CLICKS_TABLE } from "./clicks";
import type { Querier } from "./client";
import { Int64Text } from "./int64";
import { CONVERSIONS_TABLE } from "./ledger";
import type { ClickCells, ConversionCells, ScoreCells, ScoreDim } from "./scorecards";
import { ident, join, raw, type Sql, sql } from "./sql";

/**
 * Weekly pre-aggregates of clicks and credited sales (schema/007, docs/adr/0007). Exact: a month's rows are rebuilt
 * from the raw tables (FINAL) whenever the month's source partitions changed, and readers take only the latest
 * recorded build of each month. Serves rankings, whose periods are whole UTC weeks; scorecards of any period read the
 * raw tables.
 */
export const WEEKLY_TABLE = "scorecard_weekly_v1";
export const BUILDS_TABLE = "scorecard_builds_v1";

/** Source months (YYYYMM) overlapping [fromMs, toMs). */
export function monthsOf(fromMs: number, toMs: number): number[] {
  const out: number[] = [];
  const d = new Date(fromMs);
  let y = d.getUTCFullYear();
  let m = d.getUTCMonth();
  while (Date.UTC(y, m, 1) < toMs) {
    out.push(y * 100 + m + 1);
    m++;
    if (m === 12) {
      m = 0;
      y++;
    }
  }
  return out;
}

const PartRow = z.object({ partition_id: z.string(), name: z.string() });
const BuildRow = z.object({ month: z.number().int(), fingerprint: z.string() });

function inList(values: readonly (string | number)[]): Sql {
  return values.length === 0
    ? raw("(NULL)")
    : sql`(${join(
        values.map((v) => sql`${v}`),
        ", ",
      )})`;
}

/** Where the source tables' parts are listed: this server, or one replica of every shard of the cluster. */
export type PartsSource = { cluster?: string | undefined; database?: string | undefined };

/** The query listing the active parts of both source tables in the given months (exported for the SQL shape checks). */
export function sourcePartsSql(months: readonly number[], at: PartsSource = {}): Sql {
  const local = (t: string) => (at.cluster ? `${t}_local` : t);
  const from = at.cluster ? sql`cluster(${at.cluster}, system, parts)` : raw("system.parts");
  const db = at.cluster ? sql`${at.database ?? ""}` : raw("currentDatabase()");
  return sql`SELECT partition_id, concat(table, '/', name) AS name FROM ${from}
      WHERE database = ${db} AND active AND table IN ${inList([local(CLICKS_TABLE), local(CONVERSIONS_TABLE)])}
        AND partition_id IN ${inList(months.map(String))}`;
}

/** The statement dropping a month's older builds: on a cluster, from every server's local table. */
export function dropOldBuildsSql(month: number, build: number, at: PartsSource = {}): Sql {
  const where = sql`DELETE WHERE month = ${month} AND build < ${build}`;
  return at.cluster
    ? sql`ALTER TABLE ${ident(at.database ?? "")}.${ident(`${WEEKLY_TABLE}_local`)} ON CLUSTER ${ident(at.cluster)} ${where}`
    : sql`ALTER TABLE ${ident(WEEKLY_TABLE)} ${where}`;
}

/**
 * Per month: the active part names of both source tables, sorted (the exact change detector). On a cluster the
 * parts are listed on one replica of each shard (replicas of a shard share part names); a replica that lags behind
 * shows the change later, so a refresh may rebuild a month one refresh late, as its reads would be anyway.
 */
async function fingerprints(ch: Querier, months: readonly number[], at: PartsSource): Promise<Map<number, string>> {
  const rows = await ch.query("scorecard_weekly_parts", sourcePartsSql(months, at), PartRow);
  const by = new Map<number, string[]>();
  for (const r of rows) by.set(Number(r.partition_id), [...(by.get(Number(r.partition_id)) ?? []), r.name]);
  return new Map(months.map((m) => [m, (by.get(m) ?? []).sort().join(",")]));
}

/** The INSERT ... SELECT that builds one source month (exported for the SQL shape checks). */
export function weeklyBuildSql(month: number, build: number): Sql {
  const zero = raw("toUInt64(0)");
  return sql`INSERT INTO ${ident(WEEKLY_TABLE)}
    SELECT toUInt32(${month}), toUInt64(${build}), week, merchant_id, campaign_id, influencer_id,
      sum(clicks), sum(bot_clicks), sum(unique_clicks), sum(conversions), sum(click_conversions), sum(suspect),
      sum(pending), sum(approved), sum(rejected), sum(refunded)
    FROM (
      SELECT toMonday(clicked_at) AS week, merchant_id, campaign_id, influencer_id, count() AS clicks,
        countIf(is_bot = 1) AS bot_clicks,
        uniqExactIf(link_id, ip, user_agent, toStartOfHour(clicked_at), is_bot = 0) AS unique_clicks,
        ${zero} AS conversions, ${zero} AS click_conversions, ${zero} AS suspect, ${zero} AS pending,
        ${zero} AS approved, ${zero} AS rejected, ${zero} AS refunded
      FROM ${ident(CLICKS_TABLE)} FINAL
      WHERE toYYYYMM(clicked_at) = ${month} AND campaign_id > 0
      GROUP BY week, merchant_id, campaign_id, influencer_id
      UNION ALL
      SELECT toMonday(occurred_at) AS week, merchant_id, campaign_id, influencer_id, ${zero} AS clicks,
        ${zero} AS bot_clicks, ${zero} AS unique_clicks, count() AS conversions,
        countIf(attribution = 'click') AS click_conversions, countIf(suspect = 1) AS suspect,
        countIf(status = 'pending') AS pending, countIf(status = 'approved') AS approved,
        countIf(status = 'rejected') AS rejected, countIf(status = 'refunded') AS refunded
      FROM ${ident(CONVERSIONS_TABLE)} FINAL
      WHERE toYYYYMM(occurred_at) = ${month} AND campaign_id > 0 AND attribution IN ('click', 'coupon')
      GROUP BY week, merchant_id, campaign_id, influencer_id
    )
    GROUP BY week, merchant_id, campaign_id, influencer_id`;
}

/**
 * Rebuilds every month of the list whose source partitions changed since its last recorded build. Builds of one
 * process are serialised; two processes building the same month both write complete builds, and the later one wins.
 */
export function scorecardWeekly(ch: Querier & PartsSource) {
  const at: PartsSource = { cluster: ch.cluster, database: ch.database };
  let tail: Promise<unknown> = Promise.resolve();
  const refresh = async (months: readonly number[]): Promise<number[]> => {
    const [now, stored] = await Promise.all([
      fingerprints(ch, months, at),
      ch.query(
        "scorecard_weekly_builds",
        sql`SELECT month, argMax(fingerprint, build) AS fingerprint FROM ${ident(BUILDS_TABLE)}
          WHERE month IN ${inList([...months])} GROUP BY month`,
        BuildRow,
      ),
    ]);
    const known = new Map(stored.map((b) => [b.month, b.fingerprint]));
    const stale = months.filter((m) => (known.get(m) ?? "") !== now.get(m));
    for (const month of stale) {
      const build = Date.now() * 1000;
      await ch.exec("scorecard_weekly_build", weeklyBuildSql(month, build));
      await ch.exec(
        "scorecard_weekly_record",
        sql`INSERT INTO ${ident(BUILDS_TABLE)} (month, build, fingerprint) VALUES (${month}, ${build}, ${now.get(month) ?? ""})`,
      );
      await ch.exec("scorecard_weekly_drop_old", dropOldBuildsSql(month, build, at));
    }
    return stale;
  };
  return {
    /** Brings the months up to date; resolves with the months rebuilt. */
    refresh(months: readonly number[]): Promise<number[]> {
      const run = tail.then(
        () => refresh(months),
        () => refresh(months),
      );
      tail = run.catch(() => undefined);
      return run;
    },
  };
}

export type WeeklyFilter = {
  /** Mondays (UTC): [fromWeekMs, toWeekMs) */
  fromWeekMs: number;
  toWeekMs: number;
  influencerIds?: readonly number[];
  campaignIds?: readonly number[];
  ownMerchantId?: number;
  dims: readonly Extract<ScoreDim, "influencer" | "campaign" | "own" | "week">[];
};

const WeeklyCells = z.object({
  d_influencer: z.number().int().optional(),
  d_campaign: z.number().int().optional(),
  d_own: z.number().int().optional(),
  d_week: z.string().optional(),
  clicks: Int64Text,
  bot_clicks: Int64Text,
  unique_clicks: Int64Text,
  conversions: Int64Text,
  click_conversions: Int64Text,
  suspect: Int64Text,
  pending: Int64Text,
  approved: Int64Text,
  rejected: Int64Text,
  refunded: Int64Text,
  weeks: z.array(z.string()),
  merchants: z.array(z.number().int()),
});

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

export function weeklyCellsSql(f: WeeklyFilter): Sql {
  const dim = (d: WeeklyFilter["dims"][number]) =>
    d === "own"
      ? sql`toUInt8(merchant_id = ${f.ownMerchantId ?? 0}) AS d_own`
      : d === "week"
        ? raw("toString(week) AS d_week")
        : d === "influencer"
          ? raw("influencer_id AS d_influencer")
          : raw("campaign_id AS d_campaign");
  const months = monthsOf(f.fromWeekMs - 7 * 86_400_000, f.toWeekMs);
  const parts = [
    sql`(month, build) IN (SELECT month, max(build) FROM ${ident(BUILDS_TABLE)} WHERE month IN ${inList(months)} GROUP BY month)`,
    sql`week >= toDate(${day(f.fromWeekMs)})`,
    sql`week < toDate(${day(f.toWeekMs)})`,
  ];
  if (f.influencerIds) parts.push(sql`influencer_id IN ${inList(f.influencerIds.length ? f.influencerIds : [0])}`);
  if (f.campaignIds) parts.push(sql`campaign_id IN ${inList(f.campaignIds.length ? f.campaignIds : [0])}`);
  const select = f.dims.length ? sql`${join(f.dims.map(dim), ", ")}, ` : raw("");
  const group = f.dims.length
    ? sql` GROUP BY ${join(
        f.dims.map((d) => raw(`d_${d}`)),
        ", ",
      )}`
    : raw("");
  return sql`SELECT ${select}sum(clicks) AS clicks, sum(bot_clicks) AS bot_clicks, sum(unique_clicks) AS unique_clicks,
      sum(conversions) AS conversions, sum(click_conversions) AS click_conversions, sum(suspect) AS suspect,
      sum(pending) AS pending, sum(approved) AS approved, sum(rejected) AS rejected, sum(refunded) AS refunded,
      arrayMap(w -> toString(w), groupUniqArrayIf(week, active = 1)) AS weeks,
      groupUniqArray(merchant_id) AS merchants
    FROM (
      SELECT week, merchant_id, campaign_id, influencer_id, clicks, bot_clicks, unique_clicks, conversions,
        click_conversions, suspect, pending, approved, rejected, refunded,
        toUInt8(clicks > bot_clicks OR conversions > 0) AS active
      FROM ${ident(WEEKLY_TABLE)}
      WHERE ${join(parts, " AND ")}
    )${group}`;
}

/**
 * Click and sale cells from the weekly pre-aggregate, in the raw queries' shape (money stays empty: EPC reads the
 * ledger). One row carries both sets of figures, so it feeds both lists.
 */
export async function getWeeklyCells(ch: Querier, f: WeeklyFilter): Promise<ScoreCells> {
  const rows = await ch.query("scorecard_weekly", weeklyCellsSql(f), WeeklyCells);
  const clicks: ClickCells[] = rows;
  const conversions: ConversionCells[] = rows;
  return { clicks, conversions, money: [] };
}
