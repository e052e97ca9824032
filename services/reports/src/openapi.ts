import { z } from "zod";
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
    },
  };
}
