import { errorMessage } from "@aff/common";
import type { ClickHouseSettings } from "@clickhouse/client";
import { z } from "zod";
import type { Querier } from "./client";
import { ident, raw, type Sql, sql } from "./sql";

/**
 * The replicated and sharded form of our schema (docs/adr/0008-cluster-profile.md). With `CLICKHOUSE_CLUSTER` set,
 * each `CREATE TABLE name` of schema/*.sql becomes, ON CLUSTER:
 * - `name_local`: the same columns and keys on `Replicated…MergeTree`, one ZooKeeper path per shard, one replica
 *   per server (`{shard}` and `{replica}` are each server's macros);
 * - `name`: a `Distributed` table over them, so every query and insert keeps using the names it uses today.
 */

/**
 * How rows are spread over shards. `FINAL` merges only within a shard, so every row that FINAL must collapse has to
 * land on one shard: the sharding key is a function of each table's ORDER BY key (conversions' rows by conversion,
 * so a conversion's events, state and entries share a shard; clicks by click id; aggregates by their whole key).
 */
export const SHARDING_KEYS: Readonly<Record<string, string>> = {
  clicks_raw_v1: "cityHash64(click_id)",
  conversions_v1: "cityHash64(conversion_id)",
  commission_ledger_v1: "cityHash64(conversion_id)",
  conversion_events_v1: "cityHash64(conversion_id)",
  approved_ledger_v1: "cityHash64(entry_id)",
  commission_hourly_v1: "cityHash64(hour, merchant_id, campaign_id, influencer_id, status, commission_currency)",
  commission_cube_v1:
    "cityHash64(level, grain, bucket, merchant_id, campaign_id, influencer_id, commission_currency, status, payable_day)",
  // scorecards (ADR 0007): rows of one build of one month are read together; builds are keyed by month
  scorecard_weekly_v1: "cityHash64(month)",
  scorecard_builds_v1: "cityHash64(month)",
  // the reports' pre-aggregates (ADR 0006): by their whole ORDER BY key
  clicks_by_hour_v1: "cityHash64(hour, campaign_id, click_id)",
  clicks_cube_v1: "cityHash64(level, grain, bucket, merchant_id, campaign_id, influencer_id)",
  commission_cube_v2:
    "cityHash64(level, grain, bucket, merchant_id, campaign_id, influencer_id, commission_currency, status)",
  // finance (issue 12): a conversion's flags with its other rows; outcomes by event; payout runs by run
  conversion_flags_v1: "cityHash64(conversion_id)",
  conversion_outcomes_v1: "cityHash64(merchant_id, received_at, event_id, seq)",
  payout_runs_v1: "cityHash64(run_id)",
  payout_lines_v1: "cityHash64(run_id)",
  payout_line_paid_v1: "cityHash64(run_id)",
};

export type ClusterTarget = { cluster: string; database: string };

const CREATE_TABLE = /^CREATE TABLE IF NOT EXISTS (\w+) \(([\s\S]+)\)\s*ENGINE = (\w*MergeTree)\(([^)]*)\)([\s\S]*)$/;
/** ClickHouse 18.16 refuses a replicated table whose columns carry comments ("structure in ZooKeeper is too different"). */
const COLUMN_COMMENT = / COMMENT '(?:[^'\\]|\\.)*'/g;

const local = (table: string) => `${table}_local`;
const zkPath = (t: ClusterTarget, shard: string, table: string) =>
  `'/clickhouse/tables/${shard}/${t.database}/${local(table)}'`;

/** The ON CLUSTER statements replacing one schema statement; anything but a MergeTree CREATE TABLE is refused. */
export function clusterStatements(statement: string, t: ClusterTarget): Sql[] {
  const m = CREATE_TABLE.exec(statement.trim());
  if (!m) throw new Error(`cannot run on a cluster (only CREATE TABLE IF NOT EXISTS … MergeTree): ${statement}`);
  const [, table = "", columns = "", engine = "", args = "", rest = ""] = m;
  const key = SHARDING_KEYS[table];
  if (!key) throw new Error(`table ${table} has no sharding key in SHARDING_KEYS (packages/clickhouse/src/cluster.ts)`);
  const db = ident(t.database).text;
  const on = `ON CLUSTER ${ident(t.cluster).text}`;
  const engineArgs = [zkPath(t, "{shard}", table), "'{replica}'", ...(args.trim() ? [args.trim()] : [])].join(", ");
  return [
    raw(
      `CREATE TABLE IF NOT EXISTS ${db}.${ident(local(table)).text} ${on} (${columns.replace(COLUMN_COMMENT, "")}) ENGINE = Replicated${engine}(${engineArgs})${rest}`,
    ),
    raw(
      `CREATE TABLE IF NOT EXISTS ${db}.${ident(table).text} ${on} AS ${db}.${ident(local(table)).text} ENGINE = Distributed(${ident(t.cluster).text}, ${db}, ${ident(local(table)).text}, ${key})`,
    ),
  ];
}

/** The migration record: one replicated table (one ZooKeeper path for every server), not sharded. */
export function clusterMigrationsTable(t: ClusterTarget): Sql {
  const db = ident(t.database).text;
  return raw(
    `CREATE TABLE IF NOT EXISTS ${db}.schema_migrations_v1 ON CLUSTER ${ident(t.cluster).text} (name String, applied_at DateTime('UTC')) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/${t.database}/schema_migrations_v1', '{replica}') ORDER BY name`,
  );
}

/**
 * Session settings every query needs on the cluster (sent by the client, so they hold whatever the server profile):
 * inserts return once each shard has its rows, and a retried insert is written again; reads and writes prefer the same (first live, caught-up) replica; an
 * IN subquery over a Distributed table runs once, globally. Not `insert_quorum`: ClickHouse 18.16 runs one quorum
 * insert per table at a time ("Another quorum insert has been already started"), and the workers' concurrent
 * batches livelocked on it in the chaos test (docs/adr/0008, known limit: a replica returning from an outage).
 */
export const CLUSTER_SETTINGS: ClickHouseSettings = {
  insert_distributed_sync: 1,
  // a retried insert is stored again: replicated tables would otherwise drop it as a copy of the failed attempt's
  // block, which a replica stopped mid-insert had registered in ZooKeeper and never kept (docs/adr/0008); our rows
  // replace their copies (FINAL, dedup by id), as on a replay
  insert_deduplicate: 0,
  prefer_localhost_replica: 0,
  load_balancing: "in_order",
  max_replica_delay_for_distributed_queries: "1",
  fallback_to_stale_replicas_for_distributed_queries: 1,
  distributed_product_mode: "global",
};

/** Every server of the cluster as a `remote()` address (`host:tcp_port`, the host as configured: ClickHouse names it so in its errors). */
export async function clusterServers(ch: Querier, cluster: string): Promise<string[]> {
  const rows = await ch.query(
    "cluster_servers",
    sql`SELECT host_name, toUInt32(port) AS port FROM system.clusters WHERE cluster = ${cluster} ORDER BY shard_num, replica_num`,
    z.object({ host_name: z.string(), port: z.number().int() }),
  );
  if (rows.length === 0) throw new Error(`cluster ${cluster} is not in system.clusters`);
  return rows.map((r) => `${r.host_name}:${r.port}`);
}

/**
 * `table`'s local table on every server, each as a shard of its own, so a read sees every row that any replica holds.
 * A Distributed read takes one replica per shard, and on 18.16 that replica may not have fetched yet what an insert
 * wrote to the other one (docs/adr/0008, read-your-writes); every acknowledged insert is on at least one replica, so
 * the union of both has it. Rows come once per replica holding them (callers dedupe); a server that is down is
 * skipped (append `EVERY_REPLICA_SETTINGS`), as the writes of its outage went to its peer.
 */
export function everyReplica(servers: readonly string[], database: string, table: string): Sql {
  return sql`remote(${servers.join(",")}, ${ident(database)}, ${ident(local(table))})`;
}

/**
 * With `skip_unavailable_shards`, ClickHouse also skips a server it finds stale: one whose replica lags its peer by
 * `max_replica_delay_for_distributed_queries` or more (CLUSTER_SETTINGS: 1 s). Each server here is a shard of its
 * own, so nothing falls back to its peer: the lagging replica, often the very one that alone holds a row, was dropped
 * from the read without an error. 0 turns that check off: every server that answers is read.
 */
export const EVERY_REPLICA_SETTINGS = raw(
  "SETTINGS skip_unavailable_shards = 1, max_replica_delay_for_distributed_queries = 0",
);

/**
 * The clicks-cube rebuild's reads keep the staleness check (a known gap, docs/adr/0008): a server lagging by a second
 * or more is still skipped. Reading every lagging replica made each clicks-cube rebuild re-read its hour in full,
 * and under the cluster chaos test's load the host could no longer keep up (redirects refused, clicks lost at a
 * SIGKILL). A rebuild that reads less must come first; until then a later rebuild of the same keys corrects them.
 * The commission cube's rebuild, the finance reports' figures, reads with `EVERY_REPLICA_SETTINGS`.
 */
export const REBUILD_REPLICA_SETTINGS = raw("SETTINGS skip_unavailable_shards = 1");

/**
 * Runs reads over the cluster's servers (listed once, from system.clusters). `remote()` learns the table's columns
 * from its first address, whatever `skip_unavailable_shards` says, so a read whose first server is down fails; the
 * list is then rotated and the read tried again, once per server before the failure is thrown (a transient outage).
 */
export function everyReplicaRunner(ch: Querier, cluster: string) {
  let servers: Promise<string[]> | undefined;
  return async <T>(read: (servers: readonly string[]) => Promise<T>): Promise<T> => {
    servers ??= clusterServers(ch, cluster).catch((err: unknown) => {
      servers = undefined;
      throw err;
    });
    const list = await servers;
    for (let tries = 1; ; tries++) {
      try {
        return await read(list);
      } catch (err) {
        const first = list[0] ?? "";
        if (tries >= list.length || !errorMessage(err).includes(`(${first})`)) throw err;
        list.push(...list.splice(0, 1));
      }
    }
  };
}

/** `everyReplicaRunner` for reads of a list of ids. */
export function everyReplicaReader<T>(
  ch: Querier,
  cluster: string,
  read: (servers: readonly string[], ids: readonly string[]) => Promise<T>,
): (ids: readonly string[]) => Promise<T> {
  const run = everyReplicaRunner(ch, cluster);
  return (ids) => run((servers) => read(servers, ids));
}

/**
 * The key and version of each ReplacingMergeTree table a rebuild reads (schema/*.sql `ORDER BY` and
 * `ReplacingMergeTree(version)`; a unit test holds them to the schema files).
 */
export const REPLACING_KEYS: Readonly<Record<string, string>> = {
  commission_ledger_v1: "entry_id",
  commission_cube_v2: "level, grain, bucket, merchant_id, campaign_id, influencer_id, commission_currency, status",
  clicks_by_hour_v1: "hour, campaign_id, click_id",
  clicks_cube_v1: "level, grain, bucket, merchant_id, campaign_id, influencer_id",
};

/** Tables whose rows of one key are all identical (a replay writes the same row): any one of them will do, unsorted. */
const IDENTICAL_ROWS = new Set(["clicks_by_hour_v1"]);

/** How a rebuild reads the rows of `table` matching `where` as FINAL would: the text after `FROM`. */
export type FinalRead = (table: string, where: Sql) => Sql;

/** One server, or a cluster read through its Distributed tables: `table FINAL WHERE …`. */
export const DISTRIBUTED_FINAL: FinalRead = (table, where) => sql`${ident(table)} FINAL WHERE ${where}`;

/**
 * The rows of `table` matching `where` from every replica (`everyReplica`), each key once with its highest version:
 * what FINAL gives on a server that holds every row. A rebuild reading through the Distributed table reads one
 * replica per shard, and around a replica's return that replica may lack rows its peer took during the outage, or
 * the peer rows the rebuild's own previous round just wrote to it (docs/adr/0008); the union of the replicas holds
 * every acknowledged row. Append `EVERY_REPLICA_SETTINGS` to the statement (`REBUILD_REPLICA_SETTINGS` still skips a
 * lagging server: the clicks cube's known gap).
 */
export function everyReplicaFinal(servers: readonly string[], database: string): FinalRead {
  return (table, where) => {
    const key = REPLACING_KEYS[table];
    if (!key) throw new Error(`table ${table} has no key in REPLACING_KEYS (packages/clickhouse/src/cluster.ts)`);
    const order = IDENTICAL_ROWS.has(table) ? raw("") : raw("ORDER BY version DESC");
    return sql`(SELECT * FROM ${everyReplica(servers, database, table)} WHERE ${where} ${order} LIMIT 1 BY ${raw(key)})`;
  };
}
