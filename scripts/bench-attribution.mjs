// npm run bench:attribution: conversions per second from Kafka into committed ClickHouse ledger rows, against a
// plain kafkajs consumer reading the same topic without processing, in the same run; then the p99 time from a
// postback acknowledged (HTTP 202) to its entry being visible to the reports (ledger FINAL).
// Last line: {"ratio":…,"per_s":…,"baseline_per_s":…,"e2e_p99_ms":…,"attribution_rss_mb":…,"totals_equal":…}.
// BENCH_SALES / BENCH_E2E override the sizes. The worker runs in this process: `attribution_rss_mb` is the peak RSS
// sampled while it works (phases 3 and 4), `rss_before_worker_mb` what the process held before it started,
// `worker_cpu_s` the CPU the process spent while the worker loaded the sales.
import { randomBytes } from "node:crypto";
import { Catalog, createRedis } from "@aff/catalog";
import { createClickHouse, ensureDatabase, ident, join, migrate, raw, sql } from "@aff/clickhouse";
import { conversionId, createLogger, Lifecycle, signClickId } from "@aff/common";
import { createKafka, createProducer, ensureTopics } from "@aff/kafka";
import { benchSale, catalogWriter, createCampaignFixture, isolatedEnv, startNativeStack } from "@aff/testing";
import { z } from "zod";
import { startAttribution } from "../services/attribution/dist/app.js";
import { loadConfig as attributionConfig } from "../services/attribution/dist/config.js";
import { startPostback } from "../services/postback/dist/app.js";
import { loadConfig as postbackConfig } from "../services/postback/dist/config.js";

const SALES = Number(process.env.BENCH_SALES ?? 20_000);
const E2E = Number(process.env.BENCH_E2E ?? 300);
const say = (msg) => process.stderr.write(`[bench] ${msg}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const stack = startNativeStack();
const id = `bench_attr_${randomBytes(4).toString("hex")}`;
const env = { ...isolatedEnv(stack, id), LOG_LEVEL: "warn" };
const log = createLogger("bench", process.env.BENCH_LOG_LEVEL ?? "warn");
const lifecycle = new Lifecycle(log, 20_000);
await ensureDatabase({ url: env.CLICKHOUSE_URL }, id);
const ch = createClickHouse({ url: env.CLICKHOUSE_URL, database: id });
await migrate(ch);
const redis = createRedis(env.REDIS_URL);
const catalog = new Catalog(redis, env.REDIS_PREFIX);
const kafka = createKafka({ brokers: env.KAFKA_BROKERS, clientId: "bench", log });
const pcfg = postbackConfig(env);
await ensureTopics(
  kafka,
  [env.TOPIC_POSTBACKS, env.TOPIC_CLICKS, env.TOPIC_DEAD_LETTERS].map((topic) => ({
    topic,
    numPartitions: pcfg.KAFKA_PARTITIONS,
    replicationFactor: 1,
  })),
);

const { merchant, campaign, influencer, link } = await createCampaignFixture(catalogWriter(catalog), {
  merchant: { name: "Bench Shop" },
  campaign: { name: "Bench" },
  influencer: { name: "Bench" },
});
const clickId = signClickId(attributionConfig(env).CLICK_ID_SECRET, {
  linkId: link.id,
  influencerId: influencer.id,
  campaignId: campaign.id,
  clickedAtMs: Date.now() - 60_000,
});

// 1. Fill the topic with sales, as the postback service would publish them.
const producer = createProducer(kafka);
await producer.connect();
const now = Date.now();
for (let i = 0; i < SALES; i += 1000) {
  const messages = [];
  for (let j = i; j < Math.min(SALES, i + 1000); j++) messages.push(benchSale(merchant.id, clickId, j, now));
  await producer.send({ topic: env.TOPIC_POSTBACKS, acks: -1, messages });
}
await producer.disconnect();
say(`${SALES} sales in ${env.TOPIC_POSTBACKS}`);

// 2. Baseline: a plain kafkajs consumer reading the same topic, no processing.
const baselineMs = await (async () => {
  const consumer = kafka.consumer({ groupId: `${id}.baseline` });
  await consumer.connect();
  await consumer.subscribe({ topic: env.TOPIC_POSTBACKS, fromBeginning: true });
  let seen = 0;
  const t0 = performance.now();
  let t1 = 0;
  await new Promise((resolve) => {
    consumer.run({
      eachBatch: async ({ batch }) => {
        seen += batch.messages.length;
        if (seen >= SALES && !t1) {
          t1 = performance.now();
          resolve();
        }
      },
    });
  });
  await consumer.disconnect();
  return t1 - t0;
})();
const baselinePerS = SALES / (baselineMs / 1000);
say(`baseline: ${Math.round(baselinePerS)}/s`);

// 3. The worker: from start until every sale is a ledger row in ClickHouse.
const Count = z.object({ n: z.coerce.number() });
const countLedger = async () =>
  (await ch.query("bench_count", raw("SELECT count() AS n FROM commission_ledger_v1 FINAL"), Count))[0]?.n ?? 0;
const rssMb = () => process.memoryUsage.rss() / 2 ** 20;
const rssBeforeWorkerMb = rssMb();
let peakRssMb = rssBeforeWorkerMb;
const rssSampler = setInterval(() => {
  peakRssMb = Math.max(peakRssMb, rssMb());
}, 20);
const t0 = performance.now();
const cpu0 = process.cpuUsage();
await startAttribution(attributionConfig(env), { log, lifecycle });
while ((await countLedger()) < SALES) await sleep(100);
const workerMs = performance.now() - t0;
// CPU this process spent while the worker loaded the sales (less sensitive to other load than the wall clock)
const cpu = process.cpuUsage(cpu0);
const workerCpuS = (cpu.user + cpu.system) / 1e6;
const perS = SALES / (workerMs / 1000);
say(`worker: ${Math.round(perS)}/s, ${workerCpuS.toFixed(2)} s of CPU in this process`);
// exactness: one sale entry per sale, and their order amounts add up to what was sent
const Totals = z.object({ sales: z.coerce.number(), amount: z.coerce.number() });
const totals = (
  await ch.query(
    "bench_totals",
    raw(
      "SELECT countIf(entry_type = 'sale') AS sales, sumIf(order_amount_minor, entry_type = 'sale') AS amount FROM commission_ledger_v1 FINAL",
    ),
    Totals,
  )
)[0];
const expectedAmount = SALES * 1000 + (SALES * (SALES - 1)) / 2;
const totalsEqual = totals?.sales === SALES && totals.amount === expectedAmount;
say(
  `totals: ${totals?.sales} sales (sent ${SALES}), amount ${totals?.amount} (sent ${expectedAmount}): ${totalsEqual ? "equal" : "DIFFERENT"}`,
);

// 4. End to end: postbacks over HTTP, time from 202 to visible in the ledger the reports read.
const postback = await startPostback(pcfg, { log, lifecycle, catalog });
const acked = new Map();
const visible = new Map();
const sendOne = async (i) => {
  const order = `E-${i}`;
  const res = await fetch(`http://127.0.0.1:${postback.server.port}/postback`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      merchant_id: merchant.id,
      token: merchant.postback_token,
      order_id: order,
      amount: 5000,
      currency: "USD",
      click_id: clickId,
    }),
  });
  await res.arrayBuffer();
  if (res.status === 202) acked.set(conversionId(merchant.id, order), Date.now());
};
const Seen = z.object({ conversion_id: z.string() });
let sending = true;
const poller = (async () => {
  while (sending || visible.size < acked.size) {
    const pending = [...acked.keys()].filter((k) => !visible.has(k));
    if (pending.length > 0) {
      const rows = await ch.query(
        "bench_seen",
        sql`SELECT DISTINCT conversion_id FROM ${ident("commission_ledger_v1")} FINAL WHERE conversion_id IN (${join(
          pending.map((p) => sql`${p}`),
          ", ",
        )})`,
        Seen,
      );
      const at = Date.now();
      for (const r of rows) if (!visible.has(r.conversion_id)) visible.set(r.conversion_id, at);
    }
    await sleep(25);
  }
})();
for (let i = 0; i < E2E; i += 10) {
  await Promise.all(Array.from({ length: Math.min(10, E2E - i) }, (_, k) => sendOne(i + k)));
  await sleep(100);
}
sending = false;
await poller;
const lat = [...acked].map(([k, t]) => (visible.get(k) ?? Number.POSITIVE_INFINITY) - t).sort((a, b) => a - b);
const p99 = lat[Math.min(lat.length - 1, Math.ceil(lat.length * 0.99) - 1)] ?? 0;
say(`e2e: ${acked.size} postbacks, p50 ${lat[Math.floor(lat.length / 2)]} ms, p99 ${p99} ms`);

clearInterval(rssSampler);
peakRssMb = Math.max(peakRssMb, rssMb());
say(
  `RSS: ${Math.round(peakRssMb)} MB peak while the worker ran (${Math.round(rssBeforeWorkerMb)} MB before it started)`,
);
await lifecycle.stop("bench_done");
await ch.exec("drop_bench_db", sql`DROP DATABASE IF EXISTS ${ident(id)}`);
await ch.close();
redis.disconnect();
const round = (x, d = 0) => Math.round(x * 10 ** d) / 10 ** d;
console.log(
  `worker ${round(perS)}/s, plain consumer ${round(baselinePerS)}/s, ratio ${round(perS / baselinePerS, 3)}, e2e p99 ${p99} ms`,
);
console.log(
  JSON.stringify({
    ratio: round(perS / baselinePerS, 3),
    per_s: round(perS),
    baseline_per_s: round(baselinePerS),
    e2e_p99_ms: p99,
    attribution_rss_mb: Math.round(peakRssMb),
    worker_cpu_s: round(workerCpuS, 2),
    rss_before_worker_mb: Math.round(rssBeforeWorkerMb),
    totals_equal: totalsEqual,
  }),
);
process.exit(0);
