import { type Catalog, PayeeInput, PayeeStore, type Principal } from "@aff/catalog";
import {
  type ClickHouse,
  getOrderIds,
  getPayoutCandidates,
  getPayoutLines,
  getPayoutPaid,
  getPayoutRun,
  insertPayoutLines,
  insertPayoutPaid,
  insertPayoutRun,
  listPayoutRuns,
  type PayoutLineRow,
  type PayoutPaidRow,
  type PayoutRunRow,
} from "@aff/clickhouse";
import { sendError, sendValidationError } from "@aff/common";
import { type ConversionEvent, Currency } from "@aff/events";
import express from "express";
import { z } from "zod";
import { canManage } from "./access";
import type { ReportsConfig } from "./config";
import { sendExactJson } from "./json";
import {
  buildLines,
  type Debtor,
  lineItems,
  linePayee,
  payoutEventIdOf,
  paypalCsv,
  runCsv,
  runIdOf,
  sepaXml,
} from "./payout-runs";
import { instantMs } from "./query";
import type { PayoutThresholds } from "./thresholds";

/**
 * Payout runs (docs/adr/0006 "Payout runs"): finance creates a run as of an instant for a currency; the run and its
 * lines are written once and never change; exports are functions of the stored run; marking lines paid publishes one
 * payout event per covered conversion on the postbacks topic, so the attribution worker (the ledger's only writer)
 * moves the money to the paid bucket, exactly once whatever is replayed or killed.
 */

/** Publishes payout events keyed by conversion id (acks from all in-sync replicas). */
export type PayoutPublisher = (events: readonly ConversionEvent[]) => Promise<void>;

const ISO = /^\d{4}-\d\d-\d\d(T\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d))?$/;
const Instant = z
  .string()
  .max(40)
  .refine((v) => ISO.test(v) && Number.isFinite(Date.parse(v)), "must be YYYY-MM-DD (UTC) or an ISO date-time");
const Key = z.string().min(1).max(200);

export const CreateBody = z.strictObject({
  currency: Currency,
  /** the run counts entries recorded and payable by this instant; default now; never in the future */
  as_of: Instant.optional(),
  /** creating again with the same key returns the first run (also accepted as the Idempotency-Key header) */
  idempotency_key: Key.optional(),
  /** smallest line paid, minor units; smaller balances wait for the next run */
  min_line_minor: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(1),
});
export const PaidBody = z.strictObject({
  /** lines to mark paid; all lines of the run when absent */
  line_ids: z
    .array(z.string().regex(/^[0-9a-f]{32}$/))
    .max(100_000)
    .optional(),
  /** when the money left; default now */
  paid_at: Instant.optional(),
  /** payer's reference (bank batch, PayPal batch id) */
  reference: z.string().max(140).default(""),
});
export const ExportQuery = z.strictObject({ format: z.enum(["csv", "paypal", "sepa"]).default("csv") });
const RunIdParam = z.string().regex(/^[0-9a-f]{32}$/, "must be a payout run id (32 hex characters)");

function lineJson(l: PayoutLineRow, paid: PayoutPaidRow | undefined) {
  const p = linePayee(l);
  return {
    line_id: l.line_id,
    influencer_id: l.influencer_id,
    amount_minor: l.amount_minor,
    currency: l.currency,
    status: paid ? "paid" : "open",
    paid_at: paid ? new Date(paid.paid_at_ms).toISOString() : null,
    reference: paid?.reference || null,
    payee: { name: p.name ?? null, iban: p.iban ?? null, bic: p.bic ?? null, paypal_email: p.paypal_email ?? null },
    items: lineItems(l),
  };
}

function runJson(run: PayoutRunRow, lines: readonly PayoutLineRow[], paid: readonly PayoutPaidRow[]) {
  const byLine = new Map(paid.map((p) => [p.line_id, p]));
  const paidCount = lines.filter((l) => byLine.has(l.line_id)).length;
  return {
    run_id: run.run_id,
    idempotency_key: run.idempotency_key,
    currency: run.currency,
    as_of: new Date(run.as_of_ms).toISOString(),
    created_at: new Date(run.created_at_ms).toISOString(),
    created_by: run.created_by,
    status: paidCount === 0 ? "open" : paidCount === run.line_count ? "paid" : "partially_paid",
    total_minor: run.total_minor,
    paid_minor: lines.filter((l) => byLine.has(l.line_id)).reduce((s, l) => s + l.amount_minor, 0),
    line_count: run.line_count,
    manifest: JSON.parse(run.manifest) as unknown,
    lines: lines.map((l) => lineJson(l, byLine.get(l.line_id))),
  };
}

/** Only admin and finance act on runs; influencers read their own lines. */
function requireManager(res: express.Response): boolean {
  if (canManage(res.locals.principal as Principal)) return true;
  sendError(res, "forbidden", "only admin and finance keys manage payout runs");
  return false;
}

export function payoutsApi(deps: {
  ch: ClickHouse;
  catalog: Catalog;
  config: ReportsConfig;
  thresholds: PayoutThresholds;
  publish: PayoutPublisher;
}): express.Router {
  const { ch, catalog, config } = deps;
  const payees = new PayeeStore(catalog.redis, catalog.prefix);
  const candidates = getPayoutCandidates(ch);
  const orderIds = getOrderIds(ch);
  const readRun = getPayoutRun(ch);
  const readLines = getPayoutLines(ch);
  const readPaid = getPayoutPaid(ch);
  const listRuns = listPayoutRuns(ch);
  const writeRun = insertPayoutRun(ch);
  const writeLines = insertPayoutLines(ch);
  const writePaid = insertPayoutPaid(ch);
  const lockKey = (currency: string) => `${catalog.prefix}reports:payout_run_lock:${currency}`;
  const claimKey = (runId: string) => `${catalog.prefix}reports:payout_run_claim:${runId}`;
  const api = express.Router();

  /** Loads a run the caller may see (influencers: only runs with a line of theirs, and only that line). */
  async function loadRun(req: express.Request, res: express.Response) {
    const id = RunIdParam.safeParse(req.params.run_id);
    if (!id.success) {
      sendError(res, "validation_failed", "the request has invalid fields", [
        { path: "run_id", message: id.error.issues[0]?.message ?? "invalid", code: "custom" },
      ]);
      return undefined;
    }
    const run = await readRun(id.data);
    if (!run) {
      sendError(res, "not_found", `no payout run ${id.data}`);
      return undefined;
    }
    const p = res.locals.principal as Principal;
    let lines = await readLines(run.run_id);
    if (p.role === "influencer") lines = lines.filter((l) => l.influencer_id === p.influencer_id);
    if (p.role === "merchant" || (p.role === "influencer" && lines.length === 0)) {
      sendError(res, "forbidden", "this key cannot see this payout run");
      return undefined;
    }
    return { run, lines, paid: await readPaid(run.run_id) };
  }

  async function createRun(key: string, body: z.output<typeof CreateBody>, principal: Principal, asOfMs: number) {
    const runId = runIdOf(key);
    const createdAtMs = Date.now();
    const [found, minPayout] = await Promise.all([candidates(body.currency, asOfMs), deps.thresholds.lookup()]);
    const conversions = [...new Set(found.map((c) => c.conversion_id))];
    const [orders, details] = await Promise.all([
      orderIds(conversions),
      payees.many([...new Set(found.map((c) => c.influencer_id))]),
    ]);
    const rule = { currency: body.currency, asOfMs, minPayout, minLineMinor: body.min_line_minor };
    const lines = buildLines(runId, found, rule, orders, details);
    const campaigns = [...new Set(found.map((c) => c.campaign_id))].sort((a, b) => a - b);
    const manifest = {
      rule: "approved ledger entries in the currency, recorded and payable at or before the cutoff, not covered by an earlier run; per influencer, a campaign's balance is paid once it reaches its minimum, negative balances (money taken back after payment) are always netted; a line is paid when its total is positive and at least min_line_minor",
      cutoff: new Date(asOfMs).toISOString(),
      holding: "each campaign's holding_days, applied when the conversion was approved (the entries' payable_at)",
      currency: body.currency,
      thresholds: {
        default_min_payout_minor: config.PAYOUT_MIN_DEFAULT_MINOR,
        min_payout_minor_by_campaign: Object.fromEntries(campaigns.map((c) => [String(c), minPayout(c)])),
        min_line_minor: body.min_line_minor,
      },
      entries_considered: found.length,
    };
    const rows = lines.map((l) => ({
      run_id: runId,
      line_id: l.line_id,
      influencer_id: l.influencer_id,
      currency: body.currency,
      amount_minor: l.amount_minor,
      items: JSON.stringify(l.items),
      entry_ids: l.items.flatMap((i) => i.entry_ids),
      payee: JSON.stringify(l.payee),
      version: createdAtMs,
    }));
    // lines first, the header last: a run exists (and its lines' entries are covered) once its header does, and only
    // the lines it lists count, so a retry after a crash in between (same key, same as_of) never pays twice
    await writeLines(rows);
    await writeRun({
      run_id: runId,
      idempotency_key: key,
      currency: body.currency,
      as_of_ms: asOfMs,
      created_at_ms: createdAtMs,
      created_by: principal.role,
      manifest: JSON.stringify(manifest),
      total_minor: lines.reduce((s, l) => s + l.amount_minor, 0),
      line_count: lines.length,
      line_ids: lines.map((l) => l.line_id),
      version: createdAtMs,
    });
    return runId;
  }

  api.post("/payout-runs", express.json({ limit: "16kb" }), async (req, res) => {
    if (!requireManager(res)) return;
    const body = CreateBody.safeParse(req.body ?? {});
    if (!body.success) return sendValidationError(res, body.error);
    const key = body.data.idempotency_key ?? req.get("idempotency-key");
    if (!key || !Key.safeParse(key).success)
      return sendError(res, "validation_failed", "the request has invalid fields", [
        {
          path: "idempotency_key",
          message: "required (body or Idempotency-Key header), 1-200 characters",
          code: "custom",
        },
      ]);
    const nowMs = Date.now();
    const asOfMs = body.data.as_of === undefined ? nowMs : instantMs(body.data.as_of, "UTC");
    if (asOfMs > nowMs)
      return sendError(res, "validation_failed", "the request has invalid fields", [
        {
          path: "as_of",
          message: "must not be in the future: what is not yet recorded cannot be paid",
          code: "custom",
        },
      ]);
    const runId = runIdOf(key);
    const existing = await readRun(runId);
    if (existing && existing.currency !== body.data.currency)
      return sendError(res, "conflict", `idempotency key already used for a run in ${existing.currency}`);
    if (existing) {
      const lines = await readLines(runId);
      return sendExactJson(res.status(200), runJson(existing, lines, await readPaid(runId)));
    }
    // one creation per currency at a time, so two runs never cover the same entry
    const locked = await catalog.redis.set(lockKey(body.data.currency), runId, "PX", 120_000, "NX");
    if (locked !== "OK") return sendError(res, "conflict", `a payout run in ${body.data.currency} is being created`);
    try {
      const again = await readRun(runId);
      if (!again) {
        await catalog.redis.set(claimKey(runId), String(asOfMs), "NX");
        const claimed = Number((await catalog.redis.get(claimKey(runId))) ?? asOfMs);
        await createRun(key, body.data, res.locals.principal as Principal, claimed);
      }
    } finally {
      if ((await catalog.redis.get(lockKey(body.data.currency))) === runId)
        await catalog.redis.del(lockKey(body.data.currency));
    }
    const run = await readRun(runId);
    if (!run) return sendError(res, "internal_error", "the run was written but cannot be read back");
    const lines = await readLines(runId);
    sendExactJson(res.status(201), runJson(run, lines, await readPaid(runId)));
  });

  api.get("/payout-runs", async (_req, res) => {
    const p = res.locals.principal as Principal;
    if (p.role === "merchant") return sendError(res, "forbidden", "payout runs are not visible to merchant keys");
    const runs = await listRuns(p.role === "influencer" ? p.influencer_id : undefined);
    sendExactJson(res, {
      runs: runs.map((r) => ({
        run_id: r.run_id,
        currency: r.currency,
        as_of: new Date(r.as_of_ms).toISOString(),
        created_at: new Date(r.created_at_ms).toISOString(),
        total_minor: p.role === "influencer" ? undefined : r.total_minor,
        line_count: p.role === "influencer" ? undefined : r.line_count,
      })),
    });
  });

  api.get("/payout-runs/:run_id", async (req, res) => {
    const loaded = await loadRun(req, res);
    if (!loaded) return;
    const j = runJson(loaded.run, loaded.lines, loaded.paid);
    const p = res.locals.principal as Principal;
    // an influencer sees its own line, not the run's totals
    if (p.role === "influencer")
      return sendExactJson(res, { ...j, total_minor: undefined, line_count: undefined, paid_minor: undefined });
    sendExactJson(res, j);
  });

  api.get("/payout-runs/:run_id/export", async (req, res) => {
    if (!requireManager(res)) return;
    const q = ExportQuery.safeParse(req.query);
    if (!q.success) return sendValidationError(res, q.error);
    const loaded = await loadRun(req, res);
    if (!loaded) return;
    const { run, lines } = loaded;
    if (q.data.format === "csv")
      return sendFile(res, `payout_${run.run_id}.csv`, "text/csv; charset=utf-8", runCsv(run, lines), 0);
    if (q.data.format === "paypal") {
      const f = paypalCsv(run, lines);
      return sendFile(res, `payout_${run.run_id}_paypal.csv`, "text/csv; charset=utf-8", f.text, f.skipped);
    }
    if (run.currency !== "EUR")
      return sendError(res, "validation_failed", "the request has invalid fields", [
        { path: "format", message: "SEPA credit transfers are in EUR only", code: "custom" },
      ]);
    const debtor: Debtor | undefined =
      config.SEPA_DEBTOR_NAME && config.SEPA_DEBTOR_IBAN
        ? { name: config.SEPA_DEBTOR_NAME, iban: config.SEPA_DEBTOR_IBAN, bic: config.SEPA_DEBTOR_BIC }
        : undefined;
    if (!debtor)
      return sendError(res, "conflict", "SEPA export needs SEPA_DEBTOR_NAME and SEPA_DEBTOR_IBAN configured");
    const f = sepaXml(run, lines, debtor);
    sendFile(res, `payout_${run.run_id}.xml`, "application/xml; charset=utf-8", f.text, f.skipped);
  });

  api.post("/payout-runs/:run_id/paid", express.json({ limit: "4mb" }), async (req, res) => {
    if (!requireManager(res)) return;
    const body = PaidBody.safeParse(req.body ?? {});
    if (!body.success) return sendValidationError(res, body.error);
    const loaded = await loadRun(req, res);
    if (!loaded) return;
    const { run, lines } = loaded;
    const wanted = body.data.line_ids ? new Set(body.data.line_ids) : undefined;
    const unknown = [...(wanted ?? [])].filter((id) => !lines.some((l) => l.line_id === id));
    if (unknown.length > 0)
      return sendError(res, "validation_failed", "the request has invalid fields", [
        { path: "line_ids", message: `not lines of this run: ${unknown.slice(0, 5).join(", ")}`, code: "custom" },
      ]);
    const nowMs = Date.now();
    const paidAtMs = body.data.paid_at === undefined ? nowMs : instantMs(body.data.paid_at, "UTC");
    if (paidAtMs > nowMs + 60_000)
      return sendError(res, "validation_failed", "the request has invalid fields", [
        { path: "paid_at", message: "must not be in the future", code: "custom" },
      ]);
    const already = new Map(loaded.paid.map((p) => [p.line_id, p]));
    const chosen = lines.filter((l) => !wanted || wanted.has(l.line_id));
    // the first marking wins (highest version = earliest marking); a repeat republishes the same event ids
    await writePaid(
      chosen
        .filter((l) => !already.has(l.line_id))
        .map((l) => ({
          run_id: run.run_id,
          line_id: l.line_id,
          paid_at_ms: paidAtMs,
          reference: body.data.reference,
          version: Number.MAX_SAFE_INTEGER - nowMs,
        })),
    );
    const marked = new Map((await readPaid(run.run_id)).map((p) => [p.line_id, p]));
    const events: ConversionEvent[] = chosen.flatMap((l) => {
      const at = marked.get(l.line_id)?.paid_at_ms ?? paidAtMs;
      return lineItems(l)
        .filter((i) => i.amount_minor !== 0)
        .map((i) => ({
          v: 1 as const,
          event_id: payoutEventIdOf(l.line_id, i.conversion_id),
          conversion_id: i.conversion_id,
          merchant_id: i.merchant_id,
          order_id: i.order_id || i.conversion_id,
          type: "payout" as const,
          source: "payout" as const,
          payout: { run_id: run.run_id, line_id: l.line_id, amount_minor: i.amount_minor },
          occurred_at_ms: at,
          received_at_ms: nowMs,
        }));
    });
    try {
      await deps.publish(events);
    } catch {
      // the marking is recorded; the money moves once the events are published: repeating the call is safe
      return sendError(res, "not_durable", "the payout could not be handed to the books now (Kafka); repeat the call");
    }
    const all = await readLines(run.run_id);
    sendExactJson(res, runJson(run, all, await readPaid(run.run_id)));
  });

  api.put("/influencers/:influencer_id/payout-details", express.json({ limit: "4kb" }), async (req, res) => {
    const id = Number(req.params.influencer_id);
    const p = res.locals.principal as Principal;
    if (!Number.isInteger(id) || id < 1 || id > 2 ** 32 - 1)
      return sendError(res, "validation_failed", "the request has invalid fields", [
        { path: "influencer_id", message: "must be a positive integer", code: "custom" },
      ]);
    if (!canManage(p) && !(p.role === "influencer" && p.influencer_id === id))
      return sendError(res, "forbidden", "only admin, finance or the influencer itself set payout details");
    const body = PayeeInput.safeParse(req.body);
    if (!body.success) return sendValidationError(res, body.error);
    sendExactJson(res, await payees.set(id, body.data));
  });

  api.get("/influencers/:influencer_id/payout-details", async (req, res) => {
    const id = Number(req.params.influencer_id);
    const p = res.locals.principal as Principal;
    if (!canManage(p) && !(p.role === "influencer" && p.influencer_id === id))
      return sendError(res, "forbidden", "only admin, finance or the influencer itself read payout details");
    const found = Number.isInteger(id) && id > 0 ? await payees.get(id) : undefined;
    if (!found) return sendError(res, "not_found", `no payout details for influencer ${req.params.influencer_id}`);
    sendExactJson(res, found);
  });
  return api;
}

function sendFile(res: express.Response, name: string, type: string, text: string, skipped: number) {
  res.setHeader("Content-Type", type);
  res.setHeader("Content-Disposition", `attachment; filename="${name}"`);
  res.setHeader("X-Payout-Lines-Skipped", String(skipped));
  res.send(text);
}
