// npm run bench:attribution:cluster: conversions per second on the cluster profile (infra/stack.sh --cluster) with one
// and with two attribution worker processes in one consumer group, measured in the same run: the same sales are
// written once to a topic (RF 3, min ISR 2), then each configuration consumes it with its own consumer group into its
// own database (replicated, sharded), timed from worker start until every sale is a ledger row.
// Last line: {"sales":…,"one_worker_per_s":…,"two_workers_per_s":…}. BENCH_SALES overrides the size.
import { randomBytes } from "node:crypto";
import { Catalog, createRedis } from "@aff/catalog";
import { createClickHouse, ensureDatabase, ident, migrate, raw, sql } from "@aff/clickhouse";
import { conversionId, createLogger, deterministicId, signClickId } from "@aff/common";
import { createKafka, createProducer, ensureTopics, topicSpec } from "@aff/kafka";
import { catalogWriter, createCampaignFixture, isolatedEnv, spawnService, startClusterStack } from "@aff/testing";
import { z } from "zod";
import { loadConfig as attributionConfig } from "../services/attribution/dist/config.js";

const SALES = Number(process.env.BENCH_SALES ?? 20_000);
const say = (msg) => process.stderr.write(`[bench] ${msg}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const stack = startClusterStack();
const id = `bench_cluster_${randomBytes(4).toString("hex")}`;
const env = { ...isolatedEnv(stack, id), LOG_LEVEL: "warn" };
const log = createLogger("bench", "warn");
const redis = createRedis({ ...stack.cluster, REDIS_URL: stack.REDIS_URL });
const catalog = new Catalog(redis, env.REDIS_PREFIX);
const kafka = createKafka({ brokers: env.KAFKA_BROKERS, clientId: "bench", log });
const cfg = attributionConfig(env);
await ensureTopics(
  kafka,
  [env.TOPIC_POSTBACKS, env.TOPIC_CLICKS, env.TOPIC_DEAD_LETTERS].map((t) => topicSpec(cfg, t)),
);
const { merchant, campaign, influencer, link } = await createCampaignFixture(catalogWriter(catalog), {});
const clickId = signClickId(cfg.CLICK_ID_SECRET, {
  linkId: link.id,
  influencerId: influencer.id,
  campaignId: campaign.id,
  clickedAtMs: Date.now() - 60_000,
});

const producer = createProducer(kafka, { idempotent: false });
await producer.connect();
const now = Date.now();
for (let i = 0; i < SALES; i += 1000) {
  const messages = [];
  for (let j = i; j < Math.min(SALES, i + 1000); j++) {
    const conv = conversionId(merchant.id, `B-${j}`);
    const event = {
      v: 1,
      event_id: deterministicId(conv, "sale"),
      conversion_id: conv,
      merchant_id: merchant.id,
      order_id: `B-${j}`,
      type: "sale",
      click_id: clickId,
      amount_minor: 1000 + j,
      currency: "USD",
      occurred_at_ms: now,
      received_at_ms: now,
    };
    messages.push({ key: conv, value: JSON.stringify(event) });
  }
  await producer.send({ topic: env.TOPIC_POSTBACKS, acks: -1, messages });
}
await producer.disconnect();
say(`${SALES} sales in ${env.TOPIC_POSTBACKS} (cluster)`);

const Count = z.object({ n: z.coerce.number() });
/** One configuration: `workers` processes in a fresh consumer group and database; conversions per second. */
async function measure(workers) {
  const database = `${id}_w${workers}`;
  const chOpts = { url: env.CLICKHOUSE_URL, cluster: stack.cluster.CLICKHOUSE_CLUSTER };
  await ensureDatabase(chOpts, database);
  const ch = createClickHouse({ ...chOpts, database });
  await migrate(ch);
  const workerEnv = {
    ...env,
    CLICKHOUSE_DATABASE: database,
    GROUP_CONVERSIONS: `${database}.conversions`,
    GROUP_CLICKS: `${database}.clicks`,
    PORT: "0",
  };
  const t0 = performance.now();
  const procs = Array.from({ length: workers }, () =>
    spawnService("attribution", { env: workerEnv, output: "inherit" }),
  );
  const count = async () =>
    (await ch.query("bench_count", raw("SELECT count() AS n FROM commission_ledger_v1 FINAL"), Count))[0]?.n ?? 0;
  while ((await count().catch(() => 0)) < SALES) await sleep(250);
  const perS = SALES / ((performance.now() - t0) / 1000);
  await Promise.all(procs.map((p) => p.stop()));
  await ch.exec("drop_bench_database", sql`DROP DATABASE IF EXISTS ${ident(database)} ON CLUSTER ${ident(ch.cluster)}`);
  await ch.close();
  say(`${workers} worker(s): ${Math.round(perS)}/s`);
  return Math.round(perS);
}

const one = await measure(1);
const two = await measure(2);
redis.disconnect();
console.log(JSON.stringify({ sales: SALES, one_worker_per_s: one, two_workers_per_s: two }));
process.exit(0);
