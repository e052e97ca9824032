import { expect } from "vitest";
import { eventually, type TestWorld } from "../../packages/testing/src";
import { api, FINANCE_KEY, type Urls } from "./helpers";

/** A signed-in finance client of the reports API: JSON parsed, the raw text kept for byte-for-byte comparisons. */
export async function reportsGet(urls: Urls, path: string, key = FINANCE_KEY) {
  const res = await fetch(`${urls.reportsUrl}${path}`, { headers: { authorization: `Bearer ${key}` } });
  const text = await res.text();
  const json = (res.headers.get("content-type") ?? "").includes("json") ? JSON.parse(text) : undefined;
  return { status: res.status, headers: res.headers, text, body: json as any };
}

export async function reportsPost(urls: Urls, path: string, body: unknown, key = FINANCE_KEY) {
  const res = await fetch(`${urls.reportsUrl}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

/** Sends a postback as the merchant (token auth) and expects it accepted. */
export function merchantPostback(urls: Urls, merchant: { id: number; postback_token: string }) {
  return async (body: Record<string, unknown>, expected = 202) => {
    const res = await fetch(`${urls.postbackUrl}/postback`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ merchant_id: merchant.id, token: merchant.postback_token, ...body }),
    });
    const json = (await res.json()) as { conversion_id: string; duplicate?: boolean };
    expect(res.status, JSON.stringify(json)).toBe(expected);
    return json;
  };
}

/** Waits until the worker has booked what the predicate expects for one order, read through the API like a merchant. */
export async function untilConversion(urls: Urls, merchantKey: string, orderId: string, ok: (body: any) => boolean) {
  const rows = await eventually(
    async () => {
      const r = await reportsGet(urls, `/v1/conversions/${encodeURIComponent(orderId)}`, merchantKey);
      return r.status === 200 && ok(r.body) ? [r.body] : [];
    },
    (r) => r.length > 0,
    60_000,
  );
  return rows[0];
}

export async function merchantKey(world: TestWorld, merchantId: number) {
  return (await world.catalog.apiKeys.create({ role: "merchant", name: "shop", merchant_id: merchantId })).key;
}

export async function influencerKey(world: TestWorld, influencerId: number) {
  return (await world.catalog.apiKeys.create({ role: "influencer", name: "creator", influencer_id: influencerId })).key;
}

/** A campaign of the merchant with its own link for the influencer (extra fields override the fixture's). */
export async function campaignWithLink(
  urls: Urls,
  merchantId: number,
  influencerId: number,
  fields: Record<string, unknown>,
) {
  const campaign = (
    await api<{ id: number }>(urls.redirectUrl, "/api/campaigns", {
      merchant_id: merchantId,
      name: "Finance",
      commission: { type: "bps", bps: 1000 },
      currency: "EUR",
      allowed_domains: ["shop.example.com"],
      default_destination: "https://shop.example.com/",
      ...fields,
    })
  ).json;
  expect(campaign.id).toBeGreaterThan(0);
  const link = (
    await api<{ code: string }>(urls.redirectUrl, "/api/links", {
      campaign_id: campaign.id,
      influencer_id: influencerId,
    })
  ).json;
  return { campaign, link };
}
