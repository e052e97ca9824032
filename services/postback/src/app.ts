import type { Catalog } from "@aff/catalog";
import {
  createMetrics,
  errorHandler,
  healthRouter,
  httpMetricsMiddleware,
  type Lifecycle,
  type Logger,
  listen,
  notFoundHandler,
  sendError,
  startOpsServer,
  trustPredicate,
} from "@aff/common";
import { createKafka, createProducer, ensureTopics, topicSpec } from "@aff/kafka";
import express from "express";
import { Counter, Histogram } from "prom-client";
import { createAuthenticator } from "./authenticate";
import { type BodyError, bodyReader } from "./body";
import type { PostbackConfig } from "./config";
import { fastPathHandler } from "./fast-path";
import { PostbackGuard } from "./guard";
import { createIntake } from "./intake";
import { createCoalescingPublisher } from "./publisher";
import { apiRoutes } from "./routes/api";
import { platformRoutes } from "./routes/platforms";
import { postbackRoutes } from "./routes/postback";
import { type Answer, createRouteKit } from "./routing";

/** Postbacks in, Kafka events out; 2xx only once every in-sync replica has the event. Wiring only. */
export async function startPostback(
  config: PostbackConfig,
  deps: { catalog: Catalog; log: Logger; lifecycle: Lifecycle },
) {
  const { catalog, log, lifecycle } = deps;
  const metrics = createMetrics("postback");
  const outcomes = new Counter({
    name: "postbacks_total",
    help: "postback requests by outcome code",
    labelNames: ["outcome"] as const,
    registers: [metrics.registry],
  });
  const sendSize = new Histogram({
    name: "postback_kafka_send_messages",
    help: "messages per coalesced Kafka send",
    buckets: [1, 4, 16, 64, 256, 1024, 4096],
    registers: [metrics.registry],
  });

  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: `${config.KAFKA_CLIENT_ID}-postback`, log });
  await ensureTopics(kafka, [topicSpec(config, config.TOPIC_POSTBACKS)]);
  const producer = createProducer(kafka, { idempotent: config.KAFKA_IDEMPOTENT });
  await producer.connect();
  lifecycle.defer("kafka_producer", () => producer.disconnect());
  let kafkaOk = true;
  const onDurability = (ok: boolean) => {
    kafkaOk = ok;
  };
  const publisher = createCoalescingPublisher(producer, config.TOPIC_POSTBACKS, {
    maxBatchMessages: config.PUBLISH_MAX_BATCH,
    timeoutMs: config.PUBLISH_TIMEOUT_MS,
    onSend: (n) => sendSize.observe(n),
  });
  // The catalog's Redis on a second connection of its own. The guard batches the claims and the markers of one
  // event-loop turn into one script call each (auto-pipelining would only wrap that one command and wait a turn more).
  const guardRedis = catalog.redis.duplicate();
  guardRedis.on("error", (err) => log.debug({ err: err.message }, "redis_error"));
  lifecycle.defer("guard_redis", () => void guardRedis.disconnect());
  const guard = new PostbackGuard(guardRedis, catalog.prefix, {
    replayTtlS: config.SIGNATURE_TOLERANCE_S * 2,
    saleTtlS: config.SALE_DEDUP_TTL_S,
    deliveryTtlS: config.WEBHOOK_REPLAY_WINDOW_S * 2,
  });
  const accept = createIntake({ guard, publisher });
  const kit = createRouteKit({ log, lifecycle, outcomes, accept, onDurability });
  const auth = createAuthenticator(config, { catalog, log });
  const postback = postbackRoutes(kit, auth);
  const api = apiRoutes(kit, auth, config);
  const platforms = platformRoutes(kit, auth, guard, config);

  const bodyRefused = (res: Answer, e: BodyError) => {
    outcomes.inc({ outcome: e.code });
    log.info({ code: e.code, status: e.status }, "postback_refused");
    sendError(res, e.code, e.message);
  };
  const bodies = bodyReader(config.MAX_BODY_BYTES, bodyRefused);
  const rawBodies = express.raw({ type: () => true, limit: config.MAX_BODY_BYTES });

  const app = express();
  app.disable("x-powered-by");
  app.disable("etag");
  app.set("query parser", "simple");
  const trust = trustPredicate(config.TRUST_PROXY);
  app.set("trust proxy", trust);
  app.use(httpMetricsMiddleware(metrics));
  app.get("/postback", postback.get);
  app.post("/postback", bodies, postback.post);
  app.post("/v1/conversions", bodies, api.single);
  app.post("/v1/conversions/batch", bodies, api.batch);
  app.post("/webhooks/shopify/:merchantId", rawBodies, platforms.shopify);
  app.post("/webhooks/woocommerce/:merchantId", rawBodies, platforms.woocommerce);
  app.use(healthRouter());
  app.use(notFoundHandler());
  app.use(errorHandler(log));

  const handler = fastPathHandler({
    routes: new Map([
      ["/v1/conversions", api.single],
      ["/postback", postback.post],
    ]),
    app,
    trust,
    maxBodyBytes: config.MAX_BODY_BYTES,
    metrics,
    log,
    bodyRefused,
  });
  const ops = await startOpsServer({
    metrics,
    isStopping: () => lifecycle.isStopping,
    checks: [
      { name: "kafka", check: () => kafkaOk },
      { name: "redis", check: () => catalog.redis.status === "ready" && guardRedis.status === "ready" },
    ],
    port: config.OPS_PORT,
    host: config.OPS_HOST,
    log,
    lifecycle,
  });
  const server = await listen(handler, config.PORT, config.HOST);
  lifecycle.defer("http_server", () => server.close());
  log.info({ port: server.port, ops_port: ops.port }, "postback_listening");
  return { server, ops };
}
