import { type Catalog, connectCatalog, type Principal } from "@aff/catalog";
import {
  type ClickHouse,
  clickHouseOptions,
  createClickHouse,
  getCommissionReport,
  getPayableLines,
  getStatement,
  type ReportSource,
  streamCommissionReport,
  streamStatement,
} from "@aff/clickhouse";
import {
  AppError,
  createMetrics,
  errorHandler,
  healthRouter,
  httpMetricsMiddleware,
  keyAuth,
  type Lifecycle,
  type Logger,
  listen,
  type Metrics,
  notFoundHandler,
  sendError,
  sendValidationError,
  startOpsServer,
} from "@aff/common";
import { ACKS_ALL, createKafka, createProducer } from "@aff/kafka";
import express from "express";
import { Counter } from "prom-client";
import type { z } from "zod";
import { applyScope, canManage, resolveKey } from "./access";
import type { ReportsConfig } from "./config";
import { sendCsv } from "./csv";
import { encodeCursor } from "./cursor";
import { dashboardRouter } from "./dashboard";
import { sendExactJson } from "./json";
import { openApiDocument } from "./openapi";
import { outcomesApi } from "./outcomes-api";
import { type PayoutPublisher, payoutsApi } from "./payouts-api";
import { commissionQuery, payoutQuery, statementQuery, ThresholdBody } from "./query";
import {
  commissionCsv,
  commissionCsvHeader,
  commissionJson,
  payoutCsv,
  payoutCsvHeader,
  payoutRows,
  statementCsv,
  statementCsvHeader,
  statementJson,
} from "./rows";
import { scorecardsApi } from "./scorecards-api";
import { PayoutThresholds } from "./thresholds";

/** Rows per JSON page when the caller gives no limit. */
const DEFAULT_PAGE = 100;

/** Validates the query string; on failure answers 400 with the field and reason and returns undefined. */
function parseQuery<S extends z.ZodType>(
  schema: S,
  req: express.Request,
  res: express.Response,
): z.output<S> | undefined {
  const q = schema.safeParse(req.query);
  if (!q.success) {
    sendValidationError(res, q.error);
    return undefined;
  }
  return q.data;
}

/** The caller's scope for the asked ids, or a 403 naming the field. */
function scoped(res: express.Response, asked: { merchant_id?: number; influencer_id?: number }) {
  const s = applyScope(res.locals.principal as Principal, asked);
  if (!s.ok) {
    sendError(res, "forbidden", s.message, [{ path: s.field, message: s.message, code: "forbidden" }]);
    return undefined;
  }
  return s.scope;
}

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** Says which source answered, in the `X-Report-Source` header and the `report_source_total` metric. */
type SourceRecorder = (res: express.Response, report: string, source: ReportSource) => void;

function sourceRecorder(metrics: Metrics): SourceRecorder {
  const answered = new Counter({
    name: "report_source_total",
    help: "reports answered, by report and source: aggregate (pre-aggregates) or ledger",
    labelNames: ["report", "source"] as const,
    registers: [metrics.registry],
  });
  return (res, report, source) => {
    answered.inc({ report, source });
    res.setHeader("X-Report-Source", source);
  };
}

function reportsApi(
  { ch, ledger }: { ch: ClickHouse; ledger: ClickHouse },
  config: ReportsConfig,
  thresholds: PayoutThresholds,
  recordSource: SourceRecorder,
): express.Router {
  const CommissionQuery = commissionQuery(config.MAX_RANGE_DAYS);
  const StatementQuery = statementQuery(config.MAX_RANGE_DAYS);
  const report = getCommissionReport(ch, ledger);
  const reportStream = streamCommissionReport(ch, ledger);
  const statement = getStatement(ledger);
  const statementStream = streamStatement(ledger);
  const payable = getPayableLines(ch, ledger);
  const api = express.Router();

  api.get("/reports/commissions", async (req, res) => {
    const q = parseQuery(CommissionQuery, req, res);
    const scope = q && scoped(res, q);
    if (!q || !scope) return;
    const filter = {
      ...q,
      ...scope,
      timeZone: q.tz,
      statuses: q.status,
      campaignId: q.campaign_id,
      flags: q.flag,
      groupBy: q.group_by,
    };
    if (q.format === "csv") {
      const { source, rows } = await reportStream({ ...filter, limit: q.limit });
      recordSource(res, "commissions", source);
      return sendCsv(
        res,
        `commissions_by_${q.group_by}_${day(q.fromMs)}_${day(q.toMs)}.csv`,
        commissionCsvHeader(q.group_by),
        rows,
        (r) => commissionCsv(commissionJson(r, q.group_by), q.group_by),
      );
    }
    const limit = q.limit ?? DEFAULT_PAGE;
    const { source, rows } = await report({ ...filter, limit: limit + 1 });
    recordSource(res, "commissions", source);
    sendExactJson(res, {
      from: new Date(q.fromMs).toISOString(),
      to: new Date(q.toMs).toISOString(),
      tz: q.tz,
      as_of: new Date(q.asOfMs).toISOString(),
      group_by: q.group_by,
      rows: rows.slice(0, limit).map((r) => commissionJson(r, q.group_by)),
      next_offset: rows.length > limit ? q.offset + limit : null,
    });
  });

  api.get("/reports/statements", async (req, res) => {
    const q = parseQuery(StatementQuery, req, res);
    const scope = q && scoped(res, q);
    if (!q || !scope) return;
    const filter = { ...q, ...scope, timeZone: q.tz, statuses: q.status, campaignId: q.campaign_id, flags: q.flag };
    if (q.format === "csv") {
      return sendCsv(
        res,
        `statement_${day(q.fromMs)}_${day(q.toMs)}.csv`,
        statementCsvHeader,
        statementStream({ ...filter, after: q.cursor, limit: q.limit }),
        (l) => statementCsv(statementJson(l, q.asOfMs)),
      );
    }
    const limit = q.limit ?? DEFAULT_PAGE;
    const lines = await statement({ ...filter, after: q.cursor, limit: limit + 1 });
    const last = lines[limit - 1];
    recordSource(res, "statements", "ledger");
    sendExactJson(res, {
      from: new Date(q.fromMs).toISOString(),
      to: new Date(q.toMs).toISOString(),
      as_of: new Date(q.asOfMs).toISOString(),
      lines: lines.slice(0, limit).map((l) => statementJson(l, q.asOfMs)),
      next_offset: lines.length > limit ? q.offset + limit : null,
      next_cursor: lines.length > limit && last ? encodeCursor(last) : null,
    });
  });

  api.get("/reports/payouts", async (req, res) => {
    const q = parseQuery(payoutQuery, req, res);
    const scope = q && scoped(res, q);
    if (!q || !scope) return;
    const [{ source, rows: lines }, minPayout] = await Promise.all([
      payable({ ...q, ...scope, campaignId: q.campaign_id }),
      thresholds.lookup(),
    ]);
    const rows = payoutRows(lines, minPayout);
    recordSource(res, "payouts", source);
    if (q.format === "csv")
      return sendCsv(res, `payouts_${day(q.asOfMs)}.csv`, payoutCsvHeader, toAsync(rows), payoutCsv);
    sendExactJson(res, { as_of: new Date(q.asOfMs).toISOString(), rows });
  });

  api.put("/payout-thresholds/:campaign_id", express.json({ limit: "4kb" }), async (req, res) => {
    if (!canManage(res.locals.principal as Principal))
      return sendError(res, "forbidden", "only admin and finance keys set payout thresholds");
    const id = Number(req.params.campaign_id);
    if (!Number.isInteger(id) || id < 1 || id > 2 ** 32 - 1)
      return sendError(res, "validation_failed", "the request has invalid fields", [
        { path: "campaign_id", message: "must be a positive integer", code: "custom" },
      ]);
    const body = ThresholdBody.safeParse(req.body);
    if (!body.success) return sendValidationError(res, body.error);
    await thresholds.set(id, body.data.min_payout_minor);
    res.json({ campaign_id: id, min_payout_minor: body.data.min_payout_minor });
  });
  return api;
}

/** ClickHouse unreachable, slow or overloaded is an outage: 503 so callers retry. ClickHouse refusing a query is a bug: 500. */
function clickhouseUnavailable(log: Logger): express.ErrorRequestHandler {
  return (err, _req, res, next) => {
    if (!(err instanceof AppError) || err.code !== "clickhouse_unavailable" || res.headersSent) return next(err);
    log.warn({ query: err.context.query, err: err.message }, "report_query_failed");
    sendError(res, "reports_unavailable", "the report could not be computed now; retry");
  };
}

/**
 * The producer of payout events: the postbacks topic (created by the postback service), keyed by conversion id, acks
 * from all in-sync replicas. It connects on first use, so the reports answer whether or not Kafka is up; marking a
 * line paid while Kafka is down fails (503-class error) and can be repeated safely (event ids are derived).
 */
function payoutPublisher(config: ReportsConfig, log: Logger, lifecycle: Lifecycle): PayoutPublisher {
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: `${config.KAFKA_CLIENT_ID}-reports`, log });
  const producer = createProducer(kafka);
  let connected: Promise<void> | undefined;
  lifecycle.defer("kafka_producer", async () => {
    if (connected) await producer.disconnect();
  });
  return async (events) => {
    if (events.length === 0) return;
    connected ??= producer.connect().catch((err: unknown) => {
      connected = undefined;
      throw err;
    });
    await connected;
    await producer.send({
      topic: config.TOPIC_POSTBACKS,
      acks: ACKS_ALL,
      messages: events.map((e) => ({ key: e.conversion_id, value: JSON.stringify(e) })),
    });
  };
}

async function* toAsync<T>(rows: readonly T[]): AsyncIterable<T> {
  yield* rows;
}

/** The finance API: figures summed from the commission ledger, as JSON or CSV, plus the dashboard. */
export async function startReports(
  config: ReportsConfig,
  deps: { log: Logger; lifecycle: Lifecycle; catalog?: Catalog },
) {
  const { log, lifecycle } = deps;
  const metrics = createMetrics("reports");
  const ch = createClickHouse(clickHouseOptions(config, log));
  lifecycle.defer("clickhouse", () => ch.close());
  // reads the ledger answers (long periods with FINAL send nothing until done): same server, longer timeout
  const ledger = createClickHouse({
    ...clickHouseOptions(config, log),
    requestTimeoutMs: config.REPORTS_LEDGER_TIMEOUT_MS,
  });
  lifecycle.defer("clickhouse_ledger", () => ledger.close());
  const catalog = deps.catalog ?? connectCatalog(config, deps);
  const thresholds = new PayoutThresholds(
    catalog.redis,
    `${catalog.prefix}reports:payout_min`,
    config.PAYOUT_MIN_DEFAULT_MINOR,
  );

  const app = express();
  app.disable("x-powered-by");
  app.set("query parser", "simple");
  app.use(httpMetricsMiddleware(metrics));
  app.use(healthRouter());
  const openapi = openApiDocument(config.MAX_RANGE_DAYS);
  app.get("/openapi.json", (_req, res) => void res.json(openapi));
  app.use("/dashboard", dashboardRouter());
  app.get("/", (_req, res) => res.redirect("/dashboard/"));
  app.use(
    "/v1",
    keyAuth(resolveKey(catalog, config.REPORTS_API_KEY)),
    reportsApi({ ch, ledger }, config, thresholds, sourceRecorder(metrics)),
    scorecardsApi(ch, catalog, config),
    outcomesApi(ch),
    payoutsApi({ ch, catalog, config, thresholds, publish: payoutPublisher(config, log, lifecycle) }),
  );
  app.use(notFoundHandler());
  app.use(clickhouseUnavailable(log));
  app.use(errorHandler(log));

  const ops = await startOpsServer({
    ...{
      metrics,
      isStopping: () => lifecycle.isStopping,
      checks: [{ name: "clickhouse", check: () => ch.ping() }],
    },
    port: config.OPS_PORT,
    host: config.OPS_HOST,
    log,
    lifecycle,
  });
  const server = await listen(app, config.PORT, config.HOST);
  lifecycle.defer("http_server", () => server.close());
  log.info({ port: server.port, ops_port: ops.port }, "reports_listening");
  return { server, ops };
}
