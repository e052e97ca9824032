import { type Campaign, type Coupon, convertMinor, couponValidAt } from "@aff/catalog";
import { verifyClickId } from "@aff/common";
import { ConversionEvent, decodeJson } from "@aff/events";
import type { z } from "zod";
import { amountInRange, type Resolution } from "./ledger-rules";
import { dlq, ok, type Step } from "./pipeline";

const DAY_MS = 86_400_000;
/**
 * Event times the books take (2100-01-01 UTC, exclusive): with a holding period of at most a year added, every
 * instant still fits a ClickHouse DateTime. The postback service bounds times far tighter; this guards the topic.
 */
export const EVENT_TIME_MAX_MS = Date.UTC(2100, 0, 1);
/** a click id minted this long after the merchant's sale time is still believed (clock skew), but flagged */
const CLOCK_SKEW_MS = 10 * 60_000;

export type FirstClick = { influencer_id: number; link_id: number; clicked_at_ms: number };

export type ResolveDeps = {
  clickIdSecret: string;
  getCampaign: (id: number) => Promise<Campaign | undefined>;
  getCoupon: (merchantId: number, code: string) => Promise<Coupon | undefined>;
  rateAt: (from: string, to: string, atMs: number) => Promise<string | undefined>;
  firstClick?: (clickId: string, campaignId: number, fromMs: number, toMs: number) => Promise<FirstClick | undefined>;
  /** true when the redirect flagged this click as a bot's (crawler, preview, HEAD, prefetch) */
  isBotClick?: (clickId: string) => boolean;
};

/**
 * Flags that make a credited conversion suspect (docs/adr/0005 "Flags"). A sale dated before its click
 * (`click_after_sale`) is never credited as an ordinary conversion: its commission always waits for review. The
 * others wait for review when the campaign holds suspect conversions (`hold_suspect`), else they are credited as
 * usual and shown with their flags.
 */
export const SUSPECT_FLAGS = ["click_after_sale", "too_fast", "bot_click"] as const;

export function createParseStep(
  schema: z.ZodType<ConversionEvent> = ConversionEvent,
): Step<Buffer | null, ConversionEvent> {
  return (value) => {
    const r = decodeJson(schema, value);
    return r.ok ? ok(r.value) : dlq(r.reason);
  };
}

/** Events the books cannot use at all go to the dead letters before they are stored. */
export function createValidateStep(): Step<ConversionEvent, ConversionEvent> {
  return (e) => {
    if (e.occurred_at_ms >= EVENT_TIME_MAX_MS) return dlq("time_out_of_range: occurred_at_ms");
    if (e.received_at_ms >= EVENT_TIME_MAX_MS) return dlq("time_out_of_range: received_at_ms");
    if (e.type === "sale" && (e.amount_minor === undefined || e.currency === undefined))
      return dlq("sale_without_amount");
    if ((e.type === "refund" || e.type === "adjust") && e.amount_minor === undefined)
      return dlq(`${e.type}_without_amount`);
    if (e.type === "refund" && e.amount_minor === 0) return dlq("refund_of_zero");
    if (e.type === "payout" && !e.payout) return dlq("payout_without_line");
    return ok(e);
  };
}

type Credit = { campaign: Campaign; influencerId: number; linkId: number; clickedAtMs?: number };
type ClickCheck = { credit?: Credit; failure?: "forged_click" | "expired_click" | "foreign_click"; flags: string[] };

async function checkClick(deps: ResolveDeps, e: ConversionEvent): Promise<ClickCheck | "unknown_campaign"> {
  if (!e.click_id) return { flags: [] };
  const click = verifyClickId(deps.clickIdSecret, e.click_id);
  if (!click.ok) return { failure: "forged_click", flags: ["forged_click"] };
  const campaign = await deps.getCampaign(click.facts.campaignId);
  if (!campaign) return "unknown_campaign";
  if (campaign.merchant_id !== e.merchant_id) return { failure: "foreign_click", flags: ["foreign_click"] };
  const ageMs = e.occurred_at_ms - click.facts.clickedAtMs;
  if (ageMs > campaign.attribution_window_days * DAY_MS) return { failure: "expired_click", flags: ["expired_click"] };
  const flags = ageMs < -CLOCK_SKEW_MS ? ["click_after_sale"] : [];
  let credit: Credit = {
    campaign,
    influencerId: click.facts.influencerId,
    linkId: click.facts.linkId,
    clickedAtMs: click.facts.clickedAtMs,
  };
  if (campaign.attribution_model === "first_click" && deps.firstClick) {
    const first = await deps.firstClick(
      e.click_id,
      campaign.id,
      e.occurred_at_ms - campaign.attribution_window_days * DAY_MS,
      e.occurred_at_ms,
    );
    if (first)
      credit = { campaign, influencerId: first.influencer_id, linkId: first.link_id, clickedAtMs: first.clicked_at_ms };
  }
  return { credit, flags };
}

async function checkCoupon(deps: ResolveDeps, e: ConversionEvent): Promise<{ credit?: Credit; flags: string[] }> {
  if (!e.coupon_code) return { flags: [] };
  const coupon = await deps.getCoupon(e.merchant_id, e.coupon_code);
  if (!coupon) return { flags: ["coupon_unknown"] };
  if (!couponValidAt(coupon, e.occurred_at_ms)) return { flags: ["coupon_out_of_dates"] };
  const campaign = await deps.getCampaign(coupon.campaign_id);
  if (!campaign || campaign.merchant_id !== e.merchant_id) return { flags: ["coupon_unknown_campaign"] };
  return { credit: { campaign, influencerId: coupon.influencer_id, linkId: 0 }, flags: [] };
}

/** Click and coupon together: the same influencer, or the click's campaign policy decides (default: the click wins). */
function decide(
  click: ClickCheck,
  coupon: { credit?: Credit },
): { credit?: Credit; via: "click" | "coupon"; flags: string[] } {
  const c = click.credit;
  const k = coupon.credit;
  if (c && k && (c.influencerId !== k.influencerId || c.campaign.id !== k.campaign.id)) {
    return c.campaign.coupon_policy === "coupon_wins"
      ? { credit: k, via: "coupon", flags: ["click_coupon_conflict"] }
      : { credit: c, via: "click", flags: ["click_coupon_conflict"] };
  }
  if (c) return { credit: c, via: "click", flags: [] };
  return { credit: k, via: "coupon", flags: [] };
}

/**
 * Who is credited for a sale and on what terms: the signed click id (verified; a forged one is unattributed and
 * flagged), the coupon registry, the campaign's policy, window and minimum click-to-conversion time, the commission
 * rule (per-influencer override first) and the FX rate in force at the sale. Unresolvable facts go to the dead letters.
 */
export function createResolveStep(deps: ResolveDeps): Step<ConversionEvent, Resolution> {
  return async (e) => {
    const amount = e.amount_minor ?? 0;
    const currency = e.currency ?? "XXX";
    const click = await checkClick(deps, e);
    if (click === "unknown_campaign") return dlq("unknown_campaign");
    const coupon = await checkCoupon(deps, e);
    const chosen = decide(click, coupon);
    const flags = [...click.flags, ...coupon.flags, ...chosen.flags];
    const credit = chosen.credit;
    if (!credit) {
      return ok({
        attribution: click.failure ?? "unattributed",
        campaign_id: 0,
        influencer_id: 0,
        link_id: 0,
        suspect: click.failure === "forged_click",
        flags,
        commission: { type: "fixed", amount_minor: 0 },
        commission_currency: currency,
        fx_rate: "1",
        settlement_amount_minor: amount,
        holding_days: 0,
        review: false,
      });
    }
    const campaign = credit.campaign;
    const rate = await deps.rateAt(currency, campaign.currency, e.occurred_at_ms);
    if (rate === undefined) return dlq(`no_fx_rate:${currency}->${campaign.currency}`);
    const minMs = campaign.min_click_to_conversion_seconds * 1000;
    const fast =
      chosen.via === "click" &&
      credit.clickedAtMs !== undefined &&
      minMs > 0 &&
      e.occurred_at_ms - credit.clickedAtMs < minMs;
    if (fast) flags.push("too_fast");
    if (chosen.via === "click" && e.click_id && deps.isBotClick?.(e.click_id)) flags.push("bot_click");
    const suspect = SUSPECT_FLAGS.some((f) => flags.includes(f));
    const settlement = convertMinor(amount, currency, campaign.currency, rate);
    if (!amountInRange(settlement)) return dlq("amount_out_of_range");
    const override = campaign.influencer_overrides.find((o) => o.influencer_id === credit.influencerId);
    return ok({
      attribution: chosen.via,
      campaign_id: campaign.id,
      influencer_id: credit.influencerId,
      link_id: credit.linkId,
      suspect,
      flags,
      commission: override?.commission ?? campaign.commission,
      commission_currency: campaign.currency,
      fx_rate: rate,
      settlement_amount_minor: settlement,
      holding_days: campaign.holding_days,
      net_share:
        campaign.commission_base === "net" && e.net_amount_minor !== undefined && amount > 0
          ? { net: e.net_amount_minor, total: amount }
          : undefined,
      review: flags.includes("click_after_sale") || (suspect && campaign.hold_suspect === true),
    });
  };
}
