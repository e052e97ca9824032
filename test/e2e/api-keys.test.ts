import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createTestWorld, type TestWorld } from "../../packages/testing/src";

let world: TestWorld;
beforeAll(async () => {
  world = await createTestWorld(inject("stack"), "apikeys");
});
afterAll(() => world?.close());

describe("API keys", () => {
  it("resolves a created key to its role and scope, stores only a hash, and forgets a revoked key", async () => {
    const { key, principal } = await world.catalog.apiKeys.create({
      role: "influencer",
      name: "Ada",
      influencer_id: 7,
    });
    expect(await world.catalog.apiKeys.resolve(key)).toEqual(principal);
    expect(principal).toMatchObject({ role: "influencer", influencer_id: 7 });
    const stored = await world.catalog.redis.keys(`${world.catalog.prefix}apikey:*`);
    expect(stored).toHaveLength(1);
    expect(stored[0]).not.toContain(key);
    expect(await world.catalog.redis.get(stored[0] as string)).not.toContain(key);
    expect(await world.catalog.apiKeys.resolve(`${key.slice(0, -1)}x`)).toBeUndefined();
    expect(await world.catalog.apiKeys.revoke(key)).toBe(true);
    expect(await world.catalog.apiKeys.resolve(key)).toBeUndefined();
  });
});
