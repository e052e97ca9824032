import { describe, expect, it } from "vitest";
import { dropOldBuildsSql, sourcePartsSql } from "./scorecard-weekly";

describe("the weekly scorecard build's bookkeeping statements", () => {
  it("list this server's parts and drop older builds from the table itself on one server", () => {
    const parts = sourcePartsSql([202503, 202504]).text;
    expect(parts).toContain("FROM system.parts");
    expect(parts).toContain("database = currentDatabase()");
    expect(parts).toContain("table IN ('clicks_raw_v1', 'conversions_v1')");
    expect(parts).toContain("partition_id IN ('202503', '202504')");
    expect(dropOldBuildsSql(202503, 7).text).toBe(
      "ALTER TABLE `scorecard_weekly_v1` DELETE WHERE month = 202503 AND build < 7",
    );
  });

  it("on a cluster, list the local tables' parts on every shard and drop older builds on every server", () => {
    const at = { cluster: "aff_cluster", database: "aff" };
    const parts = sourcePartsSql([202503], at).text;
    // a Distributed table has no parts of its own: its shards' local tables do
    expect(parts).toContain("FROM cluster('aff_cluster', system, parts)");
    expect(parts).toContain("database = 'aff'");
    expect(parts).toContain("table IN ('clicks_raw_v1_local', 'conversions_v1_local')");
    expect(dropOldBuildsSql(202503, 7, at).text).toBe(
      "ALTER TABLE `aff`.`scorecard_weekly_v1_local` ON CLUSTER `aff_cluster` DELETE WHERE month = 202503 AND build < 7",
    );
  });
});
