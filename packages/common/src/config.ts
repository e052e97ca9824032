import { z } from "zod";

/** Shared fragments that several services' config schemas spread into their own `z.object`. */
export const logEnv = {
  /** pino level: trace, debug, info, warn, error, fatal */
  LOG_LEVEL: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"),
};
export const kafkaEnv = {
  /** comma-separated host:port list of Kafka brokers */
  KAFKA_BROKERS: z.string().min(1).default("127.0.0.1:19092"),
  /** Kafka client id prefix */
  KAFKA_CLIENT_ID: z.string().min(1).default("aff"),
  /** topic carrying click events */
  TOPIC_CLICKS: z.string().min(1).default("clicks"),
  /** topic carrying merchant postback events, keyed by conversion id */
  TOPIC_POSTBACKS: z.string().min(1).default("postbacks"),
  /** topic for messages the attribution worker could not process */
  TOPIC_DEAD_LETTERS: z.string().min(1).default("dead_letters"),
  /** partitions for topics created at boot (>= 6 for the main topics) */
  KAFKA_PARTITIONS: z.coerce.number().int().min(1).max(1000).default(6),
  /** replication factor for topics created at boot */
  KAFKA_REPLICATION_FACTOR: z.coerce.number().int().min(1).max(10).default(1),
  /** "false": producers are not idempotent (see createProducer and docs/adr/0008 before turning it off) */
  KAFKA_IDEMPOTENT: z
    .enum(["true", "false"])
    .default("true")
    .transform((v) => v === "true"),
  /** the producer's client: "platformatic" (@platformatic/kafka) or "kafkajs" (the old one, for side-by-side runs; ADR 0009) */
  KAFKA_CLIENT: z.enum(["platformatic", "kafkajs"]).default("platformatic"),
  /** min.insync.replicas of topics created at boot (unset: the broker's default); 2 with replication factor 3 */
  KAFKA_MIN_INSYNC_REPLICAS: z.coerce.number().int().min(1).max(10).optional(),
};
export const clickhouseEnv = {
  /** ClickHouse HTTP interface URL */
  CLICKHOUSE_URL: z.string().url().default("http://127.0.0.1:18123"),
  /** ClickHouse database holding our tables */
  CLICKHOUSE_DATABASE: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be a plain identifier")
    .default("aff"),
  /** ClickHouse user */
  CLICKHOUSE_USER: z.string().default("default"),
  /** ClickHouse password */
  CLICKHOUSE_PASSWORD: z.string().default(""),
  /** cluster (remote_servers) the tables are replicated and sharded over; empty: one server (docs/adr/0008) */
  CLICKHOUSE_CLUSTER: z
    .string()
    .regex(/^([A-Za-z_][A-Za-z0-9_]*)?$/, "must be a plain identifier")
    .default(""),
};
export const redisEnv = {
  /** Redis URL for the catalog (merchants, campaigns, influencers, links) */
  REDIS_URL: z.string().default("redis://127.0.0.1:16379/0"),
  /** key prefix, so several deployments or test runs can share one Redis */
  REDIS_PREFIX: z.string().default("aff:"),
  /**
   * comma-separated host:port list of Redis Sentinels; when set, the primary is found (and followed after a failover)
   * through them, and REDIS_URL gives only the database number and password
   */
  REDIS_SENTINELS: z
    .string()
    .regex(/^(\s*[^\s,:]+:\d+\s*(,\s*[^\s,:]+:\d+\s*)*)?$/, "must be host:port[,host:port...]")
    .default(""),
  /** name of the monitored primary in the Sentinels' configuration */
  REDIS_SENTINEL_NAME: z.string().min(1).default("aff"),
};

/**
 * Every secret that has a development default, with that default. Outside production the defaults keep
 * `npm test` and a bare `node services/x/dist/main.js` working (with a warning at boot); in production they are
 * public knowledge, so `parseConfig` refuses them (`productionSecretIssues`).
 */
export const DEV_SECRETS = {
  CLICK_ID_SECRET: "dev-only-click-id-secret-change-me",
  ADMIN_API_KEY: "dev-admin-key-change-me",
  REPORTS_API_KEY: "dev-finance-key-change-me",
} as const;
export type SecretName = keyof typeof DEV_SECRETS;
/** Shortest secret accepted in production (a random 32-character value carries at least 160 bits). */
export const PRODUCTION_SECRET_MIN_LENGTH = 32;

/** A secret variable: its development default, at least 16 characters everywhere (32 in production). */
export const secret = (name: SecretName) => z.string().min(16).default(DEV_SECRETS[name]);

export const runtimeEnv = {
  /** `production` turns on the production rules (no development secrets); anything else is development */
  NODE_ENV: z.string().default("development"),
};
export const secretsEnv = {
  ...runtimeEnv,
  /** HMAC key signing click ids (shared by redirect and attribution) */
  CLICK_ID_SECRET: secret("CLICK_ID_SECRET"),
};

export const httpEnv = {
  /** address the HTTP server binds */
  HOST: z.string().default("127.0.0.1"),
  /** milliseconds allowed for a graceful shutdown before exit(1) */
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(100).default(15_000),
};

/** The secrets of `config` that still hold their development default. */
export function devSecretsInUse(config: object): SecretName[] {
  return Object.entries(config).flatMap(([name, value]) =>
    Object.hasOwn(DEV_SECRETS, name) && DEV_SECRETS[name as SecretName] === value ? [name as SecretName] : [],
  );
}

/**
 * The production rule for secrets, applied by `parseConfig` to every service so none can forget it: with
 * NODE_ENV=production every secret of the config must be set, differ from its development default and be at least
 * 32 characters. Each issue names its variable.
 */
export function productionSecretIssues(config: object): string[] {
  if (!("NODE_ENV" in config) || config.NODE_ENV !== "production") return [];
  return Object.entries(config).flatMap(([name, value]) => {
    if (!Object.hasOwn(DEV_SECRETS, name) || typeof value !== "string") return [];
    if (value === DEV_SECRETS[name as SecretName])
      return [
        `${name}: missing (or the development default); production needs a random value of at least ${PRODUCTION_SECRET_MIN_LENGTH} characters`,
      ];
    if (value.length < PRODUCTION_SECRET_MIN_LENGTH)
      return [`${name}: must be at least ${PRODUCTION_SECRET_MIN_LENGTH} characters in production`];
    return [];
  });
}

/** Thrown for a bad environment; `main` prints it and exits 1. */
export class ConfigError extends Error {
  constructor(
    service: string,
    readonly issues: string[],
  ) {
    super(`invalid configuration for ${service}:\n  ${issues.join("\n  ")}`);
    this.name = "ConfigError";
  }
}

/** Parse the environment once at boot. Each issue names the variable and the reason. */
export function parseConfig<S extends z.ZodType>(
  service: string,
  schema: S,
  env: Record<string, string | undefined> = process.env,
): z.output<S> {
  const result = schema.safeParse(env);
  const issues = result.success
    ? productionSecretIssues(result.data as object)
    : result.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
  if (result.success && issues.length === 0) return result.data;
  throw new ConfigError(service, issues);
}
