import type { IncomingMessage } from "node:http";
import type { Catalog, Merchant } from "@aff/catalog";
import { createMetrics, errorHandler, errorMessage, httpMetricsMiddleware, type Lifecycle, type Logger, listen, opsRouter, sendValidationError } from "@aff/common";
import { ACKS_ALL, createKafka, createProducer, ensureTopics } from "@aff/kafka";
import express from "express";
import { LRUCache } from "lru-cache";
import { Counter } from "prom-client";
import { verifySignature, verifyToken } from "./auth";
import type { PostbackConfig } from "./config";
import { PostbackInput, toConversionEvent } from "./input";

type RawRequest = IncomingMessage & { rawBody?: Buffer };

/** Postbacks in, Kafka events out; 202 only once every in-sync replica has the event. */
export async function startPostback(config: PostbackConfig, deps: { catalog: Catalog; log: Logger; lifecycle: Lifecycle }) {
  const { catalog, log, lifecycle } = deps;
  const metrics = createMetrics("postback");
  const outcomes = new Counter({ name: "postbacks_total", help: "postbacks by outcome", labelNames: ["outcome"] as const, registers: [metrics.registry] });

  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: `${config.KAFKA_CLIENT_ID}-postback`, log });
  await ensureTopics(kafka, [{ topic: config.TOPIC_POSTBACKS, numPartitions: config.KAFKA_PARTITIONS, replicationFactor: config.KAFKA_REPLICATION_FACTOR }]);
  const producer = createProducer(kafka);
  await producer.connect();
  let kafkaOk = true;
  lifecycle.defer("kafka_producer", () => producer.disconnect());

  const merchants = new LRUCache<number, Merchant>({ max: 10_000, ttl: Math.max(1, config.MERCHANT_CACHE_TTL_MS) });
  const getMerchant = async (id: number) => {
    const hit = merchants.get(id);
    if (hit) return hit;
    const m = await catalog.getMerchant(id);
    if (m) merchants.set(id, m);
    return m;
  };

  const keepRaw = (req: RawRequest, _res: unknown, buf: Buffer) => {
    req.rawBody = buf;
  };
  const app = express();
  app.disable("x-powered-by");
  app.set("query parser", "simple");
  app.use(httpMetricsMiddleware(metrics));
  app.use(opsRouter({ metrics, isStopping: () => lifecycle.isStopping, checks: [{ name: "kafka", check: () => kafkaOk }, { name: "redis", check: () => catalog.redis.status === "ready" }] }));

  const reject = (res: express.Response, status: number, error: string, message: string) => {
    outcomes.inc({ outcome: error });
    res.status(status).json({ error, message });
  };

  const handle: express.RequestHandler = async (req, res) => {
    if (lifecycle.isStopping) return reject(res, 503, "shutting_down", "retry shortly");
    const body = req.body && typeof req.body === "object" && !Buffer.isBuffer(req.body) ? req.body : {};
    const merchantHeader = req.get("x-merchant-id");
    const parsed = PostbackInput.safeParse({ ...req.query, ...body, ...(merchantHeader ? { merchant_id: merchantHeader } : {}) });
    if (!parsed.success) {
      outcomes.inc({ outcome: "invalid" });
      return sendValidationError(res, parsed.error);
    }
    const input = parsed.data;
    let merchant: Merchant | undefined;
    try {
      merchant = await getMerchant(input.merchant_id);
    } catch (err) {
      log.warn({ err: errorMessage(err) }, "merchant_lookup_failed");
      return reject(res, 503, "catalog_unavailable", "retry shortly");
    }
    if (!merchant) return reject(res, 401, "unknown_merchant", `merchant ${input.merchant_id} does not exist`);
    const signature = req.get("x-signature");
    const auth = signature
      ? verifySignature(signature, merchant.postback_secret, (req as RawRequest).rawBody ?? Buffer.alloc(0), Date.now(), config.SIGNATURE_TOLERANCE_S)
      : verifyToken(input.token, merchant.postback_token);
    if (!auth.ok) return reject(res, 401, auth.code, auth.message);

    const event = toConversionEvent(input, Date.now());
    try {
      await producer.send({ topic: config.TOPIC_POSTBACKS, acks: ACKS_ALL, messages: [{ key: event.conversion_id, value: JSON.stringify(event) }] });
      kafkaOk = true;
    } catch (err) {
      kafkaOk = false;
      log.warn({ err: errorMessage(err), conversion_id: event.conversion_id }, "postback_publish_failed");
      res.set("Retry-After", "5");
      return reject(res, 503, "not_durable", "the event could not be stored; it was not accepted, retry");
    }
    outcomes.inc({ outcome: "accepted" });
    log.info({ conversion_id: event.conversion_id, event_id: event.event_id, type: event.type, merchant_id: event.merchant_id }, "postback_accepted");
    res.status(202).json({ accepted: true, conversion_id: event.conversion_id, event_id: event.event_id, type: event.type });
  };

  const bodies = [
    express.json({ limit: config.MAX_BODY_BYTES, verify: keepRaw }),
    express.urlencoded({ extended: false, limit: config.MAX_BODY_BYTES, verify: keepRaw }),
  ];
  app.get("/postback", handle);
  app.post("/postback", ...bodies, handle);
  app.post("/v1/conversions", ...bodies, handle);
  app.use((_req, res) => void res.status(404).json({ error: "not_found" }));
  app.use(errorHandler(log));

  const server = await listen(app, config.PORT, config.HOST);
  lifecycle.defer("http_server", () => server.close());
  log.info({ port: server.port }, "postback_listening");
  return { server };
}
