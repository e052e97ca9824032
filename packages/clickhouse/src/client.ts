import { AppError, type Logger } from "@aff/common";
import { type ClickHouseClient, type ClickHouseSettings, createClient } from "@clickhouse/client";
import type { z } from "zod";
import { CLUSTER_SETTINGS } from "./cluster";
import { clickHouseFailure } from "./failures";
import { ident, raw, type Sql, sql } from "./sql";

/** Reads rows. Every query has a name for logs and metrics. */
export interface Querier {
  query<S extends z.ZodType>(name: string, query: Sql, row: S): Promise<z.output<S>[]>;
  /** Rows as a stream of validated objects, for exports that must keep memory flat. */
  stream<S extends z.ZodType>(name: string, query: Sql, row: S): AsyncIterable<z.output<S>>;
  /** A statement with no result (DDL). */
  exec(name: string, statement: Sql): Promise<void>;
}

/** Writes rows with JSONEachRow; resolves only once ClickHouse acknowledged the insert. */
export interface Inserter {
  insert(name: string, table: string, rows: readonly object[]): Promise<void>;
}

export type ClickHouse = Querier &
  Inserter & {
    ping(): Promise<boolean>;
    close(): Promise<void>;
    database: string;
    /** the ClickHouse cluster the tables are replicated and sharded over, undefined on a single server */
    cluster?: string;
  };

export type ClickHouseOptions = {
  url: string;
  database: string;
  username?: string;
  password?: string;
  /** CLICKHOUSE_CLUSTER: tables are Distributed over this cluster (empty or absent: one server) */
  cluster?: string;
  log?: Logger;
  onQuery?: (name: string, ms: number, ok: boolean) => void;
  /** how long a request may go without a byte from ClickHouse before it fails as an outage (default 30 s) */
  requestTimeoutMs?: number;
  /** gzip request bodies (default true); a bulk writer next to its server spends less CPU without */
  compressRequests?: boolean;
};

/**
 * A row that does not match its schema is a bug in our query or schema, not an outage: it is thrown as
 * `clickhouse_row_invalid` (not retryable), so an API answers 500 and logs it rather than 503.
 */
function validRow<S extends z.ZodType>(name: string, row: S, value: unknown): z.output<S> {
  const r = row.safeParse(value);
  if (!r.success) throw new AppError("clickhouse_row_invalid", r.error.message, { context: { query: name } });
  return r.data;
}

const LONG_QUERY_MS = 60_000;
/**
 * For a client allowed to wait minutes (the reports' ledger reads): the server sends a progress header every minute
 * while the query runs, so the connection is never idle for long enough for a proxy or the socket to drop it.
 */
const LONG_QUERY_SETTINGS: ClickHouseSettings = {
  send_progress_in_http_headers: 1,
  http_headers_progress_interval_ms: String(LONG_QUERY_MS),
};

export function createClickHouse(opts: ClickHouseOptions): ClickHouse {
  const client: ClickHouseClient = createClient({
    url: opts.url,
    database: opts.database,
    username: opts.username ?? "default",
    password: opts.password ?? "",
    compression: { request: opts.compressRequests ?? true, response: true },
    request_timeout: opts.requestTimeoutMs ?? 30_000,
    clickhouse_settings: {
      ...(opts.cluster ? CLUSTER_SETTINGS : {}),
      ...((opts.requestTimeoutMs ?? 0) > LONG_QUERY_MS ? LONG_QUERY_SETTINGS : {}),
    },
  });
  const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      const out = await fn();
      opts.onQuery?.(name, performance.now() - t0, true);
      return out;
    } catch (err) {
      opts.onQuery?.(name, performance.now() - t0, false);
      opts.log?.warn({ query: name, err }, "clickhouse_query_failed");
      // classified where it enters: an outage (retry, 503) or ClickHouse refusing what we sent (a bug or bad data)
      throw clickHouseFailure(name, err);
    }
  };
  return {
    database: opts.database,
    cluster: opts.cluster || undefined,
    query: async (name, query, row) => {
      const rows = await timed(name, async () => {
        const rs = await client.query({ query: query.text, format: "JSONEachRow" });
        return rs.json<unknown>();
      });
      return rows.map((r) => validRow(name, row, r));
    },
    async *stream(name, query, row) {
      const rs = await timed(name, () => client.query({ query: query.text, format: "JSONEachRow" }));
      for await (const batch of rs.stream()) {
        for (const r of batch) yield validRow(name, row, r.json());
      }
    },
    exec: (name, statement) =>
      timed(name, async () => {
        await client.command({ query: statement.text });
      }),
    insert: (name, table, rows) =>
      timed(name, async () => {
        if (rows.length === 0) return;
        await client.insert({ table: ident(table).text, values: rows as object[], format: "JSONEachRow" });
      }),
    ping: async () => {
      try {
        const r = await client.ping();
        return r.success;
      } catch {
        return false;
      }
    },
    close: () => client.close(),
  };
}

/** The connection settings of the shared `clickhouseEnv` config fragment, as client options. */
export function clickHouseOptions(
  env: {
    CLICKHOUSE_URL: string;
    CLICKHOUSE_DATABASE: string;
    CLICKHOUSE_USER: string;
    CLICKHOUSE_PASSWORD: string;
    CLICKHOUSE_CLUSTER?: string;
  },
  log?: Logger,
): ClickHouseOptions {
  const { CLICKHOUSE_URL: url, CLICKHOUSE_DATABASE: database, CLICKHOUSE_USER: username } = env;
  return { url, database, username, password: env.CLICKHOUSE_PASSWORD, cluster: env.CLICKHOUSE_CLUSTER, log };
}

/** Creates the database through a client bound to `default` (the named one may not exist yet). */
export async function ensureDatabase(opts: Omit<ClickHouseOptions, "database">, database: string): Promise<void> {
  const admin = createClickHouse({ ...opts, database: "default" });
  try {
    const on = opts.cluster ? sql` ON CLUSTER ${ident(opts.cluster)}` : raw("");
    await admin.exec("create_database", sql`CREATE DATABASE IF NOT EXISTS ${ident(database)}${on}`);
  } finally {
    await admin.close();
  }
}
