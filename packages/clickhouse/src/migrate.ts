import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import type { Logger } from "@aff/common";
import { z } from "zod";
import type { ClickHouse } from "./client";
import { type ClusterTarget, clusterMigrationsTable, clusterStatements } from "./cluster";
import { raw, type Sql, sql } from "./sql";

export const SCHEMA_DIR = path.join(__dirname, "..", "schema");

/** Numbered files `NNN_name.sql`, in order. */
export function schemaFiles(dir = SCHEMA_DIR): { name: string; statements: string[] }[] {
  return readdirSync(dir)
    .filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((name) => ({ name, statements: splitStatements(readFileSync(path.join(dir, name), "utf8")) }));
}

/** Statements end with `;` at the end of a line; `--` comment lines are dropped. */
export function splitStatements(text: string): string[] {
  return text
    .split("\n")
    .filter((l) => !l.trimStart().startsWith("--"))
    .join("\n")
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

const Applied = z.object({ name: z.string() });

/** A schema statement as it runs here: itself on a single server, its replicated and sharded form on a cluster. */
function statementsFor(statement: string, cluster: ClusterTarget | undefined): Sql[] {
  return cluster ? clusterStatements(statement, cluster) : [raw(statement)];
}

/**
 * Applies every schema file not yet recorded. Files are idempotent, so two runners racing is harmless. On a cluster
 * (`ch.cluster`, from CLICKHOUSE_CLUSTER) the same files create replicated local tables and Distributed tables under
 * the usual names, ON CLUSTER (see cluster.ts).
 */
export async function migrate(ch: ClickHouse, log?: Logger, dir = SCHEMA_DIR): Promise<string[]> {
  const cluster = ch.cluster ? { cluster: ch.cluster, database: ch.database } : undefined;
  await ch.exec(
    "create_schema_migrations",
    cluster
      ? clusterMigrationsTable(cluster)
      : raw(
          "CREATE TABLE IF NOT EXISTS schema_migrations_v1 (name String, applied_at DateTime('UTC')) ENGINE = ReplacingMergeTree() ORDER BY name",
        ),
  );
  const done = new Set(
    (await ch.query("schema_migrations", raw("SELECT name FROM schema_migrations_v1 FINAL"), Applied)).map(
      (r) => r.name,
    ),
  );
  const applied: string[] = [];
  for (const file of schemaFiles(dir)) {
    if (done.has(file.name)) continue;
    for (const statement of file.statements)
      for (const part of statementsFor(statement, cluster)) await ch.exec(`migration_${file.name}`, part);
    await ch.exec(
      "record_migration",
      sql`INSERT INTO schema_migrations_v1 (name, applied_at) VALUES (${file.name}, now())`,
    );
    applied.push(file.name);
    log?.info({ migration: file.name }, "migration_applied");
  }
  return applied;
}
