import { randomBytes } from "node:crypto";
import { Catalog, createRedis } from "@aff/catalog";
import { type ClickHouse, createClickHouse, ensureDatabase, ident, migrate, raw, sql } from "@aff/clickhouse";
import { createLogger, Lifecycle, type Logger } from "@aff/common";
import type { StackEnv } from "./stack";

/** Refuses to touch a ClickHouse database or Redis prefix whose name does not say it is for tests. */
export function assertTestName(name: string): void {
  if (!/test/i.test(name))
    throw new Error(`refusing to use ${JSON.stringify(name)}: test resources must have "test" in their name`);
}

/**
 * Everything one test file needs, isolated from every other file and run: its own topics, consumer groups,
 * ClickHouse database and Redis key prefix, and the environment variables that point a service at them.
 */
export type TestWorld = {
  id: string;
  env: Record<string, string>;
  log: Logger;
  lifecycle: Lifecycle;
  ch: ClickHouse;
  catalog: Catalog;
  close(): Promise<void>;
};

/**
 * Environment that points every service at resources of its own, all named after `id`: ClickHouse database, Redis
 * key prefix, topics, consumer groups and spool folder. Tests and benchmarks run side by side on one stack this way.
 */
export function isolatedEnv(
  stack: Pick<StackEnv, "KAFKA_BROKERS" | "CLICKHOUSE_URL" | "REDIS_URL" | "cluster">,
  id: string,
): Record<string, string> {
  return {
    ...stack.cluster,
    KAFKA_BROKERS: stack.KAFKA_BROKERS,
    CLICKHOUSE_URL: stack.CLICKHOUSE_URL,
    CLICKHOUSE_DATABASE: id,
    REDIS_URL: stack.REDIS_URL,
    REDIS_PREFIX: `${id}:`,
    TOPIC_CLICKS: `${id}.clicks`,
    TOPIC_POSTBACKS: `${id}.postbacks`,
    TOPIC_DEAD_LETTERS: `${id}.dead_letters`,
    GROUP_CONVERSIONS: `${id}.conversions`,
    GROUP_CLICKS: `${id}.clicks`,
    CLICK_SPOOL_DIR: `.stack/test-spool/${id}`,
    PORT: "0",
    OPS_PORT: "0",
    KAFKAJS_NO_PARTITIONER_WARNING: "1",
  };
}

/** How long a test world's DDL may wait (creating and dropping its database, migrations). */
const DDL_TIMEOUT_MS = 180_000;

export async function createTestWorld(stack: StackEnv, name: string): Promise<TestWorld> {
  const id = `test_${name}_${randomBytes(4).toString("hex")}`;
  assertTestName(id);
  const log = createLogger(`test-${name}`, process.env.TEST_LOG_LEVEL ?? "silent");
  const lifecycle = new Lifecycle(log, 20_000);
  const env = { ...isolatedEnv(stack, id), LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "warn" };
  const chOpts = { url: stack.CLICKHOUSE_URL, cluster: stack.cluster?.CLICKHOUSE_CLUSTER };
  // DDL on a cluster waits in ZooKeeper's queue behind the DDL before it: after a chaos run, dropping its replicated
  // tables took over a minute, and the next file's CREATE DATABASE timed out behind it at the default 30 s
  const ddlOpts = { ...chOpts, requestTimeoutMs: DDL_TIMEOUT_MS };
  await ensureDatabase(ddlOpts, id);
  const ddl = createClickHouse({ ...ddlOpts, database: id });
  await migrate(ddl);
  const ch = createClickHouse({ ...chOpts, database: id });
  const redis = createRedis({ ...stack.cluster, REDIS_URL: stack.REDIS_URL });
  redis.on("error", () => undefined);
  const catalog = new Catalog(redis, `${id}:`);
  return {
    id,
    env,
    log,
    lifecycle,
    ch,
    catalog,
    async close() {
      await lifecycle.stop("test_done");
      assertTestName(id);
      const on = ch.cluster ? sql` ON CLUSTER ${ident(ch.cluster)}` : raw("");
      await ddl.exec("drop_test_database", sql`DROP DATABASE IF EXISTS ${ident(id)}${on}`).catch(() => undefined);
      await Promise.all([ch.close(), ddl.close()]);
      redis.disconnect();
    },
  };
}

/** Polls `fn` until it returns a value that `done` accepts, or fails with the last value seen. */
export async function eventually<T>(
  fn: () => Promise<T>,
  done: (v: T) => boolean,
  timeoutMs = 30_000,
  intervalMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      last = await fn();
      if (done(last)) return last;
    } catch (err) {
      lastErr = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(
    `condition not met in ${timeoutMs} ms; last value ${JSON.stringify(last)}${lastErr ? `; last error ${String(lastErr)}` : ""}`,
  );
}
