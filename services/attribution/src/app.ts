import { type Campaign, CouponRegistry, connectCatalog, FxRates } from "@aff/catalog";
import { clickHouseOptions, createClickHouse, ensureDatabase, getFirstClick, migrate } from "@aff/clickhouse";
import { createMetrics, errorHandler, type Lifecycle, type Logger, listen, opsRouter } from "@aff/common";
import { createBatchConsumer, createKafka, createProducer, ensureTopics, topicSpec } from "@aff/kafka";
import express from "express";
import { LRUCache } from "lru-cache";
import { Counter, Histogram } from "prom-client";
import { clickWriter } from "./aggregate-writer";
import type { AttributionConfig } from "./config";
import { classifyFailure, clickHouseFailure, guarded, redisFailure } from "./failures";
import { clickHouseStore, createClickHandler, createConversionHandler, createDeadLetterSink } from "./worker";

/** The attribution worker: two consumer groups (conversions, clicks) writing to ClickHouse, plus ops endpoints. */
export async function startAttribution(config: AttributionConfig, deps: { log: Logger; lifecycle: Lifecycle }) {
  const { log, lifecycle } = deps;
  const metrics = createMetrics("attribution");
  const processed = new Counter({
    name: "messages_processed_total",
    help: "messages handled and committed",
    labelNames: ["topic"] as const,
    registers: [metrics.registry],
  });
  const dead = new Counter({
    name: "messages_dead_lettered_total",
    help: "messages sent to the dead-letter topic, by reason class (schema, invalid_json, amount_out_of_range, unbookable, clickhouse_rejected, ...)",
    labelNames: ["reason"] as const,
    registers: [metrics.registry],
  });
  const retries = new Counter({
    name: "batch_retries_total",
    help: "retries of a batch after a transient failure, by reason class (clickhouse_unavailable, redis_unavailable, kafka, ...)",
    labelNames: ["topic", "reason"] as const,
    registers: [metrics.registry],
  });
  const batchSeconds = new Histogram({
    name: "batch_duration_seconds",
    help: "write-and-commit time per batch",
    labelNames: ["topic"] as const,
    registers: [metrics.registry],
  });
  const outcomes = new Counter({
    name: "conversion_event_outcomes_total",
    help: "what became of conversion events: applied, parked (status change before its sale), unparked (applied once the sale came), parked_expired, ignored_*, refund_capped, ...",
    labelNames: ["outcome"] as const,
    registers: [metrics.registry],
  });
  const batchSize = new Histogram({
    name: "batch_size",
    help: "messages per batch",
    labelNames: ["topic"] as const,
    buckets: [1, 10, 100, 500, 1000, 5000],
    registers: [metrics.registry],
  });

  // inserts uncompressed: gzip of every batch's rows was about a tenth of the worker's CPU (docs/adr/0005 "Throughput")
  const chOpts = { ...clickHouseOptions(config, log), compressRequests: false };
  await ensureDatabase(chOpts, chOpts.database);
  const ch = createClickHouse(chOpts);
  lifecycle.defer("clickhouse", () => ch.close());
  await migrate(ch, log);

  const catalog = connectCatalog(config, deps);
  const campaigns = new LRUCache<number, Campaign>({
    max: 100_000,
    ttl: Math.max(1, config.CAMPAIGN_CACHE_TTL_MS),
    allowStaleOnFetchRejection: true,
    fetchMethod: (id) => catalog.getCampaign(id),
  });

  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: `${config.KAFKA_CLIENT_ID}-attribution`, log });
  const spec = (topic: string) => topicSpec(config, topic);
  await ensureTopics(kafka, [spec(config.TOPIC_POSTBACKS), spec(config.TOPIC_CLICKS), spec(config.TOPIC_DEAD_LETTERS)]);
  const producer = createProducer(kafka, { idempotent: config.KAFKA_IDEMPOTENT });
  await producer.connect();
  lifecycle.defer("kafka_producer", () => producer.disconnect());

  const counters = (topic: string) => ({
    processed: (n: number) => processed.inc({ topic }, n),
    deadLettered: (reason: string) => dead.inc({ reason }),
    outcome: (outcome: string) => outcomes.inc({ outcome }),
  });
  const coupons = new CouponRegistry(catalog.redis, catalog.prefix);
  const fx = new FxRates(catalog.redis, catalog.prefix);
  const deadLetter = createDeadLetterSink(
    producer,
    config.TOPIC_DEAD_LETTERS,
    log,
    counters(config.TOPIC_DEAD_LETTERS),
  );
  const afterWriteBeforeCommit = config.FAULT_KILL_AFTER_WRITE
    ? () => {
        log.warn("fault_kill_after_write");
        process.kill(process.pid, "SIGKILL");
      }
    : undefined;
  const onBatch = ({ topic, size, ms }: { topic: string; size: number; ms: number }) => {
    batchSeconds.observe({ topic }, ms / 1000);
    batchSize.observe({ topic }, size);
  };
  const common = {
    kafka,
    log,
    onBatch,
    classifyError: (err: unknown) => classifyFailure(err).reasonClass,
    onRetry: ({ topic, reasonClass }: { topic: string; reasonClass: string }) =>
      retries.inc({ topic, reason: reasonClass }),
    slowBatchMs: config.SLOW_BATCH_MS,
    sessionTimeoutMs: config.KAFKA_SESSION_TIMEOUT_MS,
    partitionsConsumedConcurrently: config.PARTITIONS_CONCURRENTLY,
  };
  const conversions = createBatchConsumer({
    ...common,
    groupId: config.GROUP_CONVERSIONS,
    topic: config.TOPIC_POSTBACKS,
    afterWriteBeforeCommit,
    handle: createConversionHandler({
      store: clickHouseStore(ch),
      resolve: {
        clickIdSecret: config.CLICK_ID_SECRET,
        // reads of the catalog and of clicks: their failures are the stores' (retried), never a message's
        ...guarded(
          {
            getCampaign: (id: number) => campaigns.fetch(id),
            getCoupon: (merchantId: number, code: string) => coupons.get(merchantId, code),
            rateAt: (from: string, to: string, atMs: number) => fx.rateAt(from, to, atMs),
          },
          redisFailure,
        ),
        ...guarded({ firstClick: getFirstClick(ch) }, clickHouseFailure),
      },
      deadLetter,
      counters: counters(config.TOPIC_POSTBACKS),
      log,
      parkedRetentionMs: config.PARKED_RETENTION_DAYS * 86_400_000,
      parkedRecheckMs: config.PARKED_RECHECK_MS,
    }),
  });
  const clicks = createBatchConsumer({
    ...common,
    groupId: config.GROUP_CLICKS,
    topic: config.TOPIC_CLICKS,
    handle: createClickHandler({
      ch,
      write: clickWriter(ch),
      deadLetter,
      counters: counters(config.TOPIC_CLICKS),
      log,
    }),
  });

  const app = express();
  app.disable("x-powered-by");
  app.use(
    opsRouter({
      metrics,
      isStopping: () => lifecycle.isStopping,
      checks: [
        { name: "clickhouse", check: () => ch.ping() },
        { name: "conversions_loop", check: () => conversions.healthy(config.STALL_MS) },
        { name: "clicks_loop", check: () => clicks.healthy(config.STALL_MS) },
      ],
    }),
  );
  app.use(errorHandler(log));
  const server = await listen(app, config.PORT, config.HOST);
  lifecycle.defer("http_server", () => server.close());

  await conversions.start();
  lifecycle.defer("conversions_consumer", () => conversions.stop());
  await clicks.start();
  lifecycle.defer("clicks_consumer", () => clicks.stop());
  log.info({ port: server.port }, "attribution_started");
  return { server, ch };
}
