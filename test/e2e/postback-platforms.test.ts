import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { conversionId } from "../../packages/common/src";
import { createTestWorld, type TestWorld } from "../../packages/testing/src";
import { fixture, platformHmac, readPostbacks } from "../fixtures/postback/topic";
import { ADMIN_KEY, api, startServices, type Urls } from "./helpers";

type Merchant = { id: number; postback_secret: string };

let world: TestWorld;
let urls: Urls;
let topic: Awaited<ReturnType<typeof readPostbacks>>;
let merchant: Merchant;
const SHOPIFY_SECRET = "shpss_test_0123456789abcdef";
const WOO_SECRET = "woo-webhook-secret-42";

beforeAll(async () => {
  world = await createTestWorld(inject("stack"), "postback_platforms");
  Object.assign(world.env, { MERCHANT_CACHE_TTL_MS: "0" });
  urls = await startServices(world, { attribution: false });
  topic = await readPostbacks(world);
  merchant = (await api<Merchant>(urls.redirectUrl, "/api/merchants", { name: "Platform Shop" })).json;
  const settings = await api(
    urls.redirectUrl,
    `/api/merchants/${merchant.id}/postback-settings`,
    { shopify_webhook_secret: SHOPIFY_SECRET, woocommerce_webhook_secret: WOO_SECRET },
    ADMIN_KEY,
  );
  expect(settings.status).toBe(200);
});
afterAll(() => world?.close());

async function webhook(
  platform: "shopify" | "woocommerce",
  topicName: string,
  body: string,
  signature: string | undefined,
  contentType = "application/json",
) {
  const headers: Record<string, string> =
    platform === "shopify"
      ? {
          "x-shopify-topic": topicName,
          "x-shopify-shop-domain": "example-store.myshopify.com",
          "x-shopify-webhook-id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        }
      : {
          "x-wc-webhook-topic": topicName,
          "x-wc-webhook-resource": "order",
          "x-wc-webhook-source": "https://shop.example.com/",
        };
  if (signature) headers[platform === "shopify" ? "x-shopify-hmac-sha256" : "x-wc-webhook-signature"] = signature;
  const res = await fetch(`${urls.postbackUrl}/webhooks/${platform}/${merchant.id}`, {
    method: "POST",
    headers: { "content-type": contentType, ...headers },
    body,
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe("Shopify order webhooks", () => {
  const order = "820982911946154508";

  it("turns orders/create into a sale and refunds/create into a refund of that order, ids exact", async () => {
    const created = fixture("shopify-orders-create.json", "clk-shopify");
    expect(await webhook("shopify", "orders/create", created, platformHmac(SHOPIFY_SECRET, created))).toMatchObject({
      status: 202,
    });
    const refund = fixture("shopify-refunds-create.json");
    expect(await webhook("shopify", "refunds/create", refund, platformHmac(SHOPIFY_SECRET, refund))).toMatchObject({
      status: 202,
    });

    const got = await topic.forOrder(merchant.id, order, 2);
    const key = conversionId(merchant.id, order);
    expect(got.map((r) => r.key)).toEqual([key, key]);
    expect(got.map((r) => r.event)).toEqual([
      expect.objectContaining({
        type: "sale",
        amount_minor: 24300,
        currency: "USD",
        click_id: "clk-shopify",
        coupon_code: "SPRING5",
        source: "shopify",
      }),
      expect.objectContaining({
        type: "refund",
        amount_minor: 3900,
        currency: "USD",
        change_id: "890088186047892319",
        source: "shopify",
      }),
    ]);
  });

  it("answers Shopify's redelivery of the same order as a duplicate, with the original ids", async () => {
    const created = fixture("shopify-orders-create.json", "clk-shopify");
    const again = await webhook("shopify", "orders/create", created, platformHmac(SHOPIFY_SECRET, created));
    const [sale] = await topic.forOrder(merchant.id, order, 1);
    expect(again).toMatchObject({
      status: 200,
      json: { events: [{ duplicate: true, event_id: sale?.event.event_id }] },
    });
  });

  it("refuses a wrong or missing HMAC, a tampered body, an unknown topic and a body that is not an order", async () => {
    const created = fixture("shopify-orders-create.json");
    expect(await webhook("shopify", "orders/create", created, platformHmac("wrong", created))).toMatchObject({
      status: 401,
      json: { error: "bad_signature" },
    });
    expect(await webhook("shopify", "orders/create", created, undefined)).toMatchObject({
      status: 401,
      json: { error: "missing_signature" },
    });
    const tampered = created.replace('"243.00"', '"2430.00"');
    expect(await webhook("shopify", "orders/create", tampered, platformHmac(SHOPIFY_SECRET, created))).toMatchObject({
      status: 401,
    });
    expect(await webhook("shopify", "products/create", "{}", platformHmac(SHOPIFY_SECRET, "{}"))).toMatchObject({
      status: 422,
      json: { error: "unsupported_topic" },
    });
    const notOrder = JSON.stringify({ id: 1, currency: "ZZZ", total_price: "12.345" });
    const bad = await webhook("shopify", "orders/create", notOrder, platformHmac(SHOPIFY_SECRET, notOrder));
    expect(bad.status).toBe(400);
    expect((bad.json.issues as { path: string }[]).map((i) => i.path)).toEqual(["events.0.currency"]);
    expect(await webhook("shopify", "orders/create", "{nope", platformHmac(SHOPIFY_SECRET, "{nope"))).toMatchObject({
      status: 400,
      json: { error: "malformed_body" },
    });
  });
});

describe("WooCommerce order webhooks", () => {
  it("answers the unsigned creation ping and nothing else unsigned", async () => {
    expect(
      await webhook("woocommerce", "", "webhook_id=17", undefined, "application/x-www-form-urlencoded"),
    ).toMatchObject({ status: 200, json: { pong: true } });
    const created = fixture("woocommerce-order-created.json");
    expect(await webhook("woocommerce", "order.created", created, undefined)).toMatchObject({
      status: 401,
      json: { error: "missing_signature" },
    });
  });

  it("turns order.created into a sale, a refund in order.updated into a refund, completed into an approval", async () => {
    for (const [topicName, name] of [
      ["order.created", "woocommerce-order-created.json"],
      ["order.updated", "woocommerce-order-updated-refund.json"],
      ["order.updated", "woocommerce-order-updated-completed.json"],
    ] as const) {
      const body = fixture(name, "clk-woo");
      expect((await webhook("woocommerce", topicName, body, platformHmac(WOO_SECRET, body))).status).toBeLessThan(300);
    }
    // The refund arrives twice (in both updates) and is published twice with one event id; the worker keeps one.
    const got = (await topic.forOrder(merchant.id, "4750", 4)).map((r) => r.event);
    expect(got.map((e) => [e.type, e.amount_minor, e.change_id])).toEqual([
      ["sale", 9490, undefined],
      ["refund", 4500, "4761"],
      ["approve", undefined, undefined],
      ["refund", 4500, "4761"],
    ]);
    expect(got[0]).toMatchObject({
      currency: "EUR",
      click_id: "clk-woo",
      coupon_code: "spring10",
      source: "woocommerce",
    });
    expect(got[1]?.event_id).toBe(got[3]?.event_id);
  });
});
