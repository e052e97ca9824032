import { apiWriter, type CampaignFields, createCampaignFixture, type TestWorld } from "../../packages/testing/src";
import { startAttribution } from "../../services/attribution/src/app";
import { loadConfig as attributionConfig } from "../../services/attribution/src/config";
import { startPostback } from "../../services/postback/src/app";
import { loadConfig as postbackConfig } from "../../services/postback/src/config";
import { startRedirect } from "../../services/redirect/src/app";
import { loadConfig as redirectConfig } from "../../services/redirect/src/config";
import { startReports } from "../../services/reports/src/app";
import { loadConfig as reportsConfig } from "../../services/reports/src/config";

export const ADMIN_KEY = "test-admin-key-0123456789";
export const FINANCE_KEY = "test-finance-key-0123456789";

/** Starts the four services in this process against the world's topics, database and key prefix. */
export async function startServices(world: TestWorld, which: { attribution?: boolean } = {}) {
  const deps = { log: world.log, lifecycle: world.lifecycle };
  const env = { ...world.env, ADMIN_API_KEY: ADMIN_KEY, REPORTS_API_KEY: FINANCE_KEY };
  const redirect = await startRedirect(redirectConfig(env), { ...deps, catalog: world.catalog });
  const postback = await startPostback(postbackConfig(env), { ...deps, catalog: world.catalog });
  const reports = await startReports(reportsConfig(env), deps);
  if (which.attribution !== false) await startAttribution(attributionConfig(env), deps);
  const url = (port: number) => `http://127.0.0.1:${port}`;
  return {
    redirectUrl: url(redirect.server.port),
    postbackUrl: url(postback.server.port),
    reportsUrl: url(reports.server.port),
    /** ops ports (/readyz, /metrics), by service */
    ops: { redirect: url(redirect.ops.port), postback: url(postback.ops.port), reports: url(reports.ops.port) },
  };
}

export type Urls = Awaited<ReturnType<typeof startServices>>;

export async function api<T = Record<string, unknown>>(
  url: string,
  path: string,
  body: unknown,
  key = ADMIN_KEY,
): Promise<{ status: number; json: T }> {
  const res = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as T };
}

/** A merchant, a 10% campaign in USD on shop.example.com, an influencer and a link, through the management API. */
export async function seedCampaign(urls: Urls, commission: CampaignFields["commission"] = { type: "bps", bps: 1000 }) {
  return createCampaignFixture(apiWriter(urls.redirectUrl, ADMIN_KEY), {
    campaign: { commission },
    link: { destination: "https://shop.example.com/p/42" },
  });
}

/**
 * Lets the merchant's token postbacks change statuses (off by default: a token reports sales only). For tests that
 * drive approvals and refunds the way an integration that cannot sign does.
 */
export async function allowTokenStatusChanges(urls: Urls, merchantId: number): Promise<void> {
  const r = await api(urls.redirectUrl, `/api/merchants/${merchantId}/postback-settings`, {
    token_status_changes: true,
  });
  if (r.status !== 200) throw new Error(`postback-settings answered ${r.status}`);
}

/** Follows a tracking link like a browser would (without following the 302) and returns the click id. */
export async function click(
  urls: Urls,
  code: string,
  ua = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120 Safari/537.36",
) {
  const res = await fetch(`${urls.redirectUrl}/${code}`, { redirect: "manual", headers: { "user-agent": ua } });
  const location = res.headers.get("location") ?? "";
  return {
    status: res.status,
    location,
    clickId: location ? (new URL(location).searchParams.get("click_id") ?? "") : "",
    res,
  };
}

const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
export const AROUND_TODAY = `from=${day(-2)}&to=${day(2)}`;

export async function commissions(urls: Urls, query = AROUND_TODAY) {
  const res = await fetch(`${urls.reportsUrl}/v1/reports/commissions?${query}`, {
    headers: { authorization: `Bearer ${FINANCE_KEY}` },
  });
  return (await res.json()) as {
    rows: {
      influencer_id: number;
      currency: string;
      pending_minor: number;
      total_minor: number;
      conversions: number;
    }[];
  };
}
