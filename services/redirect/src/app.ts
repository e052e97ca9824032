import type { IncomingMessage, ServerResponse } from "node:http";
import { type Catalog, createRedis } from "@aff/catalog";
import {
  createMetrics,
  errorHandler,
  errorMessage,
  healthRouter,
  httpMetricsMiddleware,
  type Lifecycle,
  type Logger,
  listen,
  notFoundHandler,
  startOpsServer,
  trustPredicate,
} from "@aff/common";
import express from "express";
import { Counter, Gauge } from "prom-client";
import { adminApi } from "./admin-api";
import { ClickSink } from "./click-sink";
import type { RedirectConfig } from "./config";
import { LinkCache } from "./link-cache";
import { isAppPath } from "./paths";
import { createRedirectHandler } from "./redirect";

/** Builds the redirect service and registers each resource's cleanup. Nothing here waits on Kafka to be up. */
export async function startRedirect(
  config: RedirectConfig,
  deps: { catalog: Catalog; log: Logger; lifecycle: Lifecycle },
) {
  const { catalog, log, lifecycle } = deps;
  const metrics = createMetrics("redirect");
  const outcomes = new Counter({
    name: "redirects_total",
    help: "redirect requests by outcome",
    labelNames: ["outcome"] as const,
    registers: [metrics.registry],
  });
  const clicksSent = new Counter({
    name: "clicks_published_total",
    help: "click events acknowledged by Kafka",
    registers: [metrics.registry],
  });
  const clicksSpooled = new Counter({
    name: "clicks_spooled_total",
    help: "click events written to the spool file",
    registers: [metrics.registry],
  });

  const clicksDropped = new Counter({
    name: "clicks_dropped_total",
    help: "click events lost because the spool file was full (CLICK_SPOOL_MAX_BYTES); their redirects were served",
    registers: [metrics.registry],
  });
  new Gauge({
    name: "click_spool_bytes",
    help: "bytes of click events in the spool file, waiting for Kafka",
    registers: [metrics.registry],
    collect() {
      this.set(publisher.spoolBytes);
    },
  });
  const publisher = new ClickSink(
    {
      logLevel: config.LOG_LEVEL,
      brokers: config.KAFKA_BROKERS,
      clientId: `${config.KAFKA_CLIENT_ID}-redirect`,
      topic: config.TOPIC_CLICKS,
      partitions: config.KAFKA_PARTITIONS,
      replicationFactor: config.KAFKA_REPLICATION_FACTOR,
      minInsyncReplicas: config.KAFKA_MIN_INSYNC_REPLICAS,
      idempotent: config.KAFKA_IDEMPOTENT,
      spoolDir: config.CLICK_SPOOL_DIR,
      spoolName: `clicks-${config.PORT}`,
      spoolMaxBytes: config.CLICK_SPOOL_MAX_BYTES,
      batchMax: config.CLICK_BATCH_MAX,
      flushMs: config.CLICK_FLUSH_MS,
      queueMax: config.CLICK_QUEUE_MAX,
    },
    log,
    ({ sent, spooled, dropped }) => {
      clicksSent.inc(sent);
      clicksSpooled.inc(spooled);
      clicksDropped.inc(dropped);
    },
  );
  lifecycle.defer("click_publisher", () => publisher.stop());
  new Gauge({
    name: "link_cache_entries",
    help: "links held in memory",
    registers: [metrics.registry],
    collect() {
      this.set(links.size);
    },
  });
  new Gauge({
    name: "click_queue_depth",
    help: "click events waiting for Kafka in memory",
    registers: [metrics.registry],
    collect() {
      this.set(publisher.depth);
    },
  });

  const links = new LinkCache(catalog, log, { max: config.LINK_CACHE_MAX });
  links.startResync(config.LINK_CACHE_RESYNC_MS);
  lifecycle.defer("link_cache", () => links.stop());
  const subscriber = createRedis(config);
  subscriber.on("error", () => undefined);
  lifecycle.defer("redis_subscriber", () => void subscriber.disconnect());
  await links.subscribe(subscriber);
  if (config.LINK_CACHE_WARM) {
    // In the background: requests are served (from Redis on a miss) while the cache fills.
    const t0 = Date.now();
    links.warm().then(
      (n) => log.info({ links: n, ms: Date.now() - t0 }, "link_cache_warmed"),
      (err) => log.warn({ err: errorMessage(err) }, "link_cache_warm_failed"),
    );
  }

  // Links issued before enrolment existed enrol their influencer (once per catalog, in the background).
  catalog.enrolments
    .backfillFromLinks((cursor) => catalog.links.scan(cursor, 2_000))
    .then(
      (n) => n > 0 && log.info({ links: n }, "enrolments_backfilled"),
      (err) => log.warn({ err: errorMessage(err) }, "enrolment_backfill_failed"),
    );

  const redirect = createRedirectHandler({
    links,
    publisher,
    clickIdSecret: config.CLICK_ID_SECRET,
    trustProxy: trustPredicate(config.TRUST_PROXY),
    notFoundUrl: config.NOT_FOUND_URL,
    count: (outcome) => outcomes.inc({ outcome }),
  });

  const app = express();
  app.disable("x-powered-by");
  app.use(httpMetricsMiddleware(metrics));
  app.use(healthRouter());
  app.use("/api", adminApi(catalog, config.ADMIN_API_KEY));
  app.use(notFoundHandler());
  app.use(errorHandler(log));

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? "/";
    // Everything else on GET is a link code: the public port shows no metrics or dependency state.
    if ((req.method === "GET" || req.method === "HEAD") && !isAppPath(url)) return redirect(req, res);
    app(req, res);
  };
  const ops = await startOpsServer({
    ...{
      metrics,
      isStopping: () => lifecycle.isStopping,
      checks: [
        { name: "kafka", check: () => publisher.healthy },
        { name: "redis", check: () => catalog.redis.status === "ready" },
      ],
    },
    port: config.OPS_PORT,
    host: config.OPS_HOST,
    log,
    lifecycle,
  });
  const server = await listen(handler, config.PORT, config.HOST);
  lifecycle.defer("http_server", () => server.close());
  log.info({ port: server.port, ops_port: ops.port }, "redirect_listening");
  return { server, ops, publisher, links };
}
