import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ApiKeys } from "../../packages/catalog/src";
import { createTestWorld, type TestWorld } from "../../packages/testing/src";
import { ADMIN_KEY, FINANCE_KEY, startServices, type Urls } from "./helpers";

let world: TestWorld;
let urls: Urls;
beforeAll(async () => {
  world = await createTestWorld(inject("stack"), "apikeys");
  urls = await startServices(world, { attribution: false });
});
afterAll(() => world?.close());

type Json = Record<string, unknown> & { issues?: { path: string }[] };
async function call(method: string, path: string, body?: unknown, key = ADMIN_KEY) {
  const res = await fetch(`${urls.redirectUrl}${path}`, {
    method,
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Json };
}
/** Whether a key authenticates, on the management API (every role may list links) and on the reports API. */
async function works(key: string): Promise<boolean> {
  const management = (await call("GET", "/api/links?influencer_id=1", undefined, key)).status;
  const reports = (
    await fetch(`${urls.reportsUrl}/v1/reports/commissions?from=2026-01-01&to=2026-01-02`, {
      headers: { authorization: `Bearer ${key}` },
    })
  ).status;
  expect(management === 401).toBe(reports === 401);
  return management !== 401;
}
const SCOPES = [
  { role: "admin" },
  { role: "finance" },
  { role: "merchant", merchant_id: 1 },
  { role: "influencer", influencer_id: 101 },
];
const issue = async (body: Record<string, unknown>) => {
  const res = await call("POST", "/api/keys", { name: "k", ...body });
  expect(res.status).toBe(201);
  return res.json as { key: string; principal: { key_id: string } };
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("API keys in the catalog", () => {
  it("resolves a created key to its role and scope, stores only a hash, and forgets a revoked key", async () => {
    const { key, principal } = await world.catalog.apiKeys.create({
      role: "influencer",
      name: "Ada",
      influencer_id: 7,
    });
    expect(await world.catalog.apiKeys.resolve(key)).toEqual(principal);
    expect(principal).toMatchObject({ role: "influencer", influencer_id: 7 });
    const redis = world.catalog.redis;
    const stored = await redis.keys(`${world.catalog.prefix}apikey*`);
    expect(stored.length).toBeGreaterThanOrEqual(2); // the record and the index
    for (const k of stored) {
      const value = (await redis.type(k)) === "hash" ? JSON.stringify(await redis.hgetall(k)) : await redis.get(k);
      expect(`${k} ${value}`).not.toContain(key.slice(16));
    }
    expect(await world.catalog.apiKeys.resolve(`${key.slice(0, -1)}x`)).toBeUndefined();
    expect(await world.catalog.apiKeys.revoke(key)).toBe(true);
    expect(await world.catalog.apiKeys.resolve(key)).toBeUndefined();
  });

  it("writes the last-used time at most once a minute per key", async () => {
    let now = 1_800_000_000_000;
    const keys = new ApiKeys(world.catalog.redis, world.catalog.prefix, { now: () => now });
    const { key, principal } = await keys.create({ role: "finance", name: "books" });
    expect((await keys.get(principal.key_id))?.last_used_at_ms).toBeUndefined();
    const lastUsed = async () => {
      await sleep(50); // the write is off the request path
      return (await keys.get(principal.key_id))?.last_used_at_ms;
    };
    await keys.resolve(key);
    expect(await lastUsed()).toBe(now);
    const first = now;
    for (let i = 0; i < 20; i++) {
      now += 2_000;
      await keys.resolve(key);
    }
    expect(await lastUsed()).toBe(first);
    now += 21_000;
    await keys.resolve(key);
    expect(await lastUsed()).toBe(now);
  });
});

describe("key management API", () => {
  it("lists keys of every role with status and last use, never the key, and revokes one by id", async () => {
    const issued = await Promise.all(SCOPES.map(issue));
    const influencer = issued[3];
    if (!influencer) throw new Error("no influencer key");
    expect(await works(influencer.key)).toBe(true);
    await sleep(100);

    const listed = await call("GET", "/api/keys");
    expect(listed.status).toBe(200);
    const ids = issued.map((k) => k.principal.key_id);
    const mine = (listed.json.keys as Json[]).filter((k) => ids.includes(String(k.key_id)));
    expect(mine.map((k) => k.role).sort()).toEqual(["admin", "finance", "influencer", "merchant"]);
    expect(mine.every((k) => k.status === "active")).toBe(true);
    for (const k of issued) expect(JSON.stringify(listed.json)).not.toContain(k.key);
    const one = await call("GET", `/api/keys/${influencer.principal.key_id}`);
    expect(one.json).toMatchObject({ role: "influencer", influencer_id: 101, status: "active" });
    expect(one.json.last_used_at_ms).toBeGreaterThan(Date.now() - 60_000);
    const filtered = await call("GET", "/api/keys?role=merchant&merchant_id=1");
    expect((filtered.json.keys as Json[]).every((k) => k.role === "merchant" && k.merchant_id === 1)).toBe(true);

    const revoked = await call("POST", `/api/keys/${influencer.principal.key_id}/revoke`);
    expect(revoked.json).toMatchObject({ status: "revoked" });
    expect(revoked.json.revoked_at_ms).toBeGreaterThan(0);
    expect(await works(influencer.key)).toBe(false);
    expect((await call("GET", "/api/keys?status=revoked")).json.keys).toContainEqual(
      expect.objectContaining({ key_id: influencer.principal.key_id }),
    );
  });

  it("expires a key at its expires_at_ms, and refuses an expiry in the past", async () => {
    const past = await call("POST", "/api/keys", { role: "finance", name: "old", expires_at_ms: Date.now() - 1 });
    expect(past.status).toBe(400);
    expect(past.json.issues?.[0]?.path).toBe("expires_at_ms");
    const { key, principal } = await issue({ role: "finance", expires_at_ms: Date.now() + 1_500 });
    expect(await works(key)).toBe(true);
    await sleep(1_600);
    expect(await works(key)).toBe(false);
    expect((await call("GET", `/api/keys/${principal.key_id}`)).json.status).toBe("expired");
  });

  it("rotates keys of every role: the new key has the same role and scope, the old one stops", async () => {
    for (const scope of SCOPES) {
      const old = await issue(scope);
      const rotated = await call("POST", `/api/keys/${old.principal.key_id}/rotate`, {});
      expect(rotated.status).toBe(201);
      const next = rotated.json as { key: string; principal: Json; replaced: Json };
      expect(next.principal).toMatchObject(scope);
      expect(next.principal.key_id).not.toBe(old.principal.key_id);
      expect(next.replaced).toMatchObject({ status: "revoked", replaced_by: next.principal.key_id });
      expect(await works(next.key)).toBe(true);
      expect(await works(old.key)).toBe(false);
      expect((await call("POST", `/api/keys/${old.principal.key_id}/rotate`, {})).status).toBe(409);
    }
  });

  it("keeps the old key working during a rotation's overlap", async () => {
    const old = await issue({ role: "merchant", merchant_id: 2 });
    const rotated = await call("POST", `/api/keys/${old.principal.key_id}/rotate`, { overlap_s: 1 });
    expect(rotated.status).toBe(201);
    expect(await works(old.key)).toBe(true);
    expect(await works(String(rotated.json.key))).toBe(true);
    await sleep(1_100);
    expect(await works(old.key)).toBe(false);
  });

  it("is for admin keys only, and names a bad key id", async () => {
    const finance = await issue({ role: "finance" });
    expect((await call("GET", "/api/keys", undefined, finance.key)).status).toBe(403);
    expect((await call("GET", "/api/keys", undefined, FINANCE_KEY)).status).toBe(401);
    const bad = await call("POST", "/api/keys/nothex/revoke");
    expect(bad.status).toBe(400);
    expect(bad.json.issues?.[0]?.path).toBe("id");
    expect((await call("POST", "/api/keys/0123456789ab/revoke")).status).toBe(404);
  });
});
