import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { z } from "zod";
import { Int64Text, sql } from "../../packages/clickhouse/src";
import { createLogger } from "../../packages/common/src";
import { createKafka, createProducer } from "../../packages/kafka/src";
import { createTestWorld, eventually, type TestWorld } from "../../packages/testing/src";
import { loadConfig as attributionConfig } from "../../services/attribution/src/config";
import { replayDeadLetters } from "../../services/attribution/src/replay-dlq";
import { allowTokenStatusChanges, api, click, seedCampaign, startServices, type Urls } from "./helpers";

let world: TestWorld;
let urls: Urls;
let seeded: Awaited<ReturnType<typeof seedCampaign>>;

beforeAll(async () => {
  world = await createTestWorld(inject("stack"), "attribution");
  urls = await startServices(world);
  seeded = await seedCampaign(urls);
  await allowTokenStatusChanges(urls, seeded.merchant.id);
});
afterAll(async () => {
  await world?.close();
});

const ConversionState = z.object({
  attribution: z.string(),
  influencer_id: z.number(),
  suspect: z.number(),
  status: z.string(),
  commission_minor: Int64Text,
  commission_currency: z.string(),
});
const Buckets = z.object({ status: z.string(), c: Int64Text, n: Int64Text });

async function postback(body: Record<string, unknown>) {
  const m = seeded.merchant;
  const res = await fetch(`${urls.postbackUrl}/postback`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ merchant_id: m.id, token: m.postback_token, currency: "USD", ...body }),
  });
  expect(res.status).toBe(202);
  return (await res.json()) as { conversion_id: string };
}

const conversion = (id: string) =>
  world.ch.query(
    "t_conv",
    sql`SELECT attribution, influencer_id, suspect, status, commission_minor, commission_currency FROM conversions_v1 FINAL WHERE conversion_id = ${id}`,
    ConversionState,
  );
const buckets = (id: string) =>
  world.ch.query(
    "t_buckets",
    sql`SELECT status, sum(commission_minor) AS c, count() AS n FROM commission_ledger_v1 FINAL WHERE conversion_id = ${id} GROUP BY status ORDER BY status`,
    Buckets,
  );
const until = <T>(fn: () => Promise<T[]>, ok: (rows: T[]) => boolean = (r) => r.length > 0) =>
  eventually(fn, ok, 60_000);

async function newInfluencer(name: string) {
  return (await api<{ id: number }>(urls.redirectUrl, "/api/influencers", { name })).json;
}

describe("attribution rules", () => {
  it("credits a coupon (case-insensitive) without a click, and lets the click win a disagreement by default", async () => {
    const bea = await newInfluencer("Bea");
    const coupon = await api(urls.redirectUrl, "/api/coupons", {
      code: "BEA10",
      merchant_id: seeded.merchant.id,
      campaign_id: seeded.campaign.id,
      influencer_id: bea.id,
    });
    expect(coupon.status).toBe(201);
    const viaCoupon = await postback({ order_id: "CPN-1", amount: 10_000, coupon_code: "bea10" });
    expect((await until(() => conversion(viaCoupon.conversion_id)))[0]).toMatchObject({
      attribution: "coupon",
      influencer_id: bea.id,
      commission_minor: 1000,
    });

    const { clickId } = await click(urls, seeded.link.code);
    const both = await postback({ order_id: "CPN-2", amount: 10_000, coupon_code: "BEA10", click_id: clickId });
    expect((await until(() => conversion(both.conversion_id)))[0]).toMatchObject({
      attribution: "click",
      influencer_id: seeded.influencer.id,
    });
  });

  it("refuses coupons outside their dates and a bad coupon with a named field", async () => {
    const past = await api(urls.redirectUrl, "/api/coupons", {
      code: "OLD",
      merchant_id: seeded.merchant.id,
      campaign_id: seeded.campaign.id,
      influencer_id: seeded.influencer.id,
      valid_from_ms: 0,
      valid_to_ms: 1000,
    });
    expect(past.status).toBe(201);
    const old = await postback({ order_id: "CPN-OLD", amount: 10_000, coupon_code: "old" });
    expect((await until(() => conversion(old.conversion_id)))[0]).toMatchObject({
      attribution: "unattributed",
      influencer_id: 0,
    });
    const bad = await api<{ issues: { path: string }[] }>(urls.redirectUrl, "/api/coupons", {
      code: "x y",
      merchant_id: seeded.merchant.id,
      campaign_id: seeded.campaign.id,
      influencer_id: 1,
    });
    expect(bad.status).toBe(400);
    expect(bad.json.issues.map((i) => i.path)).toContain("code");
  });

  it("leaves a forged click id unattributed and flagged, with no ledger entry", async () => {
    const { clickId } = await click(urls, seeded.link.code);
    // a character in the middle: the last one of base64url carries padding bits
    const forged = `${clickId.slice(0, 10)}${clickId[10] === "A" ? "B" : "A"}${clickId.slice(11)}`;
    const r = await postback({ order_id: "FORGED-1", amount: 10_000, click_id: forged });
    expect((await until(() => conversion(r.conversion_id)))[0]).toMatchObject({
      attribution: "forged_click",
      suspect: 1,
      influencer_id: 0,
    });
    expect(await buckets(r.conversion_id)).toEqual([]);
  });

  it("flags a sale too soon after its click and applies a per-influencer fixed override", async () => {
    const m = seeded.merchant;
    const campaign = (
      await api<{ id: number }>(urls.redirectUrl, "/api/campaigns", {
        merchant_id: m.id,
        name: "Fast",
        commission: { type: "bps", bps: 1000 },
        currency: "USD",
        allowed_domains: ["shop.example.com"],
        default_destination: "https://shop.example.com/",
        min_click_to_conversion_seconds: 3600,
        influencer_overrides: [
          { influencer_id: seeded.influencer.id, commission: { type: "fixed", amount_minor: 500 } },
        ],
      })
    ).json;
    const link = (
      await api<{ code: string }>(urls.redirectUrl, "/api/links", {
        campaign_id: campaign.id,
        influencer_id: seeded.influencer.id,
      })
    ).json;
    const { clickId } = await click(urls, link.code);
    const r = await postback({ order_id: "FAST-1", amount: 99_999, click_id: clickId });
    expect((await until(() => conversion(r.conversion_id)))[0]).toMatchObject({
      attribution: "click",
      suspect: 1,
      commission_minor: 500,
    });
  });

  it("parks a status change for an unknown order and applies it when the sale arrives; caps a refund larger than the sale", async () => {
    const { clickId } = await click(urls, seeded.link.code);
    const early = await postback({ order_id: "EARLY-1", type: "approve", occurred_at: Date.now() - 1000 });
    await postback({ order_id: "NEVER-SOLD", type: "reject", reason: "no such order" });
    // the parked change is stored but books nothing
    await eventually(
      () =>
        world.ch.query(
          "t_parked",
          sql`SELECT count() AS n FROM conversion_events_v1 WHERE conversion_id = ${early.conversion_id}`,
          z.object({ n: Int64Text }),
        ),
      (r) => r[0]?.n === 1,
      60_000,
    );
    expect(await buckets(early.conversion_id)).toEqual([]);
    await postback({ order_id: "EARLY-1", amount: 20_000, click_id: clickId, occurred_at: Date.now() - 5000 });
    const rows = await until(
      () => buckets(early.conversion_id),
      (r) => r.some((b) => b.status === "approved"),
    );
    expect(rows).toEqual([
      { status: "approved", c: 2000, n: 1 },
      { status: "pending", c: 0, n: 2 },
    ]);
    await postback({ order_id: "EARLY-1", type: "refund", amount: 1_000_000 });
    const refunded = await until(
      () => buckets(early.conversion_id),
      (r) => r.some((b) => b.status === "reversed"),
    );
    expect(refunded.find((b) => b.status === "reversed")?.c).toBe(2000);
    expect(refunded.find((b) => b.status === "approved")?.c).toBe(0);
    expect((await conversion(early.conversion_id))[0]?.status).toBe("refunded");
  });

  it("dead-letters malformed messages and unconvertible sales with a reason, and books them after a fix and a replay", async () => {
    const env = world.env;
    const kafka = createKafka({ brokers: env.KAFKA_BROKERS ?? "", clientId: "t-attr", log: world.log });
    const producer = createProducer(kafka);
    await producer.connect();
    await producer.send({ topic: env.TOPIC_POSTBACKS ?? "", messages: [{ key: "x", value: "{not json" }] });
    await producer.disconnect();
    const { clickId } = await click(urls, seeded.link.code);
    const eur = await postback({
      order_id: "EUR-1",
      amount: 10_000,
      currency: "EUR",
      click_id: clickId,
      occurred_at: Date.now() - 60_000,
    });

    const consumer = kafka.consumer({ groupId: `${world.id}.t-dlq` });
    await consumer.connect();
    await consumer.subscribe({ topic: env.TOPIC_DEAD_LETTERS ?? "", fromBeginning: true });
    const reasons: string[] = [];
    await consumer.run({
      eachMessage: async ({ message }) => {
        reasons.push(message.headers?.dlq_reason?.toString() ?? "");
      },
    });
    await eventually(
      async () => [...reasons],
      (r) => r.includes("invalid_json") && r.includes("no_fx_rate:EUR->USD"),
      60_000,
    );
    await consumer.disconnect();
    expect(await conversion(eur.conversion_id)).toEqual([]);

    const loaded = await api(urls.redirectUrl, "/api/fx-rates", {
      rates: [{ from: "EUR", to: "USD", rate: "1.0825", effective_from_ms: 0 }],
    });
    expect(loaded.status).toBe(201);
    const replay = await replayDeadLetters(
      attributionConfig({ ...env, DLQ_REPLAY_REASON: "no_fx_rate" }),
      createLogger("t-replay", "silent"),
    );
    expect(replay).toMatchObject({ replayed: 1 });
    expect((await until(() => conversion(eur.conversion_id)))[0]).toMatchObject({
      attribution: "click",
      commission_minor: 1083,
      commission_currency: "USD",
    });
  });
});
