import { createHmac, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createTestWorld, type TestWorld } from "../../packages/testing/src";
import { campaignWithLink, merchantKey, untilConversion } from "./finance-helpers";
import { ADMIN_KEY, api, click, seedCampaign, startServices, type Urls } from "./helpers";

/**
 * Store orders as merchants mean them, on the real servers: a Shopify test order earns nothing (and the sender is told
 * why), a campaign paying on the net sale books commission on the total less shipping and tax, and a voided order is
 * rejected through the lifecycle.
 */

const SECRET = "shpss_finance_0123456789abcdef";
let world: TestWorld;
let urls: Urls;
let seeded: Awaited<ReturnType<typeof seedCampaign>>;
let key: string;

beforeAll(async () => {
  world = await createTestWorld(inject("stack"), "finance_stores");
  urls = await startServices(world);
  seeded = await seedCampaign(urls);
  key = await merchantKey(world, seeded.merchant.id);
  const settings = await api(
    urls.redirectUrl,
    `/api/merchants/${seeded.merchant.id}/postback-settings`,
    { shopify_webhook_secret: SECRET },
    ADMIN_KEY,
  );
  expect(settings.status).toBe(200);
});
afterAll(async () => {
  await world?.close();
});

/** Shopify's documented example order (243.00 USD: 233.00 of goods and 10.00 shipping), as a live order. */
function order(id: string, clickId: string, fields: Record<string, unknown> = {}): string {
  const raw = readFileSync(path.join(__dirname, "../fixtures/postback/shopify-orders-create.json"), "utf8");
  const o = JSON.parse(raw.replace("__CLICK_ID__", clickId).replace("820982911946154508", id)) as Record<
    string,
    unknown
  >;
  return JSON.stringify({ ...o, created_at: new Date(Date.now() - 60_000).toISOString(), ...fields });
}

async function shopify(topic: string, body: string) {
  const res = await fetch(`${urls.postbackUrl}/webhooks/shopify/${seeded.merchant.id}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-shopify-topic": topic,
      "x-shopify-shop-domain": "example-store.myshopify.com",
      "x-shopify-webhook-id": randomUUID(),
      "x-shopify-triggered-at": new Date().toISOString(),
      "x-shopify-hmac-sha256": createHmac("sha256", SECRET).update(body).digest("base64"),
    },
    body,
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe("store orders as merchants mean them", () => {
  it("a Shopify test order earns nothing and says why; the same order live earns 10 % of its total", async () => {
    const { clickId } = await click(urls, seeded.link.code);
    const test = await shopify("orders/create", order("4100000001", clickId, { test: true }));
    expect(test.status).toBe(200);
    expect(JSON.stringify(test.json)).toContain("test order");
    const live = await shopify("orders/create", order("4100000002", clickId));
    expect(live.status).toBe(202);
    const booked = await untilConversion(urls, key, "4100000002", (b) => b.conversion !== null);
    expect(booked.conversion).toMatchObject({ order_amount_minor: 24_300, commission_minor: 2_430 });
    expect((await fetchStatus(`/v1/conversions/4100000001`)).status).toBe(404);
  });

  it("a campaign paying on the net sale books 10 % of 213.60 (243.00 less 10.00 shipping and 19.40 tax)", async () => {
    const { link } = await campaignWithLink(urls, seeded.merchant.id, seeded.influencer.id, {
      currency: "USD",
      commission_base: "net",
    });
    const { clickId } = await click(urls, link.code);
    const r = await shopify("orders/create", order("4100000003", clickId, { total_tax: "19.40" }));
    expect(r.status).toBe(202);
    const booked = await untilConversion(urls, key, "4100000003", (b) => b.conversion !== null);
    expect(booked.conversion).toMatchObject({ order_amount_minor: 24_300, commission_minor: 2_136 });
    // a full refund of the order takes back all of it
    const refund = JSON.stringify({
      id: 4200000003,
      order_id: 4100000003,
      created_at: new Date().toISOString(),
      transactions: [{ kind: "refund", status: "success", amount: "243.00", currency: "USD" }],
    });
    expect((await shopify("refunds/create", refund)).status).toBe(202);
    const refunded = await untilConversion(urls, key, "4100000003", (b) => b.conversion?.status === "refunded");
    expect(refunded.history.filter((h: { status: string }) => h.status === "reversed")).toMatchObject([
      { commission_minor: 2_136 },
    ]);
  });

  it("financial_status voided rejects the conversion; paid approves it", async () => {
    const { clickId } = await click(urls, seeded.link.code);
    await shopify("orders/create", order("4100000004", clickId));
    await shopify("orders/create", order("4100000005", clickId));
    await untilConversion(urls, key, "4100000005", (b) => b.conversion !== null);
    expect((await shopify("orders/updated", order("4100000004", clickId, { financial_status: "voided" }))).status).toBe(
      202,
    );
    expect((await shopify("orders/paid", order("4100000005", clickId))).status).toBe(202);
    expect(
      (await untilConversion(urls, key, "4100000004", (b) => b.conversion?.status === "rejected")).conversion,
    ).toMatchObject({
      commission_minor: 0,
    });
    await untilConversion(urls, key, "4100000005", (b) => b.conversion?.status === "approved");
  });
});

async function fetchStatus(p: string) {
  const res = await fetch(`${urls.reportsUrl}${p}`, { headers: { authorization: `Bearer ${key}` } });
  return { status: res.status };
}
