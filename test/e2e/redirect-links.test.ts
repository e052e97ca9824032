import net from "node:net";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { z } from "zod";
import { sql } from "../../packages/clickhouse/src";
import { verifyClickId } from "../../packages/common/src";
import { createTestWorld, eventually, type TestWorld } from "../../packages/testing/src";
import { ADMIN_KEY, api, click, seedCampaign, startServices, type Urls } from "./helpers";

let world: TestWorld;
let urls: Urls;
let seed: Awaited<ReturnType<typeof seedCampaign>>;
const CLICK_SECRET = "dev-only-click-id-secret-change-me";

beforeAll(async () => {
  world = await createTestWorld(inject("stack"), "redirect_links");
  urls = await startServices(world);
  seed = await seedCampaign(urls);
});
afterAll(() => world?.close());

async function call(method: string, path: string, body?: unknown, key = ADMIN_KEY) {
  const res = await fetch(`${urls.redirectUrl}${path}`, {
    method,
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return {
    status: res.status,
    json: (await res.json()) as Record<string, unknown> & { issues?: { path: string; message: string }[] },
  };
}

/** Sends bytes as they are (fetch and node:http refuse to send malformed request lines) and returns the raw answer. */
function rawRequest(requestLine: string): Promise<string> {
  const port = Number(new URL(urls.redirectUrl).port);
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () =>
      socket.write(`${requestLine}\r\nHost: x\r\nConnection: close\r\n\r\n`),
    );
    let out = "";
    socket.on("data", (d) => {
      out += d.toString("latin1");
    });
    socket.on("end", () => resolve(out));
    socket.on("error", reject);
  });
}

const newLink = (body: Record<string, unknown>, key = ADMIN_KEY) =>
  call("POST", "/api/links", { campaign_id: seed.campaign.id, influencer_id: seed.influencer.id, ...body }, key);

describe("link issuance API", () => {
  it("creates a deep link with an alias and sub values, which the redirect passes to the merchant with a signed click id", async () => {
    const created = await newLink({
      alias: "ada-boots",
      destination: "https://shop.example.com/boots?size=42",
      subs: { sub1: "instagram", sub2: "story 3" },
    });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({
      code: "ada-boots",
      status: "active",
      subs: { sub1: "instagram", sub2: "story 3" },
    });

    const res = await fetch(`${urls.redirectUrl}/ada-boots?utm=ignored`, {
      redirect: "manual",
      headers: { "user-agent": "Mozilla/5.0 Chrome/120" },
    });
    expect(res.status).toBe(302);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const location = new URL(res.headers.get("location") ?? "");
    expect(`${location.origin}${location.pathname}`).toBe("https://shop.example.com/boots");
    expect(location.searchParams.get("size")).toBe("42");
    expect(location.searchParams.get("sub1")).toBe("instagram");
    expect(location.searchParams.get("sub2")).toBe("story 3");
    const clickId = location.searchParams.get("click_id") ?? "";
    const verified = verifyClickId(CLICK_SECRET, clickId);
    expect(verified.ok && verified.facts).toMatchObject({
      linkId: created.json.id,
      influencerId: seed.influencer.id,
      campaignId: seed.campaign.id,
    });
    expect(res.headers.get("set-cookie")).toContain(`aff_click=${clickId};`);

    expect((await newLink({ alias: "ada-boots" })).status).toBe(409);
  });

  it("lists, reads, updates and revokes links", async () => {
    const a = (await newLink({})).json;
    const list = await call("GET", `/api/links?influencer_id=${seed.influencer.id}&limit=500`);
    expect(list.status).toBe(200);
    expect((list.json.links as { code: string }[]).map((l) => l.code)).toContain(a.code);
    expect((await call("GET", `/api/links/${a.code}`)).json).toMatchObject({ code: a.code });
    expect((await call("GET", "/api/links")).json.issues?.[0]?.path).toBe("influencer_id");

    const moved = await call("PATCH", `/api/links/${a.code}`, { destination: "https://shop.example.com/sale" });
    expect(moved.json.destination).toBe("https://shop.example.com/sale");
    await eventually(
      () => click(urls, String(a.code)),
      (c) => c.location.startsWith("https://shop.example.com/sale?click_id="),
    );

    expect((await call("POST", `/api/links/${a.code}/revoke`)).json.status).toBe("revoked");
    await eventually(
      () => click(urls, String(a.code)),
      (c) => c.status === 404,
    );
    const page = await fetch(`${urls.redirectUrl}/${a.code}`);
    expect(await page.text()).toContain("does not exist or has expired");
  });

  it("sends an expired link to the campaign's fallback without a click id", async () => {
    const a = (await newLink({ destination: "https://shop.example.com/flash" })).json;
    expect((await call("POST", `/api/links/${a.code}/expire`)).status).toBe(200);
    const c = await eventually(
      () => click(urls, String(a.code)),
      (c) => !c.location.includes("flash"),
    );
    expect(c.status).toBe(302);
    expect(c.location).toBe("https://shop.example.com/");
  });

  it("lets an influencer key manage its own links only", async () => {
    const other = (await api<{ id: number }>(urls.redirectUrl, "/api/influencers", { name: "Bob" })).json;
    const issued = await call("POST", "/api/keys", {
      role: "influencer",
      name: "Ada's key",
      influencer_id: seed.influencer.id,
    });
    expect(issued.status).toBe(201);
    const key = String(issued.json.key);
    const own = await call("POST", "/api/links", { campaign_id: seed.campaign.id }, key);
    expect(own.status).toBe(201);
    expect(own.json.influencer_id).toBe(seed.influencer.id);
    expect(
      (await call("POST", "/api/links", { campaign_id: seed.campaign.id, influencer_id: other.id }, key)).status,
    ).toBe(403);
    const theirs = (await call("POST", "/api/links", { campaign_id: seed.campaign.id, influencer_id: other.id })).json;
    expect((await call("GET", `/api/links/${theirs.code}`, undefined, key)).status).toBe(404);
    expect((await call("POST", `/api/links/${theirs.code}/revoke`, undefined, key)).status).toBe(404);
    const listed = (await call("GET", `/api/links?influencer_id=${other.id}`, undefined, key)).json.links as {
      influencer_id: number;
    }[];
    expect(listed.every((l) => l.influencer_id === seed.influencer.id)).toBe(true);
    expect((await call("POST", "/api/merchants", { name: "Nope" }, key)).status).toBe(403);
    expect((await call("GET", "/api/links?influencer_id=1", undefined, "wrong-key")).status).toBe(401);
  });
});

describe("bad input is refused at creation", () => {
  it.each([
    ["javascript:alert(1)", /scheme/],
    ["data:text/html,<script>alert(1)</script>", /scheme/],
    ["https://shop.example.com@evil.example/", /credentials/],
    ["https://shop.example.com.evil.example/", /not on the campaign/],
    ["https://evil.example/?next=https://shop.example.com/", /not on the campaign/],
    ["https://shop.exаmple.com/", /not on the campaign/], // Cyrillic a: IDN look-alike
    ["https://shop.example.com/\r\nSet-Cookie: a=1", /control/],
    ["//shop.example.com/", /absolute/],
  ])("destination %j", async (destination, reason) => {
    const res = await newLink({ destination });
    expect(res.status).toBe(400);
    expect(res.json.issues?.[0]?.path).toBe("destination");
    expect(res.json.issues?.[0]?.message).toMatch(reason);
  });

  it("refuses aliases that collide with service paths, and reaches every alias it accepts", async () => {
    for (const alias of ["api", "healthz", "readyz", "metrics", "metrics-x", "healthz-1", "API", "readyz.v2"]) {
      const res = await newLink({ alias });
      expect(res.status, alias).toBe(400);
      expect(res.json.issues?.[0]?.path).toBe("alias");
    }
    for (const alias of ["healthzz", "apiary", "metricsx"]) {
      expect((await newLink({ alias })).status, alias).toBe(201);
      const c = await click(urls, alias);
      expect(c.status, alias).toBe(302);
      expect(c.clickId).toHaveLength(47);
    }
  });

  it("refuses bad codes, subs and updates with the field named", async () => {
    expect((await newLink({ alias: "no/slash" })).json.issues?.[0]?.path).toBe("alias");
    expect((await newLink({ subs: { sub1: "a\r\nb" } })).json.issues?.[0]?.path).toBe("subs.sub1");
    expect((await newLink({ subs: { sub9: "x" } })).status).toBe(400);
    const a = (await newLink({})).json;
    const bad = await call("PATCH", `/api/links/${a.code}`, { destination: "https://evil.example/" });
    expect(bad.status).toBe(400);
    expect(bad.json.issues?.[0]?.path).toBe("destination");
    expect((await call("PATCH", `/api/links/${a.code}`, {})).status).toBe(400);
  });
});

describe("the redirect never emits what it must not", () => {
  it("answers unknown codes, absurd paths and header-injection attempts without echoing them", async () => {
    expect((await click(urls, "does-not-exist")).status).toBe(404);
    const long = await fetch(`${urls.redirectUrl}/${seed.link.code}?${"q=1&".repeat(2_000)}`, { redirect: "manual" });
    expect(long.status).toBe(414);
    for (const line of [
      `GET /${seed.link.code}%0d%0aSet-Cookie:%20evil=1 HTTP/1.1`,
      `GET /${seed.link.code}?x=%0d%0aLocation:%20https://evil.example HTTP/1.1`,
      "GET /%E2%80%AEevil HTTP/1.1",
    ]) {
      const answer = await rawRequest(line);
      const head = answer.split("\r\n\r\n")[0] ?? "";
      expect(head).toMatch(/^HTTP\/1\.1 (302|404)/);
      expect(head.toLowerCase()).not.toContain("evil");
    }
    // A raw control character in the request line never reaches our code: the HTTP parser refuses it.
    expect(await rawRequest(`GET /${seed.link.code}\x01x HTTP/1.1`)).toMatch(/^HTTP\/1\.1 400/);
  });

  it("never redirects to a stored destination that is not allowlisted, even if it reached Redis", async () => {
    const a = (await newLink({})).json;
    const stored = await world.catalog.links.get(String(a.code));
    if (!stored) throw new Error("link not stored");
    await world.catalog.redis.set(
      world.catalog.links.key(stored.code),
      JSON.stringify({ ...stored, destination: "https://evil.example/" }),
    );
    await world.catalog.redis.publish(world.catalog.linkChannel, stored.code);
    await eventually(
      () => click(urls, stored.code),
      (c) => c.status === 404,
    );
  });
});

describe("bots and prefetches", () => {
  it("redirects HEAD, crawlers and prefetches but records them as bot clicks, never unique", async () => {
    const a = (await newLink({})).json;
    const code = String(a.code);
    const human = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120 Safari/537.36";
    const answers = await Promise.all([
      fetch(`${urls.redirectUrl}/${code}`, { method: "HEAD", redirect: "manual", headers: { "user-agent": human } }),
      fetch(`${urls.redirectUrl}/${code}`, {
        redirect: "manual",
        headers: { "user-agent": "facebookexternalhit/1.1" },
      }),
      fetch(`${urls.redirectUrl}/${code}`, {
        redirect: "manual",
        headers: { "user-agent": human, "sec-purpose": "prefetch" },
      }),
    ]);
    expect(answers.map((r) => r.status)).toEqual([302, 302, 302]);
    await click(urls, code, human);
    await click(urls, code, human);
    const Row = z.object({ is_bot: z.coerce.number(), is_unique: z.coerce.number(), n: z.coerce.number() });
    const rows = await eventually(
      () =>
        world.ch.query(
          "clicks_by_flag",
          sql`SELECT is_bot, is_unique, count() AS n FROM clicks_raw_v1 FINAL WHERE link_id = ${Number(a.id)} GROUP BY is_bot, is_unique ORDER BY is_bot, is_unique`,
          Row,
        ),
      (r) => r.reduce((s, x) => s + x.n, 0) === 5,
    );
    expect(rows).toEqual([
      { is_bot: 0, is_unique: 0, n: 1 },
      { is_bot: 0, is_unique: 1, n: 1 },
      { is_bot: 1, is_unique: 0, n: 3 },
    ]);
  });
});
