import { describe, expect, it } from "vitest";
import type { z } from "zod";
import type { Querier } from "./client";
import {
  CLUSTER_SETTINGS,
  clusterMigrationsTable,
  clusterStatements,
  EVERY_REPLICA_SETTINGS,
  everyReplica,
  everyReplicaFinal,
  everyReplicaReader,
  REPLACING_KEYS,
  SHARDING_KEYS,
} from "./cluster";
import { schemaFiles } from "./migrate";
import { raw, type Sql } from "./sql";

const target = { cluster: "aff_cluster", database: "aff" };
const tables = schemaFiles().flatMap((f) =>
  f.statements.map((s) => /CREATE TABLE IF NOT EXISTS (\w+)/.exec(s)?.[1] ?? `(not a table) ${s.slice(0, 40)}`),
);

describe("the schema on a cluster", () => {
  it("knows the ORDER BY key of every table a rebuild reads from every replica, as the schema files state it", () => {
    const statements = schemaFiles().flatMap((f) => f.statements);
    for (const [table, key] of Object.entries(REPLACING_KEYS)) {
      const create = statements.find((s) => s.includes(`CREATE TABLE IF NOT EXISTS ${table} (`)) ?? "";
      expect(create, table).toContain("ReplacingMergeTree(version)");
      expect(/ORDER BY \(([^)]*)\)/.exec(create)?.[1], table).toBe(key);
    }
  });

  it("reads a table as FINAL would from every replica: each key once, its highest version", () => {
    const read = everyReplicaFinal(["h:1", "h:2"], "aff");
    expect(read("commission_ledger_v1", raw("campaign_id = 7")).text.replace(/\s+/g, " ")).toBe(
      "(SELECT * FROM remote('h:1,h:2', `aff`, `commission_ledger_v1_local`) WHERE campaign_id = 7 ORDER BY version DESC LIMIT 1 BY entry_id)",
    );
    // a click's rows are identical (its version is its time): one of them, without sorting
    expect(read("clicks_by_hour_v1", raw("1")).text.replace(/\s+/g, " ")).toBe(
      "(SELECT * FROM remote('h:1,h:2', `aff`, `clicks_by_hour_v1_local`) WHERE 1 LIMIT 1 BY hour, campaign_id, click_id)",
    );
    expect(() => read("conversions_v1", raw("1"))).toThrow("REPLACING_KEYS");
  });

  it("has a sharding key for every table, and none for a table that does not exist", () => {
    expect(tables.filter((t) => !SHARDING_KEYS[t])).toEqual([]);
    expect(Object.keys(SHARDING_KEYS).sort()).toEqual([...tables].sort());
  });

  it("turns each CREATE TABLE into a replicated local table and a Distributed table with the old name", () => {
    const ledger = schemaFiles()
      .flatMap((f) => f.statements)
      .find((s) => s.includes("commission_ledger_v1 ("));
    const [local, dist] = clusterStatements(ledger ?? "", target).map((s) => s.text);
    expect(local).toContain("CREATE TABLE IF NOT EXISTS `aff`.`commission_ledger_v1_local` ON CLUSTER `aff_cluster` (");
    expect(local).toContain(
      "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/aff/commission_ledger_v1_local', '{replica}', version)",
    );
    expect(local).toContain("PARTITION BY toYYYYMM(event_time)");
    expect(local).toContain("ORDER BY (entry_id)");
    expect(local).not.toContain("COMMENT");
    expect(dist).toBe(
      "CREATE TABLE IF NOT EXISTS `aff`.`commission_ledger_v1` ON CLUSTER `aff_cluster` AS `aff`.`commission_ledger_v1_local` ENGINE = Distributed(`aff_cluster`, `aff`, `commission_ledger_v1_local`, cityHash64(conversion_id))",
    );
  });

  it("keeps an engine without arguments (events: ReplacingMergeTree())", () => {
    const events = schemaFiles()
      .flatMap((f) => f.statements)
      .find((s) => s.includes("conversion_events_v1 ("));
    expect(clusterStatements(events ?? "", target)[0]?.text).toContain(
      "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/aff/conversion_events_v1_local', '{replica}')",
    );
  });

  it("refuses statements it cannot place and tables without a sharding key", () => {
    expect(() => clusterStatements("ALTER TABLE x DELETE WHERE 1", target)).toThrow(/cannot run on a cluster/);
    expect(() =>
      clusterStatements("CREATE TABLE IF NOT EXISTS new_v1 (a String) ENGINE = MergeTree() ORDER BY a", target),
    ).toThrow(/no sharding key/);
  });

  it("records migrations in one table replicated to every server, and asks for synchronous Distributed inserts", () => {
    expect(clusterMigrationsTable(target).text).toContain("'/clickhouse/tables/all/aff/schema_migrations_v1'");
    expect(CLUSTER_SETTINGS.insert_distributed_sync).toBe(1);
  });
});

describe("reads from every replica", () => {
  const servers = ["h:1", "h:2", "h:3"];
  const listing: Querier = {
    query: async <S extends z.ZodType>(_n: string, _q: Sql, row: S) =>
      servers.map((s) => row.parse({ host_name: s.split(":")[0], port: Number(s.split(":")[1]) })),
    stream: () => {
      throw new Error("unused");
    },
    exec: async () => undefined,
  };

  it("names each server's local table as a shard of its own, unavailable ones skipped and lagging ones read", () => {
    expect(`${everyReplica(servers, "aff", "conversion_events_v1").text} ${EVERY_REPLICA_SETTINGS.text}`).toBe(
      "remote('h:1,h:2,h:3', `aff`, `conversion_events_v1_local`) SETTINGS skip_unavailable_shards = 1, max_replica_delay_for_distributed_queries = 0",
    );
  });

  it("moves a first server that refuses connections to the end and reads again; other failures are thrown", async () => {
    const seen: string[][] = [];
    const read = everyReplicaReader(listing, "aff_cluster", async (list, ids) => {
      seen.push([...list]);
      if (list[0] === "h:1") throw new Error("Code: 279, All connection tries failed: Connection refused (h:1)");
      if (ids[0] === "bad") throw new Error("Code: 60, table does not exist");
      return ids.length;
    });
    expect(await read(["a"])).toBe(1);
    expect(seen).toEqual([servers, ["h:2", "h:3", "h:1"]]);
    await expect(read(["bad"])).rejects.toThrow("Code: 60");
  });
});
