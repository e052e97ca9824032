import { PayeeInput } from "@aff/catalog";
import { z } from "zod";
import { ConversionQuery, LogQuery } from "./outcomes-api";
import { CreateBody, ExportQuery, PaidBody } from "./payouts-api";
import { commissionQuery, payoutQuery, statementQuery, ThresholdBody } from "./query";

/** Query parameters of an endpoint, generated from its zod schema (zod 4's own JSON Schema output, input side). */
function parameters(schema: z.ZodType) {
  const json = z.toJSONSchema(schema, { io: "input", unrepresentable: "any", target: "openapi-3.0" }) as {
    properties?: Record<string, object>;
    required?: string[];
  };
  return Object.entries(json.properties ?? {}).map(([name, s]) => ({
    name,
    in: "query",
    required: json.required?.includes(name) ?? false,
    schema: s,
  }));
}

const Error400 = { description: "invalid input: `issues` names each field and reason" };
const common = {
  "401": { description: "missing or unknown API key" },
  "403": { description: "the key's role may not see these figures" },
  "400": Error400,
};
const body = (schema: z.ZodType) => ({
  required: true,
  content: { "application/json": { schema: z.toJSONSchema(schema, { io: "input", target: "openapi-3.0" }) } },
});
const path = (name: string) => ({ name, in: "path", required: true, schema: { type: "string" } });
const jsonAndCsv = (description: string) => ({ description, content: { "application/json": {}, "text/csv": {} } });

/** OpenAPI 3 document served at /openapi.json; parameter schemas come from the same zod schemas that validate requests. */
export function openApiDocument(maxRangeDays: number) {
  return {
    openapi: "3.0.3",
    info: {
      title: "Affiliate pipeline reports API",
      version: "1.0.0",
      description:
        "Commission reports, statements and payouts summed from the commission ledger (reports and payouts through its exact pre-aggregates; `X-Report-Source` says which answered). Amounts are integer minor units in JSON and decimal strings in CSV.",
    },
    components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
    security: [{ bearer: [] }],
    paths: {
      "/v1/reports/commissions": {
        get: {
          summary:
            "Commission, clicks, conversions, EPC and conversion rate by influencer, campaign, merchant, day, week or month, split by status",
          parameters: parameters(commissionQuery(maxRangeDays)),
          responses: {
            "200": jsonAndCsv("one row per group and settlement currency; `next_offset` pages JSON"),
            ...common,
          },
        },
      },
      "/v1/reports/statements": {
        get: {
          summary:
            "Every ledger line in the period with its conversion, amounts in order and settlement currency, and status history",
          parameters: parameters(statementQuery(maxRangeDays)),
          responses: {
            "200": jsonAndCsv(
              "ledger lines ordered by time then entry id; `next_cursor` pages JSON (pass it as `cursor`)",
            ),
            ...common,
          },
        },
      },
      "/v1/reports/payouts": {
        get: {
          summary: "Payable balance per influencer and currency, with per-campaign minimum payout thresholds",
          parameters: parameters(payoutQuery),
          responses: { "200": jsonAndCsv("one row per influencer and currency"), ...common },
        },
      },
      "/v1/payout-thresholds/{campaign_id}": {
        put: {
          summary: "Set a campaign's minimum payout (admin and finance keys)",
          parameters: [{ name: "campaign_id", in: "path", required: true, schema: { type: "integer", minimum: 1 } }],
          requestBody: {
            required: true,
            content: { "application/json": { schema: z.toJSONSchema(ThresholdBody, { target: "openapi-3.0" }) } },
          },
          responses: { "200": { description: "threshold stored" }, ...common },
        },
      },
      "/v1/payout-runs": {
        post: {
          summary:
            "Create an immutable payout run as of an instant for a currency (admin and finance); the same idempotency key returns the first run",
          requestBody: body(CreateBody),
          responses: {
            "201": { description: "the run, its lines and manifest" },
            "200": { description: "the run created earlier with this key" },
            "409": { description: "a run in this currency is being created" },
            ...common,
          },
        },
        get: {
          summary: "Payout runs (influencer keys: the runs that pay them)",
          responses: { "200": { description: "runs" } },
        },
      },
      "/v1/payout-runs/{run_id}": {
        get: {
          summary: "A run with its lines, items, payees and paid state (influencer keys: their own line)",
          parameters: [path("run_id")],
          responses: { "200": { description: "the run" }, "404": { description: "no such run" }, ...common },
        },
      },
      "/v1/payout-runs/{run_id}/export": {
        get: {
          summary:
            "The run as CSV, a PayPal mass payment file or a SEPA pain.001.001.03 file; byte-identical every time",
          parameters: [path("run_id"), ...parameters(ExportQuery)],
          responses: {
            "200": { description: "the file; X-Payout-Lines-Skipped counts lines without details" },
            ...common,
          },
        },
      },
      "/v1/payout-runs/{run_id}/paid": {
        post: {
          summary: "Mark the run, or some lines, paid; the attribution worker moves the money to the paid bucket",
          parameters: [path("run_id")],
          requestBody: body(PaidBody),
          responses: {
            "200": { description: "the run" },
            "503": { description: "retry: Kafka unavailable" },
            ...common,
          },
        },
      },
      "/v1/influencers/{influencer_id}/payout-details": {
        put: {
          summary: "Payee name, IBAN (check digits validated), BIC and PayPal address (admin, finance, the influencer)",
          parameters: [path("influencer_id")],
          requestBody: body(PayeeInput),
          responses: { "200": { description: "stored" }, ...common },
        },
      },
      "/v1/conversions/{order_id}": {
        get: {
          summary: "One order of the merchant: the conversion, its flags, ledger history and each event's outcome",
          parameters: [path("order_id"), ...parameters(ConversionQuery)],
          responses: {
            "200": { description: "the conversion" },
            "404": { description: "no event for this order" },
            ...common,
          },
        },
      },
      "/v1/postback-log": {
        get: {
          summary:
            "The merchant's events with outcome (booked, duplicate, parked, not_credited, ignored, dead_lettered) and reason",
          parameters: parameters(LogQuery),
          responses: { "200": jsonAndCsv("events by receive time; `next_offset` pages JSON"), ...common },
        },
      },
    },
  };
}
