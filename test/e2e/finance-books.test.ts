import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createTestWorld, type TestWorld } from "../../packages/testing/src";
import { campaignWithLink, merchantKey, merchantPostback, reportsGet, untilConversion } from "./finance-helpers";
import { allowTokenStatusChanges, click, seedCampaign, startServices, type Urls } from "./helpers";

/**
 * The books a finance team signs, on the real servers (postback -> Kafka -> worker -> ClickHouse -> reports), each
 * figure computed by hand: the two clocks, held never negative, flags, and every outcome visible to its sender.
 */

let world: TestWorld;
let urls: Urls;
let seeded: Awaited<ReturnType<typeof seedCampaign>>;
let key: string;
let send: ReturnType<typeof merchantPostback>;

beforeAll(async () => {
  world = await createTestWorld(inject("stack"), "finance_books");
  urls = await startServices(world);
  seeded = await seedCampaign(urls);
  await allowTokenStatusChanges(urls, seeded.merchant.id);
  key = await merchantKey(world, seeded.merchant.id);
  send = merchantPostback(urls, seeded.merchant);
});
afterAll(async () => {
  await world?.close();
});

const iso = (ms: number) => new Date(ms).toISOString();
const dayOf = (ms: number, offset: number) => iso(ms + offset * 86_400_000).slice(0, 10);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("two clocks: a report as of T answers the same forever", () => {
  it("a refund dated before T but received after T changes nothing as of T (finding 1, by hand)", async () => {
    const { campaign, link } = await campaignWithLink(urls, seeded.merchant.id, seeded.influencer.id, {
      holding_days: 0,
    });
    const { clickId } = await click(urls, link.code);
    await send({ order_id: "CLK-1", amount: 10_000, currency: "EUR", click_id: clickId });
    await send({ order_id: "CLK-1", status: "approved" });
    await untilConversion(urls, key, "CLK-1", (b) => b.conversion?.status === "approved");
    await sleep(1100);
    const T = Date.now();
    await sleep(1100);
    const now = T;
    const q = `from=${dayOf(now, -3)}&to=${dayOf(now, 3)}&campaign_id=${campaign.id}&as_of=${iso(T)}`;
    const before = await reportsGet(urls, `/v1/reports/commissions?${q}`);
    const statementBefore = await reportsGet(urls, `/v1/reports/statements?${q}`);
    expect(before.status, before.text).toBe(200);
    expect(before.body.rows).toMatchObject([
      { payable_minor: 1000, approved_minor: 0, reversed_minor: 0, total_minor: 1000 },
    ]);
    expect(statementBefore.body.lines).toHaveLength(3);

    await send({
      order_id: "CLK-1",
      status: "refund",
      amount: 5_000,
      currency: "EUR",
      occurred_at: iso(T - 60_000),
      refund_id: "R1",
    });
    await untilConversion(urls, key, "CLK-1", (b) =>
      b.history.some((h: { status: string }) => h.status === "reversed"),
    );

    const after = await reportsGet(urls, `/v1/reports/commissions?${q}`);
    const statementAfter = await reportsGet(urls, `/v1/reports/statements?${q}`);
    expect(after.text).toBe(before.text);
    expect(statementAfter.text).toBe(statementBefore.text);
    // the aggregates hold the refund, so a past as_of is answered from the ledger, and says so
    expect(after.headers.get("x-report-source")).toBe("ledger");
    const latest = await reportsGet(
      urls,
      `/v1/reports/commissions?from=${dayOf(now, -3)}&to=${dayOf(now, 3)}&campaign_id=${campaign.id}`,
    );
    expect(latest.body.rows).toMatchObject([{ payable_minor: 500, reversed_minor: 500, total_minor: 500 }]);
  });

  it("held never goes negative and payable never exceeds the total across an as_of sweep (finding 2, by hand)", async () => {
    const { campaign, link } = await campaignWithLink(urls, seeded.merchant.id, seeded.influencer.id, {
      holding_days: 0,
    });
    const { clickId } = await click(urls, link.code);
    const t0 = Date.now();
    await send({ order_id: "SWEEP-1", amount: 10_000, currency: "EUR", click_id: clickId });
    await untilConversion(urls, key, "SWEEP-1", (b) => b.conversion?.status === "pending");
    await sleep(1100); // entries are recorded to the second in recorded_at: keep each state in a second of its own
    await send({ order_id: "SWEEP-1", status: "approved" });
    await untilConversion(urls, key, "SWEEP-1", (b) => b.conversion?.status === "approved");
    await sleep(1100);
    // the store's clock runs ahead: the refund is dated in the future
    await send({
      order_id: "SWEEP-1",
      status: "refund",
      amount: 5_000,
      currency: "EUR",
      occurred_at: iso(Date.now() + 9 * 60_000), // within the 10 minutes of skew intake accepts
      refund_id: "R-FUTURE",
    });
    const done = await untilConversion(urls, key, "SWEEP-1", (b) =>
      b.history.some((h: { status: string }) => h.status === "reversed"),
    );
    const recorded = done.history.map((h: { recorded_at: string }) => Date.parse(h.recorded_at));
    const sweep = [t0 - 1000, ...recorded.flatMap((r: number) => [r - 1000, r, r + 1000]), Date.now()];
    const seen = new Set<string>();
    for (const at of sweep) {
      const r = await reportsGet(
        urls,
        `/v1/reports/commissions?from=${dayOf(t0, -3)}&to=${dayOf(t0, 3)}&campaign_id=${campaign.id}&as_of=${iso(at)}&source=ledger`,
      );
      const row = r.body.rows[0] ?? { approved_minor: 0, payable_minor: 0, total_minor: 0 };
      expect(row.approved_minor, `held as of ${iso(at)}`).toBeGreaterThanOrEqual(0);
      expect(row.payable_minor, `payable as of ${iso(at)}`).toBeLessThanOrEqual(row.total_minor);
      seen.add(`${row.pending_minor ?? 0}/${row.approved_minor}/${row.payable_minor}/${row.reversed_minor ?? 0}`);
    }
    // nothing, then pending 10.00, then payable 10.00, then payable 5.00 with 5.00 reversed: never "held -5.00"
    expect([...seen]).toEqual(expect.arrayContaining(["1000/0/0/0", "0/0/1000/0", "0/0/500/500"]));
    for (const s of seen) expect(s.split("/").every((v) => !v.startsWith("-"))).toBe(true);
    const payouts = await reportsGet(urls, `/v1/reports/payouts?campaign_id=${campaign.id}`);
    expect(payouts.body.rows).toMatchObject([{ payable_minor: 500, held_minor: 0 }]);
  });
});

describe("flags finance can act on", () => {
  it("a sale dated before its click waits for review, is filtered and shown with its flag, and the merchant approves it", async () => {
    const { campaign, link } = await campaignWithLink(urls, seeded.merchant.id, seeded.influencer.id, {
      holding_days: 0,
    });
    const { clickId } = await click(urls, link.code);
    await send({
      order_id: "EARLY-SALE",
      amount: 20_000,
      currency: "EUR",
      click_id: clickId,
      occurred_at: iso(Date.now() - 2 * 86_400_000),
    });
    const held = await untilConversion(urls, key, "EARLY-SALE", (b) => b.conversion !== null);
    expect(held.conversion).toMatchObject({ status: "review", flags: ["click_after_sale"], held_for_review: true });
    const period = `from=${dayOf(Date.now(), -4)}&to=${dayOf(Date.now(), 2)}&campaign_id=${campaign.id}`;
    const flagged = await reportsGet(urls, `/v1/reports/commissions?${period}&flag=click_after_sale`);
    expect(flagged.body.rows).toMatchObject([
      { review_minor: 2000, pending_minor: 0, total_minor: 0, flagged_conversions: 1, conversions: 1 },
    ]);
    const none = await reportsGet(urls, `/v1/reports/commissions?${period}&flag=bot_click`);
    expect(none.body.rows.filter((r: { currency: string | null }) => r.currency !== null)).toEqual([]);
    const statement = await reportsGet(urls, `/v1/reports/statements?${period}`);
    expect(statement.body.lines).toMatchObject([
      { status: "review", flags: ["click_after_sale"], commission_minor: 2000 },
    ]);
    await send({ order_id: "EARLY-SALE", status: "approved" });
    const approved = await untilConversion(urls, key, "EARLY-SALE", (b) => b.conversion?.status === "approved");
    expect(approved.conversion.commission_minor).toBe(2000);
  });

  it("a hold_suspect campaign holds a sale through a bot-flagged click; a too-fast one is flagged", async () => {
    const { link } = await campaignWithLink(urls, seeded.merchant.id, seeded.influencer.id, {
      hold_suspect: true,
      min_click_to_conversion_seconds: 3600,
    });
    const bot = await click(
      urls,
      link.code,
      "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    );
    // the click must be in ClickHouse before the sale is resolved (a shopper's visit precedes the order)
    await untilClick(bot.clickId);
    await send({ order_id: "BOT-1", amount: 10_000, currency: "EUR", click_id: bot.clickId });
    const c = await untilConversion(urls, key, "BOT-1", (b) => b.conversion !== null);
    expect(c.conversion).toMatchObject({ status: "review", held_for_review: true, commission_minor: 1000 });
    expect(c.conversion.flags).toEqual(expect.arrayContaining(["too_fast", "bot_click"]));
    await send({ order_id: "BOT-1", status: "rejected", reason: "fraud" });
    // the outcomes are written beside the conversion row (one round of inserts): wait for both deliveries' outcomes
    const rejected = await untilConversion(
      urls,
      key,
      "BOT-1",
      (b) => b.conversion?.status === "rejected" && b.events?.length === 2,
    );
    expect(rejected.events.map((e: { outcome: string }) => e.outcome)).toEqual(["booked", "booked"]);
  });
});

async function untilClick(clickId: string) {
  const { eventually } = await import("../../packages/testing/src");
  const { sql, Int64Text } = await import("../../packages/clickhouse/src");
  const { z } = await import("zod");
  await eventually(
    () =>
      world.ch.query(
        "t_click",
        sql`SELECT count() AS n FROM clicks_raw_v1 WHERE click_id = ${clickId}`,
        z.object({ n: Int64Text }),
      ),
    (r) => (r[0]?.n ?? 0) > 0,
    60_000,
  );
}

describe("every outcome visible to its sender", () => {
  it("shows booked, duplicate, ignored (wrong currency), not credited and dead-lettered events, in JSON and CSV", async () => {
    const { clickId } = await click(urls, seeded.link.code);
    await sleep(1100); // the log below starts here: earlier tests' events were received before
    const from = iso(Date.now());
    // a refund in EUR that arrives before its USD sale: accepted (nothing to compare with yet), then ignored, with why
    await send({ order_id: "OUT-1", status: "refund", amount: 2_000, currency: "EUR", refund_id: "RF-2" });
    await send({ order_id: "OUT-1", amount: 10_000, currency: "USD", click_id: clickId });
    await send({ order_id: "OUT-1", status: "refund", amount: 1_000, currency: "USD", refund_id: "RF-1" });
    // a resend is recognised at the door
    expect(
      await send({ order_id: "OUT-1", status: "refund", amount: 1_000, currency: "USD", refund_id: "RF-1" }, 200),
    ).toMatchObject({
      duplicate: true,
    });
    // once the sale is known, a refund in another currency is refused at once, naming the field
    const wrong = await fetch(`${urls.postbackUrl}/postback`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        merchant_id: seeded.merchant.id,
        token: seeded.merchant.postback_token,
        order_id: "OUT-1",
        status: "refund",
        amount: 500,
        currency: "EUR",
        refund_id: "RF-3",
      }),
    });
    expect(wrong.status).toBeGreaterThanOrEqual(400);
    expect(wrong.status).toBeLessThan(500);
    expect(JSON.stringify(await wrong.json())).toContain("currency");
    await send({ order_id: "OUT-NOCLICK", amount: 5_000, currency: "USD" });
    await send({ order_id: "OUT-NOFX", amount: 5_000, currency: "JPY", click_id: clickId });
    // outcomes are written just before the conversion row (ADR 0005): wait for both
    const conv = await untilConversion(urls, key, "OUT-1", (b) => b.events.length === 3 && b.conversion !== null);
    const byChange = conv.events.map(
      (e: { type: string; currency: string; outcome: string; reason: string | null }) => [
        e.type,
        e.currency,
        e.outcome,
        e.reason?.split(":")[0] ?? null,
      ],
    );
    expect(byChange).toEqual([
      ["refund", "EUR", "ignored", "currency_mismatch"],
      ["sale", "USD", "booked", null],
      ["refund", "USD", "booked", null],
    ]);
    expect(conv.events[0].reason).toBe("currency_mismatch: refund in EUR, the order is in USD");
    expect(conv.conversion).toMatchObject({ status: "pending", commission_minor: 900, credited: true });
    const noClick = await untilConversion(urls, key, "OUT-NOCLICK", (b) => b.events.length === 1);
    expect(noClick.events[0]).toMatchObject({ outcome: "not_credited" });
    expect(noClick.events[0].reason).toMatch(/^no_click/);
    const noFx = await untilConversion(urls, key, "OUT-NOFX", (b) => b.events.length === 1);
    expect(noFx.conversion).toBeNull();
    expect(noFx.events[0]).toMatchObject({ outcome: "dead_lettered", reason: "no_fx_rate:JPY->USD" });

    const log = await reportsGet(urls, `/v1/postback-log?from=${from}&outcome=ignored,dead_lettered`, key);
    expect(log.status, log.text).toBe(200);
    expect(log.body.events.map((e: { order_id: string; outcome: string }) => `${e.order_id} ${e.outcome}`)).toEqual([
      "OUT-1 ignored",
      "OUT-NOFX dead_lettered",
    ]);
    const csv = await reportsGet(urls, `/v1/postback-log?from=${from}&outcome=booked,not_credited&format=csv`, key);
    const rows = csv.text.trim().split("\n");
    expect(rows[0]).toBe(
      "received_at,order_id,type,source,amount_minor,currency,occurred_at,outcome,reason,event_id,delivery",
    );
    expect(rows.slice(1).map((r) => r.split(",").slice(1, 8).join(","))).toEqual([
      expect.stringMatching(/^OUT-1,sale,postback,10000,USD,.*,booked$/),
      expect.stringMatching(/^OUT-1,refund,postback,1000,USD,.*,booked$/),
      expect.stringMatching(/^OUT-NOCLICK,sale,postback,5000,USD,.*,not_credited$/),
    ]);
    // another merchant's key cannot read these orders
    const other = await merchantKey(world, seeded.merchant.id + 1000);
    expect((await reportsGet(urls, "/v1/conversions/OUT-1", other)).status).toBe(404);
    expect((await reportsGet(urls, `/v1/postback-log?merchant_id=${seeded.merchant.id}`, other)).status).toBe(403);
  });
});
