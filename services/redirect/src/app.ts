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
import { startClickPipeline } from "./click-pipeline";
import type { RedirectConfig } from "./config";
import { LinkCache } from "./link-cache";
import { isAppPath } from "./paths";
import { createRedirectHandler, REDIRECT_OUTCOMES, type RedirectOutcome } from "./redirect";

/** Builds the redirect service and registers each resource's cleanup. Nothing here waits on Kafka to be up. */
export async function startRedirect(
  config: RedirectConfig,
  deps: { catalog: Catalog; log: Logger; lifecycle: Lifecycle },
) {
  const { catalog, log, lifecycle } = deps;
  const metrics = createMetrics("redirect");
  // Counted in plain integers on the hot path, handed to prom-client when scraped: a labelled child's inc() per
  // request was a measurable share of the redirect's CPU (docs/adr/0003).
  const outcomeCounts = Object.fromEntries(REDIRECT_OUTCOMES.map((o) => [o, 0])) as Record<RedirectOutcome, number>;
  const outcomesReported = { ...outcomeCounts };
  new Counter({
    name: "redirects_total",
    help: "redirect requests by outcome",
    labelNames: ["outcome"] as const,
    registers: [metrics.registry],
    collect() {
      for (const outcome of REDIRECT_OUTCOMES) {
        this.inc({ outcome }, outcomeCounts[outcome] - outcomesReported[outcome]);
        outcomesReported[outcome] = outcomeCounts[outcome];
      }
    },
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
  const clicks = startClickPipeline(config, log, {
    sent: (n) => clicksSent.inc(n),
    spooled: (n) => clicksSpooled.inc(n),
    dropped: (n) => clicksDropped.inc(n),
  });
  const publisher = clicks.publisher;
  new Gauge({
    name: "click_spool_bytes",
    help: "bytes of click events in the spool file, waiting for Kafka",
    registers: [metrics.registry],
    collect() {
      this.set(clicks.spool.size);
    },
  });
  lifecycle.defer("click_publisher", () => clicks.stop());
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
  // In the background: requests are served (from Redis on a miss) while the cache fills. Links issued before
  // enrolment existed first enrol their influencer (once per catalog; later boots find the marker at once), then the
  // cache is warmed: one walk over every link at a time, so the two do not add up in the boot's peak memory, and
  // the backfill's Redis writes are over before the instance reports itself warm.
  const t0 = Date.now();
  void catalog.enrolments
    .backfillFromLinks((cursor) => catalog.links.scan(cursor, 2_000))
    .then(
      (n) => n > 0 && log.info({ links: n }, "enrolments_backfilled"),
      (err) => log.warn({ err: errorMessage(err) }, "enrolment_backfill_failed"),
    )
    .then(() => {
      if (!config.LINK_CACHE_WARM) return;
      return links.warm().then(
        (n) => log.info({ links: n, ms: Date.now() - t0 }, "link_cache_warmed"),
        (err) => log.warn({ err: errorMessage(err) }, "link_cache_warm_failed"),
      );
    });

  const redirect = createRedirectHandler({
    links,
    publisher,
    clickIdSecret: config.CLICK_ID_SECRET,
    trustProxy: trustPredicate(config.TRUST_PROXY),
    notFoundUrl: config.NOT_FOUND_URL,
    count: (outcome) => void outcomeCounts[outcome]++,
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
