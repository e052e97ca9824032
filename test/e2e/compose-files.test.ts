// The docker-compose files cannot be run here (no Docker engine), so what can be checked without one is checked:
// every reference inside each file resolves, every mounted file exists, every secret is in .env.example, and each
// service's environment, with the secrets filled in, passes that service's own config schema in production mode.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { loadConfig as attributionConfig } from "../../services/attribution/src/config";
import { loadConfig as postbackConfig } from "../../services/postback/src/config";
import { loadConfig as redirectConfig } from "../../services/redirect/src/config";
import { loadConfig as reportsConfig } from "../../services/reports/src/config";

const root = path.resolve(__dirname, "../..");
type Service = {
  command?: string[];
  depends_on?: Record<string, unknown> | string[];
  environment?: Record<string, string | number>;
  volumes?: string[];
  ports?: string[];
};
type Compose = { services: Record<string, Service>; volumes?: Record<string, unknown> };
const load = (file: string): Compose =>
  parse(readFileSync(path.join(root, file), "utf8"), { merge: true, maxAliasCount: 1_000 }) as Compose;

const configs = {
  "services/redirect/dist/main.js": redirectConfig,
  "services/postback/dist/main.js": postbackConfig,
  "services/attribution/dist/main.js": attributionConfig,
  "services/reports/dist/main.js": reportsConfig,
};
const secretsInExample = new Set(
  [...readFileSync(path.join(root, ".env.example"), "utf8").matchAll(/^([A-Z_]+)=/gm)].map((m) => m[1]),
);
/** `${NAME:?message}` -> NAME, with a value a production boot accepts */
const fillSecrets = (env: Record<string, string | number>) =>
  Object.fromEntries(
    Object.entries(env).map(([k, v]) => {
      const secret = /^\$\{([A-Z_]+):\?/.exec(String(v))?.[1];
      if (secret) expect(secretsInExample, `${secret} in .env.example`).toContain(secret);
      return [k, secret ? `${secret.toLowerCase()}-0123456789abcdef0123456789abcdef` : String(v)];
    }),
  );

describe.each(["docker-compose.yml", "docker-compose.cluster.yml"])("%s", (file) => {
  const compose = load(file);
  const names = Object.keys(compose.services);

  it("depends only on its own services, mounts files that exist and declares its volumes", () => {
    for (const [name, svc] of Object.entries(compose.services)) {
      const deps = Array.isArray(svc.depends_on) ? svc.depends_on : Object.keys(svc.depends_on ?? {});
      for (const dep of deps) expect(names, `${name} depends on ${dep}`).toContain(dep);
      expect(deps, `${name} depends on itself`).not.toContain(name);
      for (const volume of svc.volumes ?? []) {
        const source = volume.split(":")[0] ?? "";
        if (source.startsWith(".")) expect(existsSync(path.join(root, source)), `${name} mounts ${source}`).toBe(true);
        else expect(Object.keys(compose.volumes ?? {}), `${name} volume ${source}`).toContain(source);
      }
    }
  });

  it("publishes each host port once, on the loopback only", () => {
    const published = Object.values(compose.services).flatMap((s) => s.ports ?? []);
    for (const p of published) expect(p).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
    const hostPorts = published.map((p) => p.split(":")[1]);
    expect(new Set(hostPorts).size).toBe(hostPorts.length);
  });

  it("gives every service an environment its config schema accepts in production", () => {
    const services = Object.entries(compose.services).filter(([, s]) => s.command?.some((c) => c in configs));
    expect(services.length).toBeGreaterThanOrEqual(4);
    for (const [name, svc] of services) {
      const main = svc.command?.find((c) => c in configs) as keyof typeof configs;
      // throws a ConfigError naming each variable it refuses (production rules for secrets included)
      const config = configs[main](fillSecrets(svc.environment ?? {}));
      expect(config.PORT, name).toBe(Number(svc.environment?.PORT));
    }
  });
});

describe("docker-compose.cluster.yml", () => {
  const compose = load("docker-compose.cluster.yml");
  const names = Object.keys(compose.services);

  it("runs two of every service, three brokers, four ClickHouse servers and Redis under three Sentinels", () => {
    for (const prefix of ["redirect-", "postback-", "attribution-", "reports-", "redis-"])
      expect(names.filter((n) => n.startsWith(prefix))).toHaveLength(2);
    expect(names.filter((n) => n.startsWith("kafka-"))).toHaveLength(3);
    expect(names.filter((n) => n.startsWith("clickhouse-"))).toHaveLength(4);
    expect(names.filter((n) => n.startsWith("sentinel-"))).toHaveLength(3);
    const env = compose.services["postback-1"]?.environment ?? {};
    expect(env.KAFKA_REPLICATION_FACTOR).toBe("3");
    expect(env.KAFKA_MIN_INSYNC_REPLICAS).toBe("2");
    expect(String(env.KAFKA_BROKERS).split(",")).toHaveLength(3);
  });

  it("names only its own services in HAProxy and in the ClickHouse cluster", () => {
    const haproxy = readFileSync(path.join(root, "infra/compose/haproxy.cfg"), "utf8");
    const servers = [...haproxy.matchAll(/^\s+server \S+ ([a-z0-9-]+):\d+/gm)].map((m) => m[1]);
    expect(servers).toHaveLength(10);
    for (const s of servers) expect(names).toContain(s);
    const xml = readFileSync(path.join(root, "infra/compose/clickhouse-cluster.xml"), "utf8");
    const replicas = [...xml.matchAll(/<replica><host>([a-z0-9-]+)<\/host>/g)].map((m) => m[1]);
    expect(replicas.sort()).toEqual(names.filter((n) => n.startsWith("clickhouse-")).sort());
    const shards = replicas.map((r) => compose.services[r ?? ""]?.environment?.CH_SHARD);
    expect(shards.sort()).toEqual(["1", "1", "2", "2"]);
  });
});
