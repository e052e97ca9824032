import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createTestWorld, type TestWorld } from "../../packages/testing/src";
import { get, seedFixture, startReportsOnly } from "./reports-helpers";

/** Reports against a hand-computed ledger: refunds, rejections, FX (GBP orders settled in EUR), zone boundaries. */
let world: TestWorld;
let base: string;

beforeAll(async () => {
  world = await createTestWorld(inject("stack"), "reports_fixture");
  base = await startReportsOnly(world);
  await seedFixture(world);
});
afterAll(() => world?.close());

const PERIOD = "from=2026-03-01&to=2026-05-01&as_of=2026-05-01T00:00:00Z";

describe("commission report on the fixture", () => {
  it("agrees to the cent by influencer, with status split, revenue, clicks, EPC and conversion rate", async () => {
    const r = await get(base, `/v1/reports/commissions?${PERIOD}`);
    expect(r.status).toBe(200);
    expect(r.body.rows).toEqual([
      {
        influencer_id: 100,
        currency: "USD",
        pending_minor: 0,
        review_minor: 0,
        approved_minor: 0,
        payable_minor: 1000,
        paid_minor: 0,
        rejected_minor: 500,
        reversed_minor: 0,
        total_minor: 1000,
        conversions: 2,
        flagged_conversions: 0,
        revenue_minor: 10_000,
        revenue_currency: "USD",
        clicks: 4,
        unique_clicks: 2,
        bot_clicks: 1,
        epc: "3.33",
        conversion_rate: "1.0000",
      },
      {
        influencer_id: 101,
        currency: "EUR",
        pending_minor: 234,
        review_minor: 0,
        approved_minor: 0,
        payable_minor: 584,
        paid_minor: 0,
        rejected_minor: 0,
        reversed_minor: 351,
        total_minor: 818,
        conversions: 2,
        flagged_conversions: 0,
        revenue_minor: 7000,
        revenue_currency: "GBP",
        clicks: 0,
        unique_clicks: 0,
        bot_clicks: 0,
        epc: null,
        conversion_rate: null,
      },
      {
        influencer_id: 102,
        currency: null,
        pending_minor: 0,
        review_minor: 0,
        approved_minor: 0,
        payable_minor: 0,
        paid_minor: 0,
        rejected_minor: 0,
        reversed_minor: 0,
        total_minor: 0,
        conversions: 0,
        flagged_conversions: 0,
        revenue_minor: null,
        revenue_currency: null,
        clicks: 1,
        unique_clicks: 1,
        bot_clicks: 0,
        epc: null,
        conversion_rate: "0.0000",
      },
    ]);
  });

  it("splits approved into held and payable at the as_of instant", async () => {
    const r = await get(
      base,
      "/v1/reports/commissions?from=2026-03-01&to=2026-05-01&as_of=2026-04-15T00:00:00Z&currency=EUR",
    );
    expect(r.body.rows).toMatchObject([
      { influencer_id: 101, approved_minor: 584, payable_minor: 0, total_minor: 818 },
    ]);
  });

  it("puts a sale at 23:30 UTC on the local day of the report's zone", async () => {
    const day = async (tz: string) =>
      (
        await get(
          base,
          `/v1/reports/commissions?from=2026-03-10&to=2026-03-12&tz=${tz}&group_by=day&influencer_id=100&status=pending,rejected`,
        )
      ).body.rows;
    // B's sale (23:30 UTC on the 10th) is the 11th in Berlin, the 10th in New York and UTC.
    expect(await day("Europe/Berlin")).toMatchObject([
      { period: "2026-03-10", pending_minor: 1000 },
      { period: "2026-03-11", pending_minor: 500 },
    ]);
    expect(await day("America/New_York")).toMatchObject([{ period: "2026-03-10", pending_minor: 1500 }]);
    expect(await day("UTC")).toMatchObject([{ period: "2026-03-10", pending_minor: 1500 }]);
    // The period itself is local: from 2026-03-11 in Berlin starts at 2026-03-10T23:00Z and so includes B, not A.
    const local = await get(
      base,
      "/v1/reports/commissions?from=2026-03-11&to=2026-03-12&tz=Europe/Berlin&influencer_id=100&status=pending",
    );
    expect(local.body.from).toBe("2026-03-10T23:00:00.000Z");
    expect(local.body.rows).toMatchObject([{ pending_minor: 500, conversions: 1 }]);
  });

  it("groups by month in the zone: D (2026-03-31 23:30 UTC) is April in Berlin", async () => {
    const month = async (tz: string) =>
      (await get(base, `/v1/reports/commissions?${PERIOD}&tz=${tz}&group_by=month&influencer_id=101&status=pending`))
        .body.rows;
    expect(await month("UTC")).toMatchObject([{ period: "2026-03-01", pending_minor: 234 }]);
    expect(await month("Europe/Berlin")).toMatchObject([
      { period: "2026-03-01", pending_minor: 0 },
      { period: "2026-04-01", pending_minor: 234 },
    ]);
  });

  it("groups by week (Monday to Sunday) in the zone", async () => {
    const week = async (tz: string) =>
      (
        await get(
          base,
          `/v1/reports/commissions?${PERIOD}&tz=${tz}&group_by=week&influencer_id=100&status=pending,payable,rejected`,
        )
      ).body.rows;
    // A and B (sold, approved, rejected 2026-03-10 to 2026-03-15 Sunday 10:00 UTC) all fall in the week of Monday 2026-03-09.
    expect(await week("UTC")).toMatchObject([
      { period: "2026-03-09", pending_minor: 0, payable_minor: 1000, rejected_minor: 500 },
    ]);
    // In Kiritimati (UTC+14) B's rejection is already Monday 2026-03-16 00:00: it moves to the next week.
    expect(await week("Pacific/Kiritimati")).toMatchObject([
      { period: "2026-03-09", pending_minor: 500, payable_minor: 1000, rejected_minor: 0 },
      { period: "2026-03-16", pending_minor: -500, rejected_minor: 500 },
    ]);
  });

  it("groups by campaign and merchant, sorts stably and pages", async () => {
    const byCampaign = await get(base, `/v1/reports/commissions?${PERIOD}&group_by=campaign&sort=total&order=desc`);
    expect(
      byCampaign.body.rows.map((r: { campaign_id: number; total_minor: number }) => [r.campaign_id, r.total_minor]),
    ).toEqual([
      [10, 1000],
      [20, 818],
    ]);
    const byMerchant = await get(base, `/v1/reports/commissions?${PERIOD}&group_by=merchant&merchant_id=2`);
    expect(byMerchant.body.rows).toMatchObject([{ merchant_id: 2, currency: "EUR", reversed_minor: 351 }]);
    const page1 = await get(base, `/v1/reports/commissions?${PERIOD}&limit=2`);
    const page2 = await get(base, `/v1/reports/commissions?${PERIOD}&limit=2&offset=${page1.body.next_offset}`);
    expect(page1.body.rows.map((r: { influencer_id: number }) => r.influencer_id)).toEqual([100, 101]);
    expect(page2.body.rows.map((r: { influencer_id: number }) => r.influencer_id)).toEqual([102]);
    expect(page2.body.next_offset).toBeNull();
  });

  it("exports the same figures as CSV with decimal strings", async () => {
    const csv = await get(base, `/v1/reports/commissions?${PERIOD}&format=csv`);
    expect(csv.headers.get("content-type")).toContain("text/csv");
    expect(csv.text.trim().split("\n")).toEqual([
      "influencer_id,currency,pending,review,approved,payable,paid,rejected,reversed,total,conversions,flagged_conversions,revenue,revenue_currency,clicks,unique_clicks,bot_clicks,epc,conversion_rate",
      "100,USD,0.00,0.00,0.00,10.00,0.00,5.00,0.00,10.00,2,0,100.00,USD,4,2,1,3.33,1.0000",
      "101,EUR,2.34,0.00,0.00,5.84,0.00,0.00,3.51,8.18,2,0,70.00,GBP,0,0,0,,",
      "102,,,,,,,,,,0,0,,,1,1,0,,0.0000",
    ]);
  });
});

describe("statements and payouts", () => {
  it("lists every ledger line of an influencer with its conversion, both currencies and status history", async () => {
    const r = await get(base, `/v1/reports/statements?${PERIOD}&influencer_id=101`);
    expect(r.status).toBe(200);
    const lines = r.body.lines;
    expect(lines).toHaveLength(6);
    expect(lines.reduce((s: number, l: { commission_minor: number }) => s + l.commission_minor, 0)).toBe(935 + 234);
    const refund = lines.find(
      (l: { entry_type: string; status: string }) => l.entry_type === "refund" && l.status === "reversed",
    );
    expect(refund).toMatchObject({
      order_id: "C",
      order_amount_minor: 3000,
      order_currency: "GBP",
      commission_minor: 351,
      commission_currency: "EUR",
      conversion_status: "refunded",
      event_time: "2026-04-25T10:00:00Z",
    });
    expect(
      refund.history.map(
        (h: { at: string; entry_type: string; status: string; commission_minor: number }) =>
          `${h.at} ${h.entry_type} ${h.status} ${h.commission_minor}`,
      ),
    ).toEqual([
      "2026-03-11T08:00:00Z sale pending 935",
      "2026-03-20T10:00:00Z approve approved 935",
      "2026-03-20T10:00:00Z approve pending -935",
      "2026-04-25T10:00:00Z refund approved -351",
      "2026-04-25T10:00:00Z refund reversed 351",
    ]);
    const csv = await get(base, `/v1/reports/statements?${PERIOD}&influencer_id=101&format=csv`);
    const rows = csv.text.trim().split("\n");
    expect(rows[0]).toBe(
      "event_time,entry_id,entry_type,status,payable_at,conversion_id,order_id,attribution,flags,conversion_status,merchant_id,campaign_id,influencer_id,order_amount,order_currency,commission,commission_currency,status_history",
    );
    expect(rows).toHaveLength(7);
    expect(rows[1]).toMatch(
      /^2026-03-11T08:00:00Z,[0-9a-f]{32},sale,pending,2026-03-11T08:00:00Z,[0-9a-f]{32},C,click,,refunded,2,20,101,80.00,GBP,9.35,EUR,2026-03-11T08:00:00Z sale pending 9.35; /,
    );
  });

  it("pages statements by cursor in a stable order, lines sharing an instant included", async () => {
    const all = (await get(base, `/v1/reports/statements?${PERIOD}&influencer_id=101`)).body.lines;
    const seen: string[] = [];
    let cursor = "";
    for (let page = 0; page < 10; page++) {
      const r = await get(base, `/v1/reports/statements?${PERIOD}&influencer_id=101&limit=2${cursor}`);
      expect(r.status, r.text).toBe(200);
      seen.push(...r.body.lines.map((l: { entry_id: string }) => l.entry_id));
      if (r.body.next_cursor === null) break;
      cursor = `&cursor=${r.body.next_cursor}`;
    }
    expect(seen).toEqual(all.map((l: { entry_id: string }) => l.entry_id));
    const bad = await get(base, `/v1/reports/statements?${PERIOD}&cursor=eyJ4IjoxfQ`);
    expect(bad.status).toBe(400);
    expect(bad.body.issues[0].path).toBe("cursor");
  });

  it("shows the payable balance per influencer and currency, holding back campaigns under their minimum", async () => {
    const before = await get(base, "/v1/reports/payouts?as_of=2026-05-01T00:00:00Z");
    expect(before.body.rows).toMatchObject([
      { influencer_id: 100, currency: "USD", payable_minor: 1000, eligible_minor: 1000, held_minor: 0 },
      { influencer_id: 101, currency: "EUR", payable_minor: 584, eligible_minor: 584, held_minor: 0 },
    ]);
    const put = await fetch(`${base}/v1/payout-thresholds/20`, {
      method: "PUT",
      headers: { "content-type": "application/json", authorization: "Bearer test-reports-bootstrap-key-0123456789" },
      body: JSON.stringify({ min_payout_minor: 600 }),
    });
    expect(put.status).toBe(200);
    const after = await get(base, "/v1/reports/payouts?as_of=2026-05-01T00:00:00Z");
    expect(after.body.rows[1]).toMatchObject({
      influencer_id: 101,
      payable_minor: 584,
      eligible_minor: 0,
      campaigns: [{ campaign_id: 20, min_payout_minor: 600, eligible: false }],
    });
    // On 2026-04-15 C is approved but still held, and its refund (2026-04-25) has not happened yet.
    const held = await get(base, "/v1/reports/payouts?as_of=2026-04-15T00:00:00Z&format=csv");
    expect(held.text.trim().split("\n")).toEqual([
      "influencer_id,currency,payable,eligible,held",
      "100,USD,10.00,10.00,0.00",
      "101,EUR,0.00,0.00,9.35",
    ]);
  });
});
