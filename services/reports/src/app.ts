import { createClickHouse, getCommissionByInfluencer } from "@aff/clickhouse";
import { bearerAuth, createMetrics, errorHandler, formatMinor, httpMetricsMiddleware, type Lifecycle, type Logger, listen, opsRouter, sendValidationError } from "@aff/common";
import { stringify } from "csv-stringify";
import express from "express";
import type { ReportsConfig } from "./config";
import { commissionQuery } from "./query";

/** The finance API: figures summed from the commission ledger, as JSON or CSV. */
export async function startReports(config: ReportsConfig, deps: { log: Logger; lifecycle: Lifecycle }) {
  const { log, lifecycle } = deps;
  const metrics = createMetrics("reports");
  const ch = createClickHouse({ url: config.CLICKHOUSE_URL, database: config.CLICKHOUSE_DATABASE, username: config.CLICKHOUSE_USER, password: config.CLICKHOUSE_PASSWORD, log });
  lifecycle.defer("clickhouse", () => ch.close());
  const commissionByInfluencer = getCommissionByInfluencer(ch);
  const CommissionQuery = commissionQuery(config.MAX_RANGE_DAYS);

  const app = express();
  app.disable("x-powered-by");
  app.set("query parser", "simple");
  app.use(httpMetricsMiddleware(metrics));
  app.use(opsRouter({ metrics, isStopping: () => lifecycle.isStopping, checks: [{ name: "clickhouse", check: () => ch.ping() }] }));

  const api = express.Router();
  api.use(bearerAuth([config.REPORTS_API_KEY]));
  api.get("/reports/commissions", async (req, res) => {
    const q = CommissionQuery.safeParse(req.query);
    if (!q.success) return sendValidationError(res, q.error);
    const { from, to, format, influencer_id, campaign_id, merchant_id, currency } = q.data;
    const rows = await commissionByInfluencer({ fromMs: from, toMs: to, influencerId: influencer_id, campaignId: campaign_id, merchantId: merchant_id, currency });
    const out = rows.map((r) => ({
      influencer_id: r.influencer_id,
      currency: r.commission_currency,
      pending_minor: r.pending_minor,
      approved_minor: r.approved_minor,
      rejected_minor: r.rejected_minor,
      reversed_minor: r.reversed_minor,
      total_minor: r.pending_minor + r.approved_minor,
      conversions: r.conversions,
    }));
    if (format === "json") return void res.json({ from: new Date(from).toISOString(), to: new Date(to).toISOString(), rows: out });
    res.setHeader("Content-Type", "text/csv; charset=utf-8");
    res.setHeader("Content-Disposition", `attachment; filename="commissions_${new Date(from).toISOString().slice(0, 10)}_${new Date(to).toISOString().slice(0, 10)}.csv"`);
    const csv = stringify({ header: true, columns: ["influencer_id", "currency", "pending", "approved", "rejected", "reversed", "total", "conversions"] });
    csv.pipe(res);
    for (const r of out) {
      const m = (v: number) => formatMinor(v, r.currency);
      csv.write([r.influencer_id, r.currency, m(r.pending_minor), m(r.approved_minor), m(r.rejected_minor), m(r.reversed_minor), m(r.total_minor), r.conversions]);
    }
    csv.end();
  });
  app.use("/v1", api);
  app.use((_req, res) => void res.status(404).json({ error: "not_found" }));
  app.use(errorHandler(log));

  const server = await listen(app, config.PORT, config.HOST);
  lifecycle.defer("http_server", () => server.close());
  log.info({ port: server.port }, "reports_listening");
  return { server };
}
