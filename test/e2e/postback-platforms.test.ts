import { randomUUID } from "node:crypto";
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
  extra: Record<string, string> = {},
  merchantId = merchant.id,
) {
  // every delivery has its own id, as on the platforms; a redelivery passes the same one in `extra`
  const headers: Record<string, string> =
    platform === "shopify"
      ? {
          "x-shopify-topic": topicName,
          "x-shopify-shop-domain": "example-store.myshopify.com",
          "x-shopify-webhook-id": randomUUID(),
          "x-shopify-triggered-at": new Date().toISOString(),
          ...extra,
        }
      : {
          "x-wc-webhook-topic": topicName,
          "x-wc-webhook-resource": "order",
          "x-wc-webhook-source": "https://shop.example.com/",
          "x-wc-webhook-delivery-id": String(Math.floor(Math.random() * 1e9)),
          ...extra,
        };
  if (signature) headers[platform === "shopify" ? "x-shopify-hmac-sha256" : "x-wc-webhook-signature"] = signature;
  const res = await fetch(`${urls.postbackUrl}/webhooks/${platform}/${merchantId}`, {
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
    let last: Awaited<ReturnType<typeof webhook>> | undefined;
    for (const [topicName, name] of [
      ["order.created", "woocommerce-order-created.json"],
      ["order.updated", "woocommerce-order-updated-refund.json"],
      ["order.updated", "woocommerce-order-updated-completed.json"],
    ] as const) {
      const body = fixture(name, "clk-woo");
      last = await webhook("woocommerce", topicName, body, platformHmac(WOO_SECRET, body));
      expect(last.status).toBeLessThan(300);
    }
    // the completed order repeats its sale and refund: both duplicates, the approval new
    const answered = (last?.json.events ?? []) as { type: string; duplicate: boolean }[];
    expect(answered.map((e) => [e.type, e.duplicate])).toEqual([
      ["sale", true],
      ["approve", false],
      ["refund", true],
    ]);
    // The refund arrives twice (in both updates): the second time it is answered as a duplicate, not published.
    const got = (await topic.forOrder(merchant.id, "4750", 3)).map((r) => r.event);
    expect(got.map((e) => [e.type, e.amount_minor, e.change_id])).toEqual([
      ["sale", 9490, undefined],
      ["refund", 4500, "4761"],
      ["approve", undefined, undefined],
    ]);
    expect(got[0]).toMatchObject({
      currency: "EUR",
      click_id: "clk-woo",
      coupon_code: "spring10",
      source: "woocommerce",
    });
  });
});

describe("finding 10: platform webhooks have their own secrets, a replay window and delivery-id dedup", () => {
  it("refuses a merchant without a platform secret, even with an HMAC by its postback secret", async () => {
    const other = (await api<Merchant>(urls.redirectUrl, "/api/merchants", { name: "No Platform" })).json;
    const created = fixture("shopify-orders-create.json");
    for (const platform of ["shopify", "woocommerce"] as const) {
      const a = await webhook(
        platform,
        platform === "shopify" ? "orders/create" : "order.created",
        created,
        platformHmac(other.postback_secret, created),
        "application/json",
        {},
        other.id,
      );
      expect([a.status, a.json.error]).toEqual([401, "platform_not_configured"]);
    }
  });

  it("answers a redelivered delivery id 200 duplicate with the original events, without publishing again", async () => {
    const body = fixture("shopify-orders-create.json", "clk-dedup").replace("820982911946154508", "820982911946150001");
    const id = { "x-shopify-webhook-id": randomUUID() };
    const first = await webhook("shopify", "orders/create", body, platformHmac(SHOPIFY_SECRET, body), undefined, id);
    expect(first).toMatchObject({ status: 202, json: { duplicate: false } });
    const again = await webhook("shopify", "orders/create", body, platformHmac(SHOPIFY_SECRET, body), undefined, id);
    expect(again).toMatchObject({ status: 200, json: { duplicate: true, events: first.json.events } });
    const woo = fixture("woocommerce-order-created.json").replace('"id": 4750', '"id": 4751');
    const wooId = { "x-wc-webhook-delivery-id": "987654" };
    const w1 = await webhook("woocommerce", "order.created", woo, platformHmac(WOO_SECRET, woo), undefined, wooId);
    const w2 = await webhook("woocommerce", "order.created", woo, platformHmac(WOO_SECRET, woo), undefined, wooId);
    expect([w1.status, w2.status, w2.json.duplicate]).toEqual([202, 200, true]);
    await topic.forOrder(merchant.id, "4751", 1);
    expect(topic.seen.filter((r) => r.event.order_id === "820982911946150001")).toHaveLength(1);
    const bad = await webhook("shopify", "orders/create", body, platformHmac(SHOPIFY_SECRET, body), undefined, {
      "x-shopify-webhook-id": "not an id; drop table",
    });
    expect([bad.status, (bad.json.issues as { path: string }[])[0]?.path]).toEqual([400, "x-shopify-webhook-id"]);
  });

  it("refuses a Shopify delivery triggered outside the replay window", async () => {
    const body = fixture("shopify-orders-create.json");
    const at = (ms: number) => ({ "x-shopify-triggered-at": new Date(ms).toISOString() });
    const hmac = platformHmac(SHOPIFY_SECRET, body);
    const old = await webhook("shopify", "orders/create", body, hmac, undefined, at(Date.now() - 2 * 86_400_000));
    expect([old.status, old.json.error]).toEqual([401, "stale_signature"]);
    const ahead = await webhook("shopify", "orders/create", body, hmac, undefined, at(Date.now() + 3_600_000));
    expect([ahead.status, ahead.json.error]).toEqual([401, "stale_signature"]);
    const garbled = await webhook("shopify", "orders/create", body, hmac, undefined, {
      "x-shopify-triggered-at": "yesterday",
    });
    expect(garbled.status).toBe(400);
    // Shopify's own format, with nanoseconds, inside the window
    const ok = await webhook("shopify", "orders/create", body, hmac, undefined, {
      "x-shopify-triggered-at": new Date(Date.now() - 3_600_000).toISOString().replace("Z", "123456Z"),
    });
    expect(ok.status).toBeLessThan(300);
  });

  it("refuses a refund in another currency than the order's, naming the field", async () => {
    const order = "820982911946150002";
    const sale = fixture("shopify-orders-create.json").replace("820982911946154508", order);
    expect((await webhook("shopify", "orders/create", sale, platformHmac(SHOPIFY_SECRET, sale))).status).toBe(202);
    const refund = fixture("shopify-refunds-create.json")
      .replaceAll("820982911946154508", order)
      .replaceAll('"currency": "USD"', '"currency": "EUR"');
    const a = await webhook("shopify", "refunds/create", refund, platformHmac(SHOPIFY_SECRET, refund));
    expect([a.status, a.json.error, (a.json.issues as { path: string }[]).map((i) => i.path)]).toEqual([
      400,
      "validation_failed",
      ["events.0.currency"],
    ]);
  });
});
