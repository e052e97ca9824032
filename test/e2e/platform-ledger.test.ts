import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { z } from "zod";
import { Int64Text, sql } from "../../packages/clickhouse/src";
import { conversionId } from "../../packages/common/src";
import {
  apiWriter,
  createCampaignFixture,
  createTestWorld,
  eventually,
  type TestWorld,
} from "../../packages/testing/src";
import { fixture as documented, platformHmac } from "../fixtures/postback/topic";
import { ADMIN_KEY, api, click, startServices, type Urls } from "./helpers";

/**
 * The documented payloads, dated now: their own dates (November 20, 2026) lie before the test's clicks, and a sale
 * dated before its click waits for review (click_after_sale) instead of earning as an ordinary conversion.
 */
const fixture = (name: string, clickId = "") =>
  documented(name, clickId).replace(
    /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:[+-]\d\d:\d\d|Z)?/g,
    `${new Date().toISOString().slice(0, 19)}Z`,
  );

/** Store platforms' documented sample webhooks, through postback and the real worker, into the books. */
let world: TestWorld;
let urls: Urls;
const SHOPIFY_SECRET = "shpss_test_ledger_0123456789";
const WOO_SECRET = "woo-ledger-secret-42";

beforeAll(async () => {
  world = await createTestWorld(inject("stack"), "platform_ledger");
  Object.assign(world.env, { MERCHANT_CACHE_TTL_MS: "0" });
  urls = await startServices(world);
});
afterAll(() => world?.close());

async function merchantWithCampaign(name: string, currency: string, settings: Record<string, string>) {
  const { merchant, influencer, link } = await createCampaignFixture(apiWriter(urls.redirectUrl, ADMIN_KEY), {
    merchant: { name },
    campaign: { name: `${name} 10%`, currency },
    influencer: { name: `${name} creator` },
  });
  expect(
    (await api(urls.redirectUrl, `/api/merchants/${merchant.id}/postback-settings`, settings, ADMIN_KEY)).status,
  ).toBe(200);
  const { clickId } = await click(urls, link.code);
  return { merchant, influencer, clickId };
}

async function send(
  platform: "shopify" | "woocommerce",
  merchantId: number,
  topic: string,
  body: string,
  secret: string,
) {
  const headers: Record<string, string> =
    platform === "shopify"
      ? { "x-shopify-topic": topic, "x-shopify-hmac-sha256": platformHmac(secret, body) }
      : {
          "x-wc-webhook-topic": topic,
          "x-wc-webhook-resource": "order",
          "x-wc-webhook-signature": platformHmac(secret, body),
        };
  const res = await fetch(`${urls.postbackUrl}/webhooks/${platform}/${merchantId}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });
  expect(res.status).toBeLessThan(300);
}

const Bucket = z.object({
  status: z.string(),
  influencer_id: z.number(),
  commission_minor: Int64Text,
  entries: Int64Text,
});

async function buckets(merchantId: number, orderId: string, entries: number) {
  const conv = conversionId(merchantId, orderId);
  const rows = await eventually(
    () =>
      world.ch.query(
        "ledger_buckets",
        sql`SELECT status, influencer_id, sum(commission_minor) AS commission_minor, count() AS entries FROM commission_ledger_v1 FINAL WHERE conversion_id = ${conv} GROUP BY status, influencer_id ORDER BY status`,
        Bucket,
      ),
    (r) => r.reduce((n, b) => n + b.entries, 0) >= entries,
    60_000,
  );
  return rows;
}

describe("platform webhooks into the ledger", () => {
  it("Shopify orders/create then refunds/create: 10% of 243.00 pending, 3.90 of it reversed", async () => {
    const shop = await merchantWithCampaign("Shopify store", "USD", { shopify_webhook_secret: SHOPIFY_SECRET });
    await send(
      "shopify",
      shop.merchant.id,
      "orders/create",
      fixture("shopify-orders-create.json", shop.clickId),
      SHOPIFY_SECRET,
    );
    await send("shopify", shop.merchant.id, "refunds/create", fixture("shopify-refunds-create.json"), SHOPIFY_SECRET);
    // sale: pending +2430; refund of 39.00: pending -390, reversed +390
    const rows = await buckets(shop.merchant.id, "820982911946154508", 3);
    expect(rows.map((r) => [r.status, r.influencer_id, r.commission_minor])).toEqual([
      ["pending", shop.influencer.id, 2040],
      ["reversed", shop.influencer.id, 390],
    ]);
  });

  it("WooCommerce created, refunded (delivered twice) and completed: the refund counts once, the rest is approved", async () => {
    const woo = await merchantWithCampaign("Woo store", "EUR", { woocommerce_webhook_secret: WOO_SECRET });
    await send(
      "woocommerce",
      woo.merchant.id,
      "order.created",
      fixture("woocommerce-order-created.json", woo.clickId),
      WOO_SECRET,
    );
    await send(
      "woocommerce",
      woo.merchant.id,
      "order.updated",
      fixture("woocommerce-order-updated-refund.json", woo.clickId),
      WOO_SECRET,
    );
    await send(
      "woocommerce",
      woo.merchant.id,
      "order.updated",
      fixture("woocommerce-order-updated-completed.json", woo.clickId),
      WOO_SECRET,
    );
    // sale 94.90 -> pending +949; refund 45.00 -> pending -450, reversed +450; approve -> pending -499, approved +499
    const rows = await buckets(woo.merchant.id, "4750", 5);
    expect(rows.map((r) => [r.status, r.influencer_id, r.commission_minor])).toEqual([
      ["approved", woo.influencer.id, 499],
      ["pending", woo.influencer.id, 0],
      ["reversed", woo.influencer.id, 450],
    ]);
  });
});
