import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { controlService, createTestWorld, eventually, type TestWorld } from "../../packages/testing/src";
import { signBody } from "../../services/postback/src/auth";
import { readPostbacks } from "../fixtures/postback/topic";
import { api, startServices, type Urls } from "./helpers";

type Merchant = { id: number; postback_secret: string };

let world: TestWorld;
let urls: Urls;
let merchant: Merchant;

beforeAll(async () => {
  world = await createTestWorld(inject("stack"), "postback_durability");
  Object.assign(world.env, { PUBLISH_TIMEOUT_MS: "2000" });
  urls = await startServices(world, { attribution: false });
  merchant = (await api<Merchant>(urls.redirectUrl, "/api/merchants", { name: "Durable Shop" })).json;
});
afterAll(async () => {
  controlService("start", "kafka");
  await world?.close();
});

describe("durable before it says yes", () => {
  it("answers 503 while Kafka is away, and the same signed request is accepted once Kafka is back", async () => {
    const body = JSON.stringify({ order_id: "K-1", amount: 4200, currency: "USD" });
    const request = {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-merchant-id": String(merchant.id),
        "x-signature": signBody(merchant.postback_secret, body, Math.floor(Date.now() / 1000)),
      },
      body,
    };
    controlService("stop", "kafka");
    const down = await fetch(`${urls.postbackUrl}/v1/conversions`, request);
    expect(down.status).toBe(503);
    expect(down.headers.get("retry-after")).toBe("5");
    expect(await down.json()).toMatchObject({ error: "not_durable" });

    controlService("start", "kafka");
    // The refusal released the signature, so the merchant's retry of the very same request counts.
    const retried = await eventually(
      async () => (await fetch(`${urls.postbackUrl}/v1/conversions`, request)).status,
      (status) => status === 202,
      90_000,
      1_000,
    );
    expect(retried).toBe(202);
    const topic = await readPostbacks(world);
    const events = await topic.forOrder(merchant.id, "K-1", 1);
    expect(events[0]?.event).toMatchObject({ type: "sale", amount_minor: 4200 });
    // Whether the refused attempt also landed or not, it carries the same event id: the worker counts one sale.
    expect(new Set(events.map((e) => e.event.event_id)).size).toBe(1);
  });
});
