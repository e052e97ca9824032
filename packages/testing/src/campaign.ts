import {
  type Campaign,
  CampaignInput,
  type Catalog,
  type Influencer,
  InfluencerInput,
  type Link,
  LinkInput,
  type Merchant,
  MerchantInput,
} from "@aff/catalog";
import { conversionId, deterministicId } from "@aff/common";
import type { z } from "zod";

export type MerchantFields = z.input<typeof MerchantInput>;
export type CampaignFields = z.input<typeof CampaignInput>;
export type InfluencerFields = z.input<typeof InfluencerInput>;
export type LinkFields = z.input<typeof LinkInput>;

/**
 * Where the campaign fixture creates things: the management API over HTTP (tests of the running services, so the
 * routes' validation applies) or the catalog directly (benchmarks and scripts with no redirect service up).
 */
export type CatalogWriter = {
  merchant(input: MerchantFields): Promise<Merchant>;
  campaign(input: CampaignFields): Promise<Campaign>;
  influencer(input: InfluencerFields): Promise<Influencer>;
  link(input: LinkFields): Promise<Link>;
};

/** Writes through the catalog, validating each input with the schema the API uses. */
export function catalogWriter(catalog: Catalog): CatalogWriter {
  return {
    merchant: (input) => catalog.createMerchant(MerchantInput.parse(input)),
    campaign: (input) => catalog.createCampaign(CampaignInput.parse(input)),
    influencer: (input) => catalog.createInfluencer(InfluencerInput.parse(input)),
    // As an admin does: the link enrols its influencer in the campaign.
    link: (input) => catalog.createLink(LinkInput.parse(input), { enrolled: "grant" }),
  };
}

/** Writes through the management API (`/api/*` on the redirect service); a non-2xx answer throws with its body. */
export function apiWriter(baseUrl: string, adminKey: string): CatalogWriter {
  const post = async <T>(path: string, body: unknown): Promise<T> => {
    const res = await fetch(`${baseUrl}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${adminKey}` },
      body: JSON.stringify(body),
    });
    const json: unknown = await res.json();
    if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json as T;
  };
  return {
    merchant: (input) => post("/api/merchants", input),
    campaign: (input) => post("/api/campaigns", input),
    influencer: (input) => post("/api/influencers", input),
    link: (input) => post("/api/links", input),
  };
}

export type CampaignFixtureOptions = {
  merchant?: Partial<MerchantFields>;
  campaign?: Partial<Omit<CampaignFields, "merchant_id">>;
  influencer?: Partial<InfluencerFields>;
  link?: Partial<Omit<LinkFields, "campaign_id" | "influencer_id">>;
};

/** The campaign every fixture starts from: 10 % commission in USD, shoppers sent to shop.example.com. */
export const DEFAULT_CAMPAIGN = {
  name: "Spring",
  commission: { type: "bps", bps: 1000 },
  currency: "USD",
  allowed_domains: ["shop.example.com"],
  default_destination: "https://shop.example.com/",
} as const satisfies Omit<CampaignFields, "merchant_id">;

/** A merchant, a campaign of it, an influencer and the influencer's link to the campaign; each part overridable. */
export async function createCampaignFixture(writer: CatalogWriter, opts: CampaignFixtureOptions = {}) {
  const merchant = await writer.merchant({ name: "Test Shop", ...opts.merchant });
  const campaign = await writer.campaign({ ...DEFAULT_CAMPAIGN, ...opts.campaign, merchant_id: merchant.id });
  const influencer = await writer.influencer({ name: "Ada", ...opts.influencer });
  const link = await writer.link({ ...opts.link, campaign_id: campaign.id, influencer_id: influencer.id });
  return { merchant, campaign, influencer, link };
}

export type CampaignFixture = Awaited<ReturnType<typeof createCampaignFixture>>;

/**
 * The benchmarks' sale `B-<n>` of a merchant through a click, as the postback service publishes it: keyed by its
 * conversion id, with a deterministic event id (writing it twice books it once).
 */
export function benchSale(merchantId: number, clickId: string, n: number, nowMs: number) {
  const conv = conversionId(merchantId, `B-${n}`);
  const event = {
    v: 1,
    event_id: deterministicId(conv, "sale"),
    conversion_id: conv,
    merchant_id: merchantId,
    order_id: `B-${n}`,
    type: "sale",
    click_id: clickId,
    amount_minor: 1000 + n,
    currency: "USD",
    occurred_at_ms: nowMs,
    received_at_ms: nowMs,
  };
  return { key: conv, value: JSON.stringify(event) };
}
