import { type Campaign, type Coupon, CouponInput } from "@aff/catalog";
import { conversionId, deterministicId, signClickId } from "@aff/common";
import type { ConversionEvent } from "@aff/events";
import { describe, expect, it } from "vitest";
import { createResolveStep, createValidateStep, EVENT_TIME_MAX_MS, type ResolveDeps } from "./conversion-steps";

const SECRET = "unit-test-click-secret-0123456789";
const NOW = Date.UTC(2026, 5, 1, 12);
const campaign = (over: Partial<Campaign> = {}): Campaign => ({
  id: 7,
  merchant_id: 1,
  name: "C",
  commission: { type: "bps", bps: 1000 },
  currency: "USD",
  allowed_domains: ["shop.example.com"],
  default_destination: "https://shop.example.com/",
  attribution_window_days: 30,
  click_param: "click_id",
  attribution_model: "last_click",
  min_click_to_conversion_seconds: 0,
  coupon_policy: "click_wins",
  holding_days: 30,
  influencer_overrides: [],
  created_at_ms: 0,
  ...over,
});
const click = (ageMs: number, campaignId = 7) =>
  signClickId(SECRET, { linkId: 5, influencerId: 3, campaignId, clickedAtMs: NOW - ageMs });
const sale = (over: Partial<ConversionEvent> = {}): ConversionEvent => ({
  v: 1,
  event_id: deterministicId("e", JSON.stringify(over)),
  conversion_id: conversionId(1, "O"),
  merchant_id: 1,
  order_id: "O",
  type: "sale",
  amount_minor: 10_000,
  currency: "USD",
  occurred_at_ms: NOW,
  received_at_ms: NOW,
  ...over,
});
const coupon: Coupon = CouponInput.parse({ code: "bea", merchant_id: 1, campaign_id: 7, influencer_id: 9 });
function deps(c: Campaign = campaign(), over: Partial<ResolveDeps> = {}): ResolveDeps {
  return {
    clickIdSecret: SECRET,
    getCampaign: async (id) => (id === c.id ? c : undefined),
    getCoupon: async (_m, code) => (code.toUpperCase() === coupon.code ? coupon : undefined),
    rateAt: async (from, to) => (from === to ? "1" : from === "EUR" ? "1.1" : undefined),
    ...over,
  };
}

describe("resolve step", () => {
  it("credits a valid click", async () => {
    expect(await createResolveStep(deps())(sale({ click_id: click(60_000) }))).toMatchObject({
      kind: "ok",
      value: { attribution: "click", influencer_id: 3, campaign_id: 7, suspect: false },
    });
  });
  it("leaves a forged click unattributed, flagged and suspect", async () => {
    const genuine = click(60_000);
    // change a character in the middle (the last one of base64url carries padding bits)
    const forged = `${genuine.slice(0, 10)}${genuine[10] === "A" ? "B" : "A"}${genuine.slice(11)}`;
    expect(await createResolveStep(deps())(sale({ click_id: forged }))).toMatchObject({
      kind: "ok",
      value: { attribution: "forged_click", campaign_id: 0, suspect: true, flags: ["forged_click"] },
    });
  });
  it("expires a click outside the window, and credits a valid coupon instead", async () => {
    const old = click(31 * 86_400_000);
    expect(await createResolveStep(deps())(sale({ click_id: old }))).toMatchObject({
      value: { attribution: "expired_click", campaign_id: 0 },
    });
    expect(await createResolveStep(deps())(sale({ click_id: old, coupon_code: "Bea" }))).toMatchObject({
      value: { attribution: "coupon", influencer_id: 9, flags: ["expired_click"] },
    });
  });
  it("applies the campaign policy when click and coupon disagree", async () => {
    const e = sale({ click_id: click(60_000), coupon_code: "BEA" });
    expect(await createResolveStep(deps())(e)).toMatchObject({
      value: { attribution: "click", influencer_id: 3, flags: ["click_coupon_conflict"] },
    });
    expect(await createResolveStep(deps(campaign({ coupon_policy: "coupon_wins" })))(e)).toMatchObject({
      value: { attribution: "coupon", influencer_id: 9 },
    });
  });
  it("flags a conversion sooner than the campaign minimum after its click", async () => {
    const r = await createResolveStep(deps(campaign({ min_click_to_conversion_seconds: 120 })))(
      sale({ click_id: click(30_000) }),
    );
    expect(r).toMatchObject({ value: { suspect: true, flags: ["too_fast"], review: false } });
  });
  it("holds for review a sale dated before its click always, and a too-fast or bot-click sale when the campaign says so", async () => {
    const early = await createResolveStep(deps())(sale({ click_id: click(-2 * 86_400_000) }));
    expect(early).toMatchObject({ value: { suspect: true, flags: ["click_after_sale"], review: true } });
    const botClick = click(86_400_000);
    const bot = deps(campaign(), { isBotClick: (id) => id === botClick });
    expect(await createResolveStep(bot)(sale({ click_id: botClick }))).toMatchObject({
      value: { suspect: true, flags: ["bot_click"], review: false },
    });
    const held = deps(campaign({ hold_suspect: true, min_click_to_conversion_seconds: 120 }));
    expect(await createResolveStep(held)(sale({ click_id: click(30_000) }))).toMatchObject({
      value: { flags: ["too_fast"], review: true },
    });
    expect(await createResolveStep(held)(sale({ click_id: click(3_600_000) }))).toMatchObject({
      value: { flags: [], suspect: false, review: false },
    });
  });
  it("freezes the net share of the order for a campaign paying on the net sale", async () => {
    const net = deps(campaign({ commission_base: "net" }));
    expect(await createResolveStep(net)(sale({ click_id: click(1000), net_amount_minor: 8_000 }))).toMatchObject({
      value: { net_share: { net: 8_000, total: 10_000 } },
    });
    const total = await createResolveStep(deps())(sale({ click_id: click(1000), net_amount_minor: 8_000 }));
    expect(total.kind === "ok" && total.value.net_share).toBeUndefined();
  });
  it("uses the per-influencer override and converts into the settlement currency", async () => {
    const c = campaign({
      influencer_overrides: [{ influencer_id: 3, commission: { type: "fixed", amount_minor: 250 } }],
    });
    expect(await createResolveStep(deps(c))(sale({ click_id: click(1000), currency: "EUR" }))).toMatchObject({
      value: { commission: { type: "fixed", amount_minor: 250 }, fx_rate: "1.1", settlement_amount_minor: 11_000 },
    });
  });
  it("dead-letters what it cannot resolve: an unknown campaign, a missing FX rate", async () => {
    expect(await createResolveStep(deps())(sale({ click_id: click(1000, 99) }))).toMatchObject({
      kind: "dlq",
      reason: "unknown_campaign",
    });
    expect(await createResolveStep(deps())(sale({ click_id: click(1000), currency: "GBP" }))).toMatchObject({
      kind: "dlq",
      reason: "no_fx_rate:GBP->USD",
    });
  });
  it("dead-letters a sale whose converted amount leaves the amount range (never 1e+21 into ClickHouse)", async () => {
    const huge = deps(campaign(), { rateAt: async () => "999999999999.9999999999" });
    const r = await createResolveStep(huge)(sale({ click_id: click(1000), currency: "EUR", amount_minor: 10 ** 12 }));
    expect(r).toEqual({ kind: "dlq", reason: "amount_out_of_range" });
  });
  it("first_click credits the shopper's earliest click when one is known", async () => {
    const c = campaign({ attribution_model: "first_click" });
    const r = await createResolveStep(
      deps(c, { firstClick: async () => ({ influencer_id: 42, link_id: 8, clicked_at_ms: NOW - 5 * 86_400_000 }) }),
    )(sale({ click_id: click(1000) }));
    expect(r).toMatchObject({ value: { influencer_id: 42, link_id: 8 } });
  });
});

describe("validate step", () => {
  it("dead-letters events the books cannot use", () => {
    const v = createValidateStep();
    expect(v(sale({ amount_minor: undefined }))).toMatchObject({ kind: "dlq", reason: "sale_without_amount" });
    expect(v(sale({ type: "refund", amount_minor: undefined }))).toMatchObject({
      kind: "dlq",
      reason: "refund_without_amount",
    });
    expect(v(sale({ type: "approve", amount_minor: undefined, currency: undefined }))).toMatchObject({ kind: "ok" });
  });
  it("dead-letters times a ClickHouse DateTime cannot hold, even when the event schema lets them through", async () => {
    const v = createValidateStep();
    expect(v(sale({ occurred_at_ms: 9_000_000_000_000_000 }))).toMatchObject({
      kind: "dlq",
      reason: "time_out_of_range: occurred_at_ms",
    });
    expect(v(sale({ received_at_ms: EVENT_TIME_MAX_MS }))).toMatchObject({ kind: "dlq" });
    expect(v(sale({ occurred_at_ms: EVENT_TIME_MAX_MS - 1 }))).toMatchObject({ kind: "ok" });
  });
});
