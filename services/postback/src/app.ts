import type { IncomingMessage, ServerResponse } from "node:http";
import { parse as parseQuery } from "node:querystring";
import { acceptedCredentials, type Catalog, type Merchant } from "@aff/catalog";
import {
  ApiError,
  AppError,
  clientAddress,
  createMetrics,
  type ErrorSink,
  errorHandler,
  errorMessage,
  healthRouter,
  httpMetricsMiddleware,
  type Lifecycle,
  type Logger,
  listen,
  normalizeIp,
  notFoundHandler,
  sendError,
  startOpsServer,
  trustPredicate,
  validationError,
  zodIssues,
} from "@aff/common";
import type { ConversionEvent, EventSource } from "@aff/events";
import { createKafka, createProducer, ensureTopics } from "@aff/kafka";
import express from "express";
import { LRUCache } from "lru-cache";
import { Counter, Histogram } from "prom-client";
import type { z } from "zod";
import { type AuthResult, ipAllowlist, verifyPlatformHmac, verifySignature, verifyToken } from "./auth";
import { type BodyError, bodyReader, parseBody, readRaw } from "./body";
import type { PostbackConfig } from "./config";
import { PostbackGuard } from "./guard";
import { MerchantId, PostbackInput, toConversionEvent } from "./input";
import { createIntake, type EventResult, type Signature } from "./intake";
import { type PlatformResult, parseJsonKeepingIds } from "./platforms/common";
import { fromShopify } from "./platforms/shopify";
import { fromWooCommerce } from "./platforms/woocommerce";
import { createCoalescingPublisher } from "./publisher";

type Caller = { merchant: Merchant; signature?: Signature };
/** The part of a request the routes read: an express request, or the lean one of the fast path below. */
type Ask = {
  ip?: string;
  path: string;
  body: unknown;
  query: unknown;
  params: Record<string, string>;
  rawBody?: Buffer;
  get(name: string): string | undefined;
};
/** The part of a response the routes write. */
type Answer = ErrorSink;
const invalid = validationError;

/** Postbacks in, Kafka events out; 2xx only once every in-sync replica has the event. */
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
  await ensureTopics(kafka, [
    {
      topic: config.TOPIC_POSTBACKS,
      numPartitions: config.KAFKA_PARTITIONS,
      replicationFactor: config.KAFKA_REPLICATION_FACTOR,
    },
  ]);
  const producer = createProducer(kafka);
  await producer.connect();
  lifecycle.defer("kafka_producer", () => producer.disconnect());
  let kafkaOk = true;
  const publisher = createCoalescingPublisher(producer, config.TOPIC_POSTBACKS, {
    maxBatchMessages: config.PUBLISH_MAX_BATCH,
    onSend: (n) => sendSize.observe(n),
  });
  // The catalog's Redis, on a second connection with auto-pipelining: the commands of concurrent postbacks leave
  // in one write per event-loop tick instead of one each, which is where the per-request Redis cost went.
  const guardRedis = catalog.redis.duplicate({ enableAutoPipelining: true });
  guardRedis.on("error", (err) => log.debug({ err: err.message }, "redis_error"));
  lifecycle.defer("guard_redis", () => void guardRedis.disconnect());
  const guard = new PostbackGuard(guardRedis, catalog.prefix, {
    replayTtlS: config.SIGNATURE_TOLERANCE_S * 2,
    saleTtlS: config.SALE_DEDUP_TTL_S,
  });
  const accept = createIntake({ guard, publisher, publishTimeoutMs: config.PUBLISH_TIMEOUT_MS });

  const merchants = new LRUCache<number, Merchant>({ max: 10_000, ttl: Math.max(1, config.MERCHANT_CACHE_TTL_MS) });
  const allowlists = new WeakMap<Merchant, (ip: string) => boolean>();
  const getMerchant = async (id: number) => {
    const hit = merchants.get(id);
    if (hit) return hit;
    const m = await catalog.getMerchant(id);
    if (m) merchants.set(id, m);
    return m;
  };

  /** Finds the merchant and checks its IP allowlist; `verify` then checks the credentials the route accepts. */
  const authenticate = async (req: Ask, rawId: unknown, verify: (m: Merchant) => AuthResult): Promise<Caller> => {
    const id = MerchantId.safeParse(rawId);
    if (!id.success) throw invalid(id.error, "merchant_id");
    let merchant: Merchant | undefined;
    try {
      merchant = await getMerchant(id.data);
    } catch (err) {
      log.warn({ err: errorMessage(err) }, "merchant_lookup_failed");
      throw new ApiError("catalog_unavailable", "retry shortly");
    }
    if (!merchant) throw new ApiError("unknown_merchant", `merchant ${id.data} does not exist`);
    const allowed = allowlists.get(merchant) ?? ipAllowlist(merchant.ip_allowlist);
    allowlists.set(merchant, allowed);
    if (!allowed(normalizeIp(req.ip ?? "")))
      throw new ApiError("ip_not_allowed", `address ${req.ip} is not on the merchant's allowlist`);
    const auth = verify(merchant);
    if (!auth.ok) throw new ApiError(auth.code, auth.message);
    return { merchant, signature: auth.mac ? { merchantId: merchant.id, mac: auth.mac } : undefined };
  };
  const rawBody = (req: Ask) => req.rawBody ?? Buffer.alloc(0);
  const signed =
    (req: Ask, tokenAllowed: string | undefined | false) =>
    (m: Merchant): AuthResult => {
      const creds = acceptedCredentials(m, Date.now());
      const header = req.get("x-signature");
      if (header) return verifySignature(header, creds.secrets, rawBody(req), Date.now(), config.SIGNATURE_TOLERANCE_S);
      if (tokenAllowed === false)
        return {
          ok: false as const,
          code: "missing_signature" as const,
          message: "this endpoint requires an X-Signature header",
        };
      return verifyToken(tokenAllowed, creds.tokens);
    };

  const accepted = async (events: ConversionEvent[], signature: Signature | undefined): Promise<EventResult[]> => {
    try {
      const r = await accept(events, signature);
      if (r.kind === "replayed")
        throw new ApiError(
          "replayed_signature",
          "this signature was already used; sign each request with a fresh timestamp",
        );
      kafkaOk = true;
      return r.results;
    } catch (err) {
      if (err instanceof ApiError || !(err instanceof AppError)) throw err;
      if (err.code === "not_durable") kafkaOk = false;
      log.warn({ err: errorMessage(err.cause ?? err), code: err.code, events: events.length }, "postback_not_stored");
      throw new ApiError(err.code === "not_durable" ? "not_durable" : "catalog_unavailable", err.message);
    }
  };

  /** Runs a route body; a Refusal becomes its 4xx/503 answer with a log line and a metric. */
  const route =
    (fn: (req: Ask, res: Answer) => Promise<void>) =>
    async (req: Ask, res: Answer): Promise<void> => {
      try {
        if (lifecycle.isStopping) throw new ApiError("shutting_down", "retry shortly");
        await fn(req, res);
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        outcomes.inc({ outcome: err.code });
        log.info({ code: err.code, status: err.status, path: req.path }, "postback_refused");
        sendError(res, err);
      }
    };
  const answerOne = (res: Answer, r: EventResult | undefined) => {
    if (!r) throw new Error("no result for the event");
    outcomes.inc({ outcome: r.duplicate ? "duplicate" : "accepted" });
    log.debug(
      { conversion_id: r.conversion_id, event_id: r.event_id, type: r.type, duplicate: r.duplicate },
      "postback_accepted",
    );
    if (r.duplicate)
      return void res
        .status(200)
        .json({ accepted: true, duplicate: true, conversion_id: r.conversion_id, event_id: r.event_id, type: r.type });
    res
      .status(202)
      .json({ accepted: true, duplicate: false, conversion_id: r.conversion_id, event_id: r.event_id, type: r.type });
  };
  const objectBody = (req: Ask): Record<string, unknown> => {
    const b: unknown = req.body;
    if (b === undefined || (typeof b === "object" && b !== null && !Array.isArray(b) && !Buffer.isBuffer(b)))
      return (b ?? {}) as Record<string, unknown>;
    throw new ApiError("malformed_body", "the body must be a JSON object or a form");
  };

  /** GET/POST in the conventions merchants use; signature or (weaker) token. */
  const postback = (source: EventSource, tokenOk: boolean) =>
    route(async (req, res) => {
      const fields: Record<string, unknown> = { ...(req.query as Record<string, unknown>), ...objectBody(req) };
      if (req.get("x-merchant-id")) fields.merchant_id = req.get("x-merchant-id");
      const caller = await authenticate(
        req,
        fields.merchant_id,
        signed(req, tokenOk ? (typeof fields.token === "string" ? fields.token : undefined) : false),
      );
      const parsed = PostbackInput.safeParse({ ...fields, merchant_id: caller.merchant.id });
      if (!parsed.success) throw invalid(parsed.error);
      const [result] = await accepted([toConversionEvent(parsed.data, Date.now(), source)], caller.signature);
      answerOne(res, result);
    });

  /** Up to MAX_BATCH_EVENTS signed events; each gets its own result, the answer is 202, 207 (mixed) or 400. */
  const batch = route(async (req, res) => {
    const body = objectBody(req);
    const caller = await authenticate(req, req.get("x-merchant-id") ?? body.merchant_id, signed(req, false));
    const list = body.events;
    if (!Array.isArray(list) || list.length === 0)
      throw new ApiError("validation_failed", "events must be a non-empty array", {
        issues: [{ path: "events", message: "must be a non-empty array", code: "invalid_type" }],
      });
    if (list.length > config.MAX_BATCH_EVENTS)
      throw new ApiError("batch_too_large", `at most ${config.MAX_BATCH_EVENTS} events per batch, got ${list.length}`);
    const now = Date.now();
    const results: Record<string, unknown>[] = new Array(list.length);
    const events: ConversionEvent[] = [];
    const slots: number[] = [];
    list.forEach((item, index) => {
      const own = item && typeof item === "object" ? (item as Record<string, unknown>).merchant_id : undefined;
      if (own !== undefined && String(own) !== String(caller.merchant.id)) {
        results[index] = {
          index,
          status: 400,
          error: "validation_failed",
          issues: [{ path: `events.${index}.merchant_id`, message: "must be the signing merchant", code: "custom" }],
        };
        return;
      }
      const parsed = PostbackInput.safeParse(
        item && typeof item === "object" ? { ...item, merchant_id: caller.merchant.id } : item,
      );
      if (!parsed.success) {
        const at = (path: string) => (path === "(body)" ? `events.${index}` : `events.${index}.${path}`);
        results[index] = {
          index,
          status: 400,
          error: "validation_failed",
          issues: zodIssues(parsed.error).map((i) => ({ ...i, path: at(i.path) })),
        };
        return;
      }
      events.push(toConversionEvent(parsed.data, now, "api"));
      slots.push(index);
    });
    const done = events.length > 0 ? await accepted(events, caller.signature) : [];
    done.forEach((r, i) => {
      const index = slots[i] ?? -1;
      results[index] = { index, status: r.duplicate ? 200 : 202, ...r };
    });
    const bad = list.length - events.length;
    outcomes.inc({ outcome: "batch" });
    res
      .status(bad === list.length ? 400 : bad > 0 ? 207 : done.every((r) => r.duplicate) ? 200 : 202)
      .json({ accepted: events.length, rejected: bad, results });
  });

  /** Order webhooks of a store platform, verified with its base64 HMAC header and mapped onto our events. */
  const platform = (
    source: "shopify" | "woocommerce",
    header: string,
    secretOf: (m: Merchant) => string | undefined,
    map: (topic: string | undefined, body: unknown, merchantId: number) => PlatformResult | z.ZodError,
    topicHeader: string,
  ) =>
    route(async (req, res) => {
      const raw: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      // WooCommerce checks a new webhook URL with an unsigned form post `webhook_id=<n>`; it carries no order.
      if (source === "woocommerce" && !req.get(topicHeader) && /^webhook_id=\d+$/.test(raw.toString("utf8")))
        return void res.status(200).json({ pong: true });
      const caller = await authenticate(req, req.params.merchantId ?? "", (m) => {
        const own = secretOf(m);
        return verifyPlatformHmac(
          req.get(header),
          header,
          own ? [own] : acceptedCredentials(m, Date.now()).secrets,
          raw,
        );
      });
      let json: unknown;
      try {
        json = parseJsonKeepingIds(raw.toString("utf8"));
      } catch {
        throw new ApiError("malformed_body", "the body is not JSON");
      }
      const mapped = map(req.get(topicHeader), json, caller.merchant.id);
      if (!("kind" in mapped)) throw invalid(mapped);
      if (mapped.kind === "unsupported") throw new ApiError("unsupported_topic", mapped.message);
      if (mapped.kind === "ignored") {
        outcomes.inc({ outcome: "ignored" });
        log.info({ source, merchant_id: caller.merchant.id, reason: mapped.reason }, "webhook_ignored");
        return void res.status(200).json({ accepted: true, events: [], ignored: mapped.reason });
      }
      const now = Date.now();
      const events = mapped.events.map((fields, i) => {
        const parsed = PostbackInput.safeParse(fields);
        if (!parsed.success) throw invalid(parsed.error, `events.${i}`);
        return toConversionEvent(parsed.data, now, source);
      });
      const results = await accepted(events, caller.signature);
      outcomes.inc({ outcome: "webhook" });
      res.status(results.every((r) => r.duplicate) ? 200 : 202).json({ accepted: true, events: results });
    });

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
  const postbackPost = postback("postback", true);
  const conversionsApi = postback("api", false);
  app.get("/postback", postback("postback", true));
  app.post("/postback", bodies, postbackPost);
  app.post("/v1/conversions", bodies, conversionsApi);
  app.post("/v1/conversions/batch", bodies, batch);
  app.post(
    "/webhooks/shopify/:merchantId",
    rawBodies,
    platform("shopify", "x-shopify-hmac-sha256", (m) => m.shopify_webhook_secret, fromShopify, "x-shopify-topic"),
  );
  app.post(
    "/webhooks/woocommerce/:merchantId",
    rawBodies,
    platform(
      "woocommerce",
      "x-wc-webhook-signature",
      (m) => m.woocommerce_webhook_secret,
      fromWooCommerce,
      "x-wc-webhook-topic",
    ),
  );
  // After the postback routes, so the hot path does not walk the ops router first.
  app.use(healthRouter());
  app.use(notFoundHandler());
  app.use(errorHandler(log));

  // The two single-event POST routes skip express (its routing and response helpers cost more per request than
  // everything else we do but Kafka); they run the very same route functions and resolve the client address
  // with the same proxy trust as express.
  const fast = new Map<string, (req: Ask, res: Answer) => Promise<void>>([
    ["/v1/conversions", conversionsApi],
    ["/postback", postbackPost],
  ]);
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = q < 0 ? url : url.slice(0, q);
    const fn = req.method === "POST" ? fast.get(path) : undefined;
    if (!fn) return void app(req, res);
    void serveFast(fn, path, q < 0 ? "" : url.slice(q + 1), req, res);
  };
  const serveFast = async (
    fn: (req: Ask, res: Answer) => Promise<void>,
    path: string,
    search: string,
    req: IncomingMessage,
    res: ServerResponse,
  ) => {
    const end = metrics.httpDuration.startTimer();
    const headers: Record<string, string> = { "content-type": "application/json; charset=utf-8" };
    const answer: Answer = {
      set: (field, value) => {
        headers[field] = value;
      },
      status: (code) => ({
        json: (body) => {
          res.writeHead(code, headers);
          res.end(JSON.stringify(body));
        },
      }),
    };
    try {
      let raw: Buffer;
      try {
        raw = await readRaw(req, config.MAX_BODY_BYTES);
      } catch (err) {
        if (err && typeof err === "object" && "status" in err) return bodyRefused(answer, err as BodyError);
        throw err;
      }
      const parsed = parseBody(raw, req.headers["content-type"]);
      if (!("body" in parsed)) return bodyRefused(answer, parsed);
      const get = (name: string) => {
        const v = req.headers[name.toLowerCase()];
        return Array.isArray(v) ? v.join(", ") : v;
      };
      await fn(
        {
          ip: clientAddress(req, trust),
          path,
          body: parsed.body,
          rawBody: raw,
          query: parseQuery(search),
          params: {},
          get,
        },
        answer,
      );
    } catch (err) {
      log.error({ err: errorMessage(err), path }, "http_unhandled_error");
      if (!res.headersSent) sendError(answer, "internal_error", "internal error");
    } finally {
      metrics.httpRequests.inc({ route: path, status: String(res.statusCode) });
      end({ route: path });
    }
  };

  const ops = await startOpsServer({
    ...{
      metrics,
      isStopping: () => lifecycle.isStopping,
      checks: [
        { name: "kafka", check: () => kafkaOk },
        { name: "redis", check: () => catalog.redis.status === "ready" && guardRedis.status === "ready" },
      ],
    },
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
