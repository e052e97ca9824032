import { describe, expect, it } from "vitest";
import { commissionJson, statementCsv, statementJson } from "./rows";

const line = {
  entry_id: "e".repeat(32),
  event_time: "2026-03-10 23:30:00",
  entry_type: "sale",
  status: "approved",
  payable_at: "2026-04-09 23:30:00",
  conversion_id: "c".repeat(32),
  merchant_id: 1,
  campaign_id: 2,
  influencer_id: 3,
  order_id: '=HYPERLINK("http://evil.example","x")',
  attribution: "click",
  flags: ["too_fast", "bot_click"],
  conversion_status: "approved",
  order_amount_minor: 1999n,
  order_currency: "JPY",
  commission_minor: -5n,
  commission_currency: "EUR",
  history: [["2026-03-10 23:30:00", "sale", "pending", 5n, "e".repeat(32)] as [string, string, string, bigint, string]],
};

describe("rows", () => {
  it("formats statement lines with ISO times, decimal amounts per currency, payable status and a formula-safe order id", () => {
    const j = statementJson(line, Date.parse("2026-05-01T00:00:00Z"));
    expect(j).toMatchObject({
      event_time: "2026-03-10T23:30:00Z",
      status: "payable",
      history: [{ at: "2026-03-10T23:30:00Z", commission_minor: 5n }],
    });
    expect(statementJson(line, Date.parse("2026-04-01T00:00:00Z")).status).toBe("approved");
    const csv = statementCsv(j);
    expect(csv[6]).toBe(`'${line.order_id}`);
    expect(csv[8]).toBe("too_fast bot_click");
    expect(csv.slice(13, 17)).toEqual(["1999", "JPY", "-0.05", "EUR"]);
    expect(csv[17]).toBe("2026-03-10T23:30:00Z sale pending 0.05");
  });

  it("computes EPC and conversion rate exactly, rounding half away from zero", () => {
    const r = {
      k: 7,
      currency: "USD",
      pending_minor: 1000n,
      review_minor: 5n,
      approved_minor: 0n,
      payable_minor: 1n,
      paid_minor: 0n,
      rejected_minor: 0n,
      reversed_minor: 0n,
      conversions: 1n,
      revenue_minor: 0n,
      revenue_currency: "EUR",
      revenue_currency_max: "USD",
      clicks: 7n,
      unique_clicks: 3n,
      bot_clicks: 1n,
      flagged_conversions: 1n,
    };
    // review money is not earned yet: 1001 / 6 = 166.83 -> 167 minor; 1 / 3 = 0.33333 -> 0.3333
    expect(commissionJson(r, "influencer")).toMatchObject({
      influencer_id: 7,
      total_minor: 1001n,
      epc: "1.67",
      conversion_rate: "0.3333",
      revenue_minor: null,
      revenue_currency: null,
    });
  });
});
