import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createTestWorld, type TestWorld } from "../../packages/testing/src";
import { ADMIN_KEY, api, seedCampaign, startServices, type Urls } from "./helpers";

let world: TestWorld;
let urls: Urls;
let seed: Awaited<ReturnType<typeof seedCampaign>>;

beforeAll(async () => {
  world = await createTestWorld(inject("stack"), "enrolment");
  urls = await startServices(world, { attribution: false });
  seed = await seedCampaign(urls);
});
afterAll(() => world?.close());

type Answer = { status: number; json: Record<string, unknown> & { message?: string; issues?: { path: string }[] } };
async function call(method: string, path: string, body: unknown, key: string): Promise<Answer> {
  const res = await fetch(`${urls.redirectUrl}${path}`, {
    method,
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: res.status === 204 ? {} : await res.json() };
}
const newKey = async (body: Record<string, unknown>) =>
  String((await api<{ key: string }>(urls.redirectUrl, "/api/keys", { name: "k", ...body })).json.key);
const newCampaign = async (merchantId: number) =>
  (
    await api<{ id: number }>(urls.redirectUrl, "/api/campaigns", {
      merchant_id: merchantId,
      name: "Autumn",
      commission: { type: "bps", bps: 500 },
      currency: "USD",
      allowed_domains: ["shop.example.com"],
      default_destination: "https://shop.example.com/",
    })
  ).json.id;

describe("campaign enrolment", () => {
  it("gives an influencer key links only on campaigns it is enrolled in, with one answer for unknown and foreign campaigns", async () => {
    const bob = (await api<{ id: number }>(urls.redirectUrl, "/api/influencers", { name: "Bob" })).json.id;
    const key = await newKey({ role: "influencer", influencer_id: bob });
    const link = (campaign_id: number) => call("POST", "/api/links", { campaign_id }, key);

    const foreign = await link(seed.campaign.id);
    const missing = await link(999_999);
    expect(foreign.status).toBe(403);
    expect(missing.status).toBe(403);
    expect(missing.json).toEqual(foreign.json);
    expect(foreign.json.issues?.[0]?.path).toBe("campaign_id");
    expect(JSON.stringify(foreign.json)).not.toContain(String(seed.campaign.id));

    const enrolled = await call(
      "POST",
      `/api/campaigns/${seed.campaign.id}/enrolments`,
      { influencer_id: bob },
      ADMIN_KEY,
    );
    expect(enrolled.status).toBe(201);
    expect(enrolled.json).toMatchObject({ campaign_id: seed.campaign.id, influencer_id: bob });
    expect((await link(seed.campaign.id)).status).toBe(201);
    expect((await call("GET", "/api/enrolments", undefined, key)).json.enrolments).toEqual([enrolled.json]);

    expect(
      (await call("DELETE", `/api/campaigns/${seed.campaign.id}/enrolments/${bob}`, undefined, ADMIN_KEY)).status,
    ).toBe(204);
    expect((await link(seed.campaign.id)).status).toBe(403);
    expect(
      (await call("DELETE", `/api/campaigns/${seed.campaign.id}/enrolments/${bob}`, undefined, ADMIN_KEY)).status,
    ).toBe(404);
    // Enrolment is not the influencer's to grant.
    expect(
      (await call("POST", `/api/campaigns/${seed.campaign.id}/enrolments`, { influencer_id: bob }, key)).status,
    ).toBe(403);
  });

  it("lets a merchant key enrol influencers in its own campaigns only", async () => {
    const other = (await api<{ id: number }>(urls.redirectUrl, "/api/merchants", { name: "Other Shop" })).json.id;
    const theirs = await newCampaign(other);
    const ours = await newCampaign(seed.merchant.id);
    const key = await newKey({ role: "merchant", merchant_id: seed.merchant.id });
    const enrol = (campaign: number, influencer_id = seed.influencer.id) =>
      call("POST", `/api/campaigns/${campaign}/enrolments`, { influencer_id }, key);

    expect((await enrol(ours)).status).toBe(201);
    const listed = await call("GET", `/api/campaigns/${ours}/enrolments`, undefined, key);
    expect(listed.json.enrolments).toMatchObject([{ campaign_id: ours, influencer_id: seed.influencer.id }]);
    const foreign = await enrol(theirs);
    const missing = await enrol(999_999);
    expect([foreign.status, missing.status]).toEqual([404, 404]);
    expect(missing.json).toEqual(foreign.json);
    expect((await call("GET", `/api/campaigns/${theirs}/enrolments`, undefined, key)).status).toBe(404);
    const unknown = await enrol(ours, 999_999);
    expect(unknown.status).toBe(422);
    expect(unknown.json.issues?.[0]?.path).toBe("influencer_id");
  });

  it("enrols the influencer when an admin creates the link", async () => {
    const campaign = await newCampaign(seed.merchant.id);
    const cy = (await api<{ id: number }>(urls.redirectUrl, "/api/influencers", { name: "Cy" })).json.id;
    const key = await newKey({ role: "influencer", influencer_id: cy });
    expect((await call("POST", "/api/links", { campaign_id: campaign }, key)).status).toBe(403);
    const byAdmin = await call("POST", "/api/links", { campaign_id: campaign, influencer_id: cy }, ADMIN_KEY);
    expect(byAdmin.status).toBe(201);
    expect((await call("POST", "/api/links", { campaign_id: campaign }, key)).status).toBe(201);
  });

  it("enrols, once, the influencers of links issued before enrolment existed", async () => {
    const { catalog } = world;
    const dee = await catalog.createInfluencer({ name: "Dee" });
    const campaign = await catalog.getCampaign(seed.campaign.id);
    if (!campaign) throw new Error("no campaign");
    // A link stored the way the previous version did: no enrolment with it.
    await catalog.links.create({ campaign_id: campaign.id, influencer_id: dee.id }, campaign);
    expect(await catalog.enrolments.has(campaign.id, dee.id)).toBe(false);
    await catalog.redis.del(`${catalog.prefix}enrol:backfilled`);
    const scan = (cursor: string) => catalog.links.scan(cursor, 100);
    expect(await catalog.enrolments.backfillFromLinks(scan, Date.now() + 1)).toBeGreaterThan(0);
    expect(await catalog.enrolments.has(campaign.id, dee.id)).toBe(true);
    expect(await catalog.enrolments.backfillFromLinks(scan)).toBe(0);
  });

  it("leaves alone links issued after the backfill began, so an enrolment removed since stays removed", async () => {
    const { catalog } = world;
    const eve = await catalog.createInfluencer({ name: "Eve" });
    const campaign = await catalog.getCampaign(seed.campaign.id);
    if (!campaign) throw new Error("no campaign");
    await catalog.redis.del(`${catalog.prefix}enrol:backfilled`);
    const cut = Date.now() - 60_000;
    await catalog.links.create({ campaign_id: campaign.id, influencer_id: eve.id }, campaign);
    const scan = (cursor: string) => catalog.links.scan(cursor, 100);
    expect(await catalog.enrolments.backfillFromLinks(scan, cut)).toBeGreaterThan(0);
    expect(await catalog.enrolments.has(campaign.id, eve.id)).toBe(false);
  });
});
