import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { Profiles } from "../../packages/catalog/src";
import { createTestWorld, type TestWorld } from "../../packages/testing/src";
import { ADMIN_KEY, seedCampaign, startServices, type Urls } from "./helpers";

let world: TestWorld;
let urls: Urls;
let seed: Awaited<ReturnType<typeof seedCampaign>>;

beforeAll(async () => {
  world = await createTestWorld(inject("stack"), "catalog_concurrency");
  urls = await startServices(world, { attribution: false });
  seed = await seedCampaign(urls);
});
afterAll(() => world?.close());

async function call(method: string, path: string, body: unknown) {
  const res = await fetch(`${urls.redirectUrl}${path}`, {
    method,
    headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN_KEY}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** Connections Redis has accepted since it started: a change that opens its own connection moves it. */
async function connectionsAccepted(): Promise<number> {
  const info = await world.catalog.redis.info("stats");
  return Number(/total_connections_received:(\d+)/.exec(info)?.[1]);
}

/** Runs `work` while sampling CLIENT LIST; returns the most clients seen at once. */
async function peakClients(work: () => Promise<unknown>): Promise<number> {
  let peak = 0;
  let done = false;
  const sampler = (async () => {
    while (!done) {
      const list = String(await world.catalog.redis.call("CLIENT", "LIST"));
      peak = Math.max(peak, list.trim().split("\n").length);
      await new Promise((r) => setTimeout(r, 2));
    }
  })();
  await work();
  done = true;
  await sampler;
  return peak;
}

describe("optimistic changes share one Redis connection", () => {
  it("applies 40 concurrent PATCHes of links and 40 merchant rotations without opening a connection", async () => {
    const links = await Promise.all(
      Array.from(
        { length: 40 },
        async () =>
          (await call("POST", "/api/links", { campaign_id: seed.campaign.id, influencer_id: seed.influencer.id })).json,
      ),
    );
    const one = String(links[0]?.code);
    const before = await connectionsAccepted();
    const baseline = String(await world.catalog.redis.call("CLIENT", "LIST"))
      .trim()
      .split("\n").length;
    let answers: { status: number; json: Record<string, unknown> }[] = [];
    const peak = await peakClients(async () => {
      answers = await Promise.all([
        ...links.map((l, i) =>
          call("PATCH", `/api/links/${l.code}`, { destination: `https://shop.example.com/p/${i}` }),
        ),
        ...Array.from({ length: 40 }, (_, i) => call("PATCH", `/api/links/${one}`, { subs: { sub1: `v${i}` } })),
        ...Array.from({ length: 40 }, () =>
          call("POST", `/api/merchants/${seed.merchant.id}/rotate-credentials`, { overlap_s: 60 }),
        ),
      ]);
    });
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
    expect((await connectionsAccepted()) - before).toBe(0);
    expect(peak).toBeLessThanOrEqual(baseline);

    // Every change applied: each link has its own destination, the shared link one of the values sent, and the
    // rotations form one chain (each saw the one before it: 40 distinct secrets, the last 5 retired in order).
    for (const [i, l] of links.entries())
      expect((await world.catalog.links.get(String(l.code)))?.destination).toBe(`https://shop.example.com/p/${i}`);
    const sub1 = (await world.catalog.links.get(one))?.subs.sub1;
    expect(Array.from({ length: 40 }, (_, i) => `v${i}`)).toContain(sub1);
    const rotations = answers.slice(80).map((a) => String(a.json.postback_secret));
    expect(new Set(rotations).size).toBe(40);
    const merchant = await world.catalog.getMerchant(seed.merchant.id);
    expect(rotations).toContain(merchant?.postback_secret);
    expect(merchant?.retired_credentials).toHaveLength(5);
    for (const retired of merchant?.retired_credentials ?? [])
      expect([...rotations, seed.merchant.postback_secret]).toContain(retired.secret);
  });

  it("applies 40 concurrent profile edits, each moving the influencer between niche lists, without a connection", async () => {
    const niches = ["gaming", "sports", "travel_lifestyle", "business_tech"];
    const before = await connectionsAccepted();
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        call("PUT", `/api/influencers/${seed.influencer.id}/profile`, {
          niches: [niches[i % niches.length]],
          platforms: [{ platform: "youtube", handle: `h${i}`, audience_size: 1000 + i, audience_verified: true }],
        }),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
    expect((await connectionsAccepted()) - before).toBe(0);
    // the niche lists agree with the profile that won: the influencer is listed under its one niche and no other
    const profiles = new Profiles(world.catalog.redis, world.catalog.prefix);
    const profile = await profiles.get(seed.influencer.id);
    const listed = await Promise.all(niches.map((n) => profiles.inNiche(n as never)));
    expect(listed.map((ids) => ids.includes(seed.influencer.id))).toEqual(
      niches.map((n) => profile?.niches.includes(n as never)),
    );
  });
});
