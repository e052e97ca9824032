import type { Campaign } from "@aff/catalog";
import type { ConversionRow, LedgerRow } from "@aff/clickhouse";
import { toDateTimeText } from "@aff/clickhouse";
import { applyBasisPoints, deterministicId, verifyClickId } from "@aff/common";
import { ConversionEvent, decodeJson } from "@aff/events";
import { dlq, ok, type Step } from "./pipeline";

export type Attribution = ConversionRow["attribution"];

export type Resolved = {
  event: ConversionEvent;
  attribution: Attribution;
  campaign?: Campaign;
  influencerId: number;
  linkId: number;
  clickedAtMs?: number;
};

export type Built = { conversion: ConversionRow; ledger: LedgerRow[] };

const DAY_MS = 86_400_000;

export function createParseStep(): Step<Buffer | null, ConversionEvent> {
  return (value) => {
    const r = decodeJson(ConversionEvent, value);
    return r.ok ? ok(r.value) : dlq(r.reason);
  };
}

/** Credits the conversion from its signed click id; a forged, foreign or expired click leaves it unattributed. */
export function createResolveStep(deps: { clickIdSecret: string; getCampaign: (id: number) => Promise<Campaign | undefined> }): Step<ConversionEvent, Resolved> {
  return async (event) => {
    if (event.type !== "sale") return dlq(`unsupported_event_type:${event.type}`);
    const none = (attribution: Attribution): Resolved => ({ event, attribution, influencerId: 0, linkId: 0 });
    if (!event.click_id) return ok(none("unattributed"));
    const click = verifyClickId(deps.clickIdSecret, event.click_id);
    if (!click.ok) return ok(none("forged_click"));
    const campaign = await deps.getCampaign(click.facts.campaignId);
    if (!campaign) return dlq("unknown_campaign");
    if (campaign.merchant_id !== event.merchant_id) return ok(none("foreign_click"));
    if (event.occurred_at_ms - click.facts.clickedAtMs > campaign.attribution_window_days * DAY_MS) return ok(none("expired_click"));
    return ok({ event, attribution: "click", campaign, influencerId: click.facts.influencerId, linkId: click.facts.linkId, clickedAtMs: click.facts.clickedAtMs });
  };
}

/** Commission in minor units of the campaign's currency: basis points of the order amount, or a fixed amount. */
export function commissionFor(campaign: Campaign, amountMinor: number): number {
  return campaign.commission.type === "bps" ? applyBasisPoints(amountMinor, campaign.commission.bps) : campaign.commission.amount_minor;
}

/** The conversion row and the ledger entries for a sale. Ids and times come from the event, so a replay rebuilds identical rows. */
export function createBuildStep(): Step<Resolved, Built> {
  return (r) => {
    const e = r.event;
    const orderCurrency = e.currency ?? "XXX";
    const amount = e.amount_minor ?? 0;
    const campaign = r.campaign;
    if (campaign && campaign.currency !== orderCurrency) return dlq(`no_fx_rate:${orderCurrency}->${campaign.currency}`);
    const commission = campaign ? commissionFor(campaign, amount) : 0;
    const commissionCurrency = campaign?.currency ?? orderCurrency;
    const conversion: ConversionRow = {
      conversion_id: e.conversion_id,
      merchant_id: e.merchant_id,
      order_id: e.order_id,
      campaign_id: campaign?.id ?? 0,
      influencer_id: r.influencerId,
      link_id: r.linkId,
      click_id: e.click_id ?? "",
      attribution: r.attribution,
      suspect: 0,
      status: "pending",
      order_amount_minor: amount,
      order_currency: orderCurrency,
      commission_minor: commission,
      commission_currency: commissionCurrency,
      occurred_at: toDateTimeText(e.occurred_at_ms),
      version: e.received_at_ms,
    };
    const ledger: LedgerRow[] = campaign
      ? [
          {
            entry_id: deterministicId(e.event_id, "pending"),
            event_id: e.event_id,
            conversion_id: e.conversion_id,
            merchant_id: e.merchant_id,
            campaign_id: campaign.id,
            influencer_id: r.influencerId,
            entry_type: "sale",
            status: "pending",
            order_amount_minor: amount,
            order_currency: orderCurrency,
            commission_minor: commission,
            commission_currency: commissionCurrency,
            event_time: toDateTimeText(e.occurred_at_ms),
            payable_at: toDateTimeText(e.occurred_at_ms),
            recorded_at: toDateTimeText(e.received_at_ms),
            version: e.received_at_ms,
          },
        ]
      : [];
    return ok({ conversion, ledger });
  };
}
