import type { Principal } from "@aff/catalog";
import {
  type ClickHouse,
  EventOutcome,
  getConversion,
  getConversionEntries,
  getConversionFlags,
  getOutcomeLog,
  type OutcomeLine,
  streamOutcomeLog,
} from "@aff/clickhouse";
import { conversionId, sendError, sendValidationError } from "@aff/common";
import express from "express";
import { z } from "zod";
import { sendCsv } from "./csv";
import { sendExactJson } from "./json";
import { instantMs } from "./query";
import { isoTime } from "./rows";

/**
 * What became of every event a merchant sent (docs/adr/0004 "Outcomes"): one conversion with its history and each
 * event's outcome, and the postback log filterable by period and outcome. Merchant keys see their own events only;
 * admin and finance name the merchant. Influencer keys have no access (these are the merchant's postbacks).
 */

const Id = z.coerce
  .number()
  .int()
  .min(1)
  .max(2 ** 32 - 1);
const Outcomes = z
  .string()
  .max(200)
  .transform((v, ctx) => {
    const out = v.split(",").map((o) => o.trim());
    for (const o of out)
      if (!EventOutcome.safeParse(o).success) {
        ctx.addIssue({
          code: "custom",
          message: `must be a comma-separated list of ${EventOutcome.options.join(", ")}`,
        });
        return z.NEVER;
      }
    return out;
  });
const DATE_TIME = /^\d{4}-\d\d-\d\d(T\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d))?$/;
const Instant = z
  .string()
  .max(40)
  .refine((v) => DATE_TIME.test(v) && Number.isFinite(Date.parse(v)), "must be YYYY-MM-DD (UTC) or an ISO date-time");

export const ConversionQuery = z.strictObject({ merchant_id: Id.optional() });
export const LogQuery = z.strictObject({
  merchant_id: Id.optional(),
  /** receive time, inclusive */
  from: Instant.optional(),
  /** receive time, exclusive */
  to: Instant.optional(),
  outcome: Outcomes.optional(),
  format: z.enum(["json", "csv"]).default("json"),
  limit: z.coerce.number().int().min(1).max(10_000).optional(),
  offset: z.coerce.number().int().min(0).max(10_000_000).default(0),
});

/** The merchant whose events the caller may read, or a 4xx already sent. */
function merchantOf(res: express.Response, asked: number | undefined): number | undefined {
  const p = res.locals.principal as Principal;
  if (p.role === "merchant") {
    if (asked !== undefined && asked !== p.merchant_id) {
      sendError(res, "forbidden", "a merchant key sees only its own merchant", [
        { path: "merchant_id", message: "a merchant key sees only its own merchant", code: "forbidden" },
      ]);
      return undefined;
    }
    return p.merchant_id;
  }
  if (p.role === "influencer") {
    sendError(res, "forbidden", "postback outcomes are the merchant's; an influencer key has no access");
    return undefined;
  }
  if (asked === undefined) {
    sendError(res, "validation_failed", "the request has invalid fields", [
      { path: "merchant_id", message: "required for admin and finance keys", code: "custom" },
    ]);
    return undefined;
  }
  return asked;
}

function eventJson(l: OutcomeLine) {
  return {
    event_id: l.event_id,
    delivery: l.seq,
    type: l.type,
    source: l.source,
    order_id: l.order_id,
    received_at: isoTime(l.received_at),
    occurred_at: isoTime(l.occurred_at),
    amount_minor: l.type === "approve" || l.type === "reject" ? null : l.amount_minor,
    currency: l.currency === "" ? null : l.currency,
    outcome: l.outcome,
    reason: l.reason === "" ? null : l.reason,
  };
}
type EventJson = ReturnType<typeof eventJson>;

const LOG_HEADER = [
  "received_at",
  "order_id",
  "type",
  "source",
  "amount_minor",
  "currency",
  "occurred_at",
  "outcome",
  "reason",
  "event_id",
  "delivery",
];
/** Merchant-supplied text could be read as a formula by spreadsheets: prefix such cells with a quote. */
const textCell = (v: string): string => (/^[=+\-@\t\r]/.test(v) ? `'${v}` : v);
const logCsv = (j: EventJson) => [
  j.received_at,
  textCell(j.order_id),
  j.type,
  j.source,
  j.amount_minor ?? "",
  j.currency ?? "",
  j.occurred_at,
  j.outcome,
  j.reason ?? "",
  j.event_id,
  j.delivery,
];

export function outcomesApi(ch: ClickHouse): express.Router {
  const conversion = getConversion(ch);
  const entries = getConversionEntries(ch);
  const flags = getConversionFlags(ch);
  const log = getOutcomeLog(ch);
  const logStream = streamOutcomeLog(ch);
  const api = express.Router();

  api.get("/conversions/:order_id", async (req, res) => {
    const q = ConversionQuery.safeParse(req.query);
    if (!q.success) return sendValidationError(res, q.error);
    const merchant = merchantOf(res, q.data.merchant_id);
    if (merchant === undefined) return;
    const orderId = req.params.order_id;
    if (orderId.length < 1 || orderId.length > 128)
      return sendError(res, "validation_failed", "the request has invalid fields", [
        { path: "order_id", message: "must be 1 to 128 characters", code: "too_big" },
      ]);
    const id = conversionId(merchant, orderId);
    const [row, lines, events, f] = await Promise.all([
      conversion(id),
      entries(id),
      log({ merchantId: merchant, conversionId: id }),
      flags(id),
    ]);
    if (!row && events.length === 0) return sendError(res, "not_found", `no event was received for order ${orderId}`);
    sendExactJson(res, {
      order_id: orderId,
      conversion_id: id,
      merchant_id: merchant,
      conversion: row
        ? {
            status: row.status,
            attribution: row.attribution,
            credited: row.campaign_id > 0,
            campaign_id: row.campaign_id || null,
            influencer_id: row.influencer_id || null,
            flags: f?.flags ?? [],
            held_for_review: f?.review === 1,
            order_amount_minor: row.order_amount_minor,
            order_currency: row.order_currency,
            commission_minor: row.commission_minor,
            commission_currency: row.commission_currency,
            occurred_at: isoTime(row.occurred_at),
          }
        : null,
      history: lines.map((l) => ({
        entry_id: l.entry_id,
        event_id: l.event_id,
        entry_type: l.entry_type,
        status: l.status,
        commission_minor: l.commission_minor,
        order_amount_minor: l.order_amount_minor,
        event_time: isoTime(l.event_time),
        recorded_at: isoTime(l.recorded_at),
        payable_at: isoTime(l.payable_at),
      })),
      events: events.map(eventJson),
    });
  });

  api.get("/postback-log", async (req, res) => {
    const parsed = LogQuery.safeParse(req.query);
    if (!parsed.success) return sendValidationError(res, parsed.error);
    const q = parsed.data;
    const merchant = merchantOf(res, q.merchant_id);
    if (merchant === undefined) return;
    const filter = {
      merchantId: merchant,
      fromMs: q.from === undefined ? undefined : instantMs(q.from, "UTC"),
      toMs: q.to === undefined ? undefined : instantMs(q.to, "UTC"),
      outcomes: q.outcome,
    };
    if (q.format === "csv")
      return sendCsv(res, `postback_log_${merchant}.csv`, LOG_HEADER, logStream({ ...filter, limit: q.limit }), (l) =>
        logCsv(eventJson(l)),
      );
    const limit = q.limit ?? 100;
    const lines = await log({ ...filter, limit: limit + 1, offset: q.offset });
    sendExactJson(res, {
      merchant_id: merchant,
      events: lines.slice(0, limit).map(eventJson),
      next_offset: lines.length > limit ? q.offset + limit : null,
    });
  });
  return api;
}
