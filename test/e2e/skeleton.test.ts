import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { z } from "zod";
import { raw } from "../../packages/clickhouse/src";
import { createTestWorld, eventually, type TestWorld } from "../../packages/testing/src";
import {
  ADMIN_KEY,
  AROUND_TODAY,
  click,
  commissions,
  FINANCE_KEY,
  seedCampaign,
  startServices,
  type Urls,
} from "./helpers";

let world: TestWorld;
let urls: Urls;

beforeAll(async () => {
  world = await createTestWorld(inject("stack"), "skeleton");
  urls = await startServices(world);
});
afterAll(() => world?.close());

const Count = z.object({ n: z.coerce.number() });

describe("one sale, end to end", () => {
  it("redirects, takes a postback and reports the commission", async () => {
    const { merchant, influencer, link } = await seedCampaign(urls);
    const c = await click(urls, link.code);
    expect(c.status).toBe(302);
    expect(c.location.startsWith("https://shop.example.com/p/42?click_id=")).toBe(true);
    expect(c.res.headers.get("cache-control")).toBe("no-store");
    expect(c.res.headers.get("set-cookie")).toContain(`aff_click=${c.clickId}`);

    const pb = await fetch(`${urls.postbackUrl}/postback`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        merchant_id: merchant.id,
        token: merchant.postback_token,
        click_id: c.clickId,
        order_id: "ORD-1",
        amount: 12345,
        currency: "USD",
      }),
    });
    expect(pb.status).toBe(202);
    expect(await pb.json()).toMatchObject({ accepted: true, type: "sale" });

    // 10% of 123.45 = 12.345 -> 12.35 (half away from zero)
    // The click may reach the report (as a row without commission) before the sale does: wait for the sale.
    const report = await eventually(
      () => commissions(urls),
      (r) => r.rows.some((row) => row.conversions > 0),
    );
    expect(report.rows).toMatchObject([
      {
        influencer_id: influencer.id,
        currency: "USD",
        pending_minor: 1235,
        approved_minor: 0,
        payable_minor: 0,
        rejected_minor: 0,
        reversed_minor: 0,
        total_minor: 1235,
        conversions: 1,
      },
    ]);

    const csv = await fetch(`${urls.reportsUrl}/v1/reports/commissions?${AROUND_TODAY}&format=csv`, {
      headers: { authorization: `Bearer ${FINANCE_KEY}` },
    });
    expect(csv.headers.get("content-type")).toContain("text/csv");
    const lines = (await csv.text()).trim().split("\n");
    expect(lines[0]).toBe(
      "influencer_id,currency,pending,review,approved,payable,paid,rejected,reversed,total,conversions,flagged_conversions,revenue,revenue_currency,clicks,unique_clicks,bot_clicks,epc,conversion_rate",
    );
    expect(lines.slice(1).map((l) => l.split(",").slice(0, 14).join(","))).toEqual([
      `${influencer.id},USD,12.35,0.00,0.00,0.00,0.00,0.00,0.00,12.35,1,0,123.45,USD`,
    ]);

    const clicks = await eventually(
      () => world.ch.query("count_clicks", raw("SELECT count() AS n FROM clicks_raw_v1 FINAL"), Count),
      (r) => r[0]?.n === 1,
    );
    expect(clicks[0]?.n).toBe(1);
  });

  it("records a postback with an unknown click id as unattributed", async () => {
    const { merchant } = await seedCampaign(urls);
    const pb = await fetch(
      `${urls.postbackUrl}/postback?merchant_id=${merchant.id}&token=${merchant.postback_token}&click_id=not-a-real-click&order_id=ORD-X&amount=500&currency=USD`,
    );
    expect(pb.status).toBe(202);
    const Row = z.object({ attribution: z.string(), influencer_id: z.number() });
    const rows = await eventually(
      () =>
        world.ch.query(
          "conversion",
          raw("SELECT attribution, influencer_id FROM conversions_v1 FINAL WHERE order_id = 'ORD-X'"),
          Row,
        ),
      (r) => r.length === 1,
    );
    expect(rows).toEqual([{ attribution: "forged_click", influencer_id: 0 }]);
  });

  it("answers bad input with 4xx naming the field", async () => {
    const { merchant } = await seedCampaign(urls);
    const bad = await fetch(`${urls.postbackUrl}/postback`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        merchant_id: merchant.id,
        token: merchant.postback_token,
        order_id: "",
        amount: 1.5,
        currency: "usdx",
      }),
    });
    expect(bad.status).toBe(400);
    const body = (await bad.json()) as { issues: { path: string }[] };
    expect(body.issues.map((i) => i.path).sort()).toEqual(["amount", "currency", "order_id"]);

    const wrongToken = await fetch(
      `${urls.postbackUrl}/postback?merchant_id=${merchant.id}&token=nope&order_id=A&amount=1&currency=USD`,
    );
    expect(wrongToken.status).toBe(401);
    const malformed = await fetch(`${urls.postbackUrl}/postback`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{",
    });
    expect(malformed.status).toBe(400);

    expect((await fetch(`${urls.redirectUrl}/nosuchcode`, { redirect: "manual" })).status).toBe(404);
    const noAuth = await fetch(`${urls.redirectUrl}/api/merchants`, { method: "POST", body: "{}" });
    expect(noAuth.status).toBe(401);
    const badCampaign = await fetch(`${urls.redirectUrl}/api/campaigns`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN_KEY}` },
      body: JSON.stringify({
        merchant_id: merchant.id,
        name: "x",
        commission: { type: "bps", bps: 20000 },
        currency: "USD",
        allowed_domains: ["shop.example.com"],
        default_destination: "javascript:alert(1)",
      }),
    });
    expect(badCampaign.status).toBe(400);
    const paths = ((await badCampaign.json()) as { issues: { path: string }[] }).issues.map((i) => i.path);
    expect(paths).toEqual(expect.arrayContaining(["commission.bps", "default_destination"]));
  });

  it("serves health on the public ports, readiness and metrics only on the ops ports", async () => {
    for (const base of [urls.redirectUrl, urls.postbackUrl, urls.reportsUrl]) {
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      for (const path of ["/readyz", "/metrics"]) {
        const res = await fetch(`${base}${path}`, { redirect: "manual" });
        expect(res.status).toBe(404);
        expect(await res.text()).not.toContain("http_requests_total");
      }
    }
    for (const base of Object.values(urls.ops)) {
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      expect(await (await fetch(`${base}/metrics`)).text()).toContain("http_requests_total");
    }
  });
});
