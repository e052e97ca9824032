import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createTestWorld, type TestWorld } from "../../packages/testing/src";
import { ADMIN_KEY, api, startServices, type Urls } from "./helpers";

// Behind one proxy (TRUST_PROXY=1) the client is the entry that proxy appended, the right-most one: a client that
// writes its own X-Forwarded-For cannot pass an IP allowlist with it (it could with the old TRUST_PROXY=true).
let world: TestWorld;
let urls: Urls;
let merchant: { id: number; postback_token: string };

beforeAll(async () => {
  world = await createTestWorld(inject("stack"), "proxy_trust");
  Object.assign(world.env, { TRUST_PROXY: "1", MERCHANT_CACHE_TTL_MS: "0" });
  urls = await startServices(world, { attribution: false });
  merchant = (await api<typeof merchant>(urls.redirectUrl, "/api/merchants", { name: "Proxy Shop" })).json;
  const set = await api(
    urls.redirectUrl,
    `/api/merchants/${merchant.id}/postback-settings`,
    {
      ip_allowlist: ["198.51.100.0/24"],
    },
    ADMIN_KEY,
  );
  expect(set.status).toBe(200);
});
afterAll(() => world?.close());

const query = (order: string) =>
  `merchant_id=${merchant.id}&token=${merchant.postback_token}&order_id=${order}&amount=100&currency=USD`;

describe("proxy trust by hop count", () => {
  it.each(["GET", "POST"])("%s: a spoofed left-most X-Forwarded-For does not pass the allowlist", async (method) => {
    const order = `XFF-${method}`;
    const send = (xff: string) =>
      method === "GET"
        ? fetch(`${urls.postbackUrl}/postback?${query(order)}`, { headers: { "x-forwarded-for": xff } })
        : fetch(`${urls.postbackUrl}/postback`, {
            method: "POST",
            headers: { "x-forwarded-for": xff, "content-type": "application/x-www-form-urlencoded" },
            body: query(order),
          });
    const spoofed = await send("198.51.100.7, 203.0.113.9");
    expect(spoofed.status).toBe(403);
    expect(await spoofed.json()).toMatchObject({ error: "ip_not_allowed" });
    const real = await send("203.0.113.9, 198.51.100.7");
    expect(real.status).toBe(202);
  });

  it("keeps ops and unknown routes JSON behind the proxy too", async () => {
    const res = await fetch(`${urls.postbackUrl}/nope`, { headers: { "x-forwarded-for": "1.2.3.4" } });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: "not_found" });
  });
});
