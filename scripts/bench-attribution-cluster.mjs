// npm run bench:attribution:cluster: conversions per second on the cluster profile (infra/stack.sh --cluster) with one
// and with two attribution worker processes in one consumer group, measured in the same run. Each configuration
// gets its own topic (RF 3, min ISR 2), consumer group and replicated, sharded database; its workers start on the
// empty topic and, once the group is stable with every worker holding partitions, the same sales are written to it.
// Timed from the first sale written until every sale is a ledger row, so a worker joining (a rebalance) is not
// timed; the writing (about 50,000 sales/s) overlaps the booking.
// Last line: {"sales":…,"one_worker_per_s":…,"two_workers_per_s":…}. BENCH_SALES overrides the size (default 100,000).
import { randomBytes } from "node:crypto";
import { Catalog, createRedis } from "@aff/catalog";
import { createClickHouse, ensureDatabase, ident, migrate, raw, sql } from "@aff/clickhouse";
import { createLogger, signClickId } from "@aff/common";
import { createKafka, createProducer, ensureTopics, topicSpec } from "@aff/kafka";
import {
  benchSale,
  catalogWriter,
  createCampaignFixture,
  isolatedEnv,
  spawnService,
  startClusterStack,
} from "@aff/testing";
import { z } from "zod";
import { loadConfig as attributionConfig } from "../services/attribution/dist/config.js";

const SALES = Number(process.env.BENCH_SALES ?? 100_000);
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
const { merchant, campaign, influencer, link } = await createCampaignFixture(catalogWriter(catalog), {});
const clickId = signClickId(cfg.CLICK_ID_SECRET, {
  linkId: link.id,
  influencerId: influencer.id,
  campaignId: campaign.id,
  clickedAtMs: Date.now() - 60_000,
});

/** The same sales, written to `topic` in sends of 1,000. */
async function writeSales(topic) {
  const producer = createProducer(kafka, { idempotent: false });
  await producer.connect();
  for (let i = 0; i < SALES; i += 1000) {
    const messages = [];
    for (let j = i; j < Math.min(SALES, i + 1000); j++) messages.push(benchSale(merchant.id, clickId, j, now));
    await producer.send({ topic, acks: -1, messages });
  }
  await producer.disconnect();
}
const now = Date.now();

/** Until `group` is stable with `members` members, each assigned partitions. */
async function groupStable(group, members) {
  const admin = kafka.admin();
  await admin.connect();
  try {
    for (const deadline = Date.now() + 120_000; Date.now() < deadline; await sleep(250)) {
      const { groups } = await admin.describeGroups([group]);
      const g = groups[0];
      if (
        g?.state === "Stable" &&
        g.members.length === members &&
        g.members.every((m) => m.memberAssignment.length > 0)
      )
        return;
    }
    throw new Error(`group ${group} not stable with ${members} members after 120 s`);
  } finally {
    await admin.disconnect();
  }
}

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
    TOPIC_POSTBACKS: `${database}.postbacks`,
    TOPIC_CLICKS: `${database}.clicks`,
    TOPIC_DEAD_LETTERS: `${database}.dead_letters`,
    GROUP_CONVERSIONS: `${database}.conversions`,
    GROUP_CLICKS: `${database}.clicks`,
    PORT: "0",
  };
  await ensureTopics(
    kafka,
    [workerEnv.TOPIC_POSTBACKS, workerEnv.TOPIC_CLICKS, workerEnv.TOPIC_DEAD_LETTERS].map((t) => topicSpec(cfg, t)),
  );
  const procs = Array.from({ length: workers }, () =>
    spawnService("attribution", { env: workerEnv, output: "inherit" }),
  );
  await groupStable(workerEnv.GROUP_CONVERSIONS, workers);
  const t0 = performance.now();
  await writeSales(workerEnv.TOPIC_POSTBACKS);
  say(`${workers} worker(s): ${SALES} sales written in ${Math.round(performance.now() - t0)} ms`);
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
