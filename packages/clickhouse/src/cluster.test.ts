import { describe, expect, it } from "vitest";
import { CLUSTER_SETTINGS, clusterMigrationsTable, clusterStatements, SHARDING_KEYS } from "./cluster";
import { schemaFiles } from "./migrate";

const target = { cluster: "aff_cluster", database: "aff" };
const tables = schemaFiles().flatMap((f) =>
  f.statements.map((s) => /CREATE TABLE IF NOT EXISTS (\w+)/.exec(s)?.[1] ?? `(not a table) ${s.slice(0, 40)}`),
);

describe("the schema on a cluster", () => {
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
