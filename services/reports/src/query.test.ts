import { describe, expect, it } from "vitest";
import { commissionQuery } from "./query";
import { payoutRows } from "./rows";

const Q = commissionQuery(400);
const paths = (input: Record<string, string>) => {
  const r = Q.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => i.path.join("."));
};

describe("commission query", () => {
  it("resolves local dates in the zone and keeps defaults", () => {
    const r = Q.parse({ from: "2026-03-11", to: "2026-03-12", tz: "Europe/Berlin", status: "pending,payable" });
    expect(new Date(r.fromMs).toISOString()).toBe("2026-03-10T23:00:00.000Z");
    expect(r).toMatchObject({
      group_by: "influencer",
      sort: "key",
      order: "asc",
      offset: 0,
      format: "json",
      status: ["pending", "payable"],
    });
  });

  it("names the field of every bad value", () => {
    expect(paths({ from: "2026-02-29", to: "2026-03-01" })).toEqual(["from"]);
    expect(paths({ from: "2026-03-02", to: "2026-03-01" })).toEqual(["to"]);
    expect(paths({ from: "2024-01-01", to: "2026-03-01" })).toEqual(["to"]);
    expect(paths({ from: "2026-03-01", to: "2026-03-02", tz: "Nowhere/Town" })).toEqual(["tz"]);
    expect(paths({ from: "2026-03-01", to: "2026-03-02", status: "pending,'--" })).toEqual(["status"]);
    expect(paths({ from: "2026-03-01", to: "2026-03-02", influencer_id: "1 OR 1=1" })).toEqual(["influencer_id"]);
    expect(paths({ from: "2026-03-01", to: "2026-03-02", extra: "x" })).toEqual([""]);
  });
});

describe("payout rows", () => {
  it("pays a campaign's balance only once it reaches the campaign's minimum", () => {
    const rows = payoutRows(
      [
        { influencer_id: 1, campaign_id: 10, currency: "USD", payable_minor: 5000n, held_minor: 0n },
        { influencer_id: 1, campaign_id: 11, currency: "USD", payable_minor: 900n, held_minor: 300n },
      ],
      (c) => (c === 11 ? 1000 : 0),
    );
    expect(rows).toEqual([
      {
        influencer_id: 1,
        currency: "USD",
        payable_minor: 5900n,
        eligible_minor: 5000n,
        held_minor: 300n,
        campaigns: [
          { campaign_id: 10, payable_minor: 5000n, held_minor: 0n, min_payout_minor: 0, eligible: true },
          { campaign_id: 11, payable_minor: 900n, held_minor: 300n, min_payout_minor: 1000, eligible: false },
        ],
      },
    ]);
  });
});
