import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { z } from "zod";
import { sql } from "../../packages/clickhouse/src";
import {
  controlService,
  createTestWorld,
  eventually,
  killServiceProcesses,
  REPO_ROOT,
  startService,
  type TestWorld,
} from "../../packages/testing/src";
import { ADMIN_KEY, api, click, seedCampaign, startServices, type Urls } from "./helpers";

let world: TestWorld;
let urls: Urls;
let seed: Awaited<ReturnType<typeof seedCampaign>>;

/** A real redirect process (built by `tsc -b`); resolves once it listens, with its URL. */
const spawnRedirect = (name: string, extra: Record<string, string> = {}) =>
  startService("redirect", {
    env: {
      ...world.env,
      ADMIN_API_KEY: ADMIN_KEY,
      LOG_LEVEL: "info",
      CLICK_SPOOL_DIR: path.join(REPO_ROOT, `.stack/test-spool/${world.id}/${name}`),
      ...extra,
    },
  });

const asUrls = (redirectUrl: string): Urls => ({ ...urls, redirectUrl });
const Count = z.object({ n: z.coerce.number(), ids: z.coerce.number() });
const clickRows = () =>
  world.ch
    .query("clicks_final", sql`SELECT count() AS n, uniqExact(click_id) AS ids FROM clicks_raw_v1 FINAL`, Count)
    .then((r) => r[0]);
const clickIds = () =>
  world.ch
    .query("click_ids", sql`SELECT click_id FROM clicks_raw_v1 FINAL`, z.object({ click_id: z.string() }))
    .then((r) => new Set(r.map((x) => x.click_id)));

/** Clicks `n` times and returns the click ids served; every answer must be a 302. */
async function clicks(u: Urls, code: string, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const c = await click(u, code);
    expect(c.status).toBe(302);
    out.push(c.clickId);
  }
  return out;
}

beforeAll(async () => {
  world = await createTestWorld(inject("stack"), "redirect_outages");
  urls = await startServices(world);
  seed = await seedCampaign(urls);
});
afterAll(async () => {
  controlService("start", "kafka");
  controlService("start", "redis");
  killServiceProcesses();
  await world?.close();
});

describe("redirect outages", () => {
  it("serves every request while Kafka is stopped, spools at SIGTERM, and ClickHouse ends with exactly one row per redirect", async () => {
    const served = await clicks(urls, seed.link.code, 1);
    await eventually(clickRows, (r) => r?.n === 1, 60_000);
    const first = await spawnRedirect("first");
    served.push(...(await clicks(asUrls(first.url), seed.link.code, 1)));

    controlService("stop", "kafka");
    served.push(...(await clicks(urls, seed.link.code, 30)));
    served.push(...(await clicks(asUrls(first.url), seed.link.code, 30)));
    // SIGTERM with Kafka away: the process must put its queue in the spool file and exit cleanly.
    expect((await first.stop()).code).toBe(0);
    const spooled = readFileSync(path.join(REPO_ROOT, `.stack/test-spool/${world.id}/first/clicks-0.jsonl`), "utf8")
      .trim()
      .split("\n");
    expect(spooled.length).toBeGreaterThanOrEqual(30);
    // The replacement process (same spool folder) replays the spool once Kafka is back.
    const second = await spawnRedirect("first");
    served.push(...(await clicks(asUrls(second.url), seed.link.code, 10)));
    controlService("start", "kafka");

    expect(new Set(served).size).toBe(served.length);
    // The consumer under test reconnects to the restarted broker with backoff: allow for a slow, shared machine.
    await eventually(clickRows, (r) => r?.n === served.length, 200_000, 500);
    expect(await clickIds()).toEqual(new Set(served));
    expect((await second.stop()).code).toBe(0);
    expect(await clickRows()).toEqual({ n: served.length, ids: served.length });
  }, 300_000);

  it("keeps redirecting cached links while Redis is stopped, and records every click", async () => {
    const before = (await clickRows())?.n ?? 0;
    const served = await clicks(urls, seed.link.code, 1);
    controlService("stop", "redis");
    served.push(...(await clicks(urls, seed.link.code, 20)));
    // A code this instance never saw cannot be looked up: a clear 503, never a wrong redirect.
    expect((await click(urls, "never-seen-code")).status).toBe(503);
    controlService("start", "redis");
    await eventually(clickRows, (r) => r?.n === before + served.length, 60_000, 500);
    const ids = await clickIds();
    expect(served.every((id) => ids.has(id))).toBe(true);
  });

  it("propagates a revocation to two redirect processes through pub/sub (the periodic resync is too slow to do it)", async () => {
    const link = (
      await api<{ code: string }>(urls.redirectUrl, "/api/links", {
        campaign_id: seed.campaign.id,
        influencer_id: seed.influencer.id,
      })
    ).json;
    const slowTtl = { LINK_CACHE_RESYNC_MS: "600000" };
    const [a, b] = await Promise.all([spawnRedirect("a", slowTtl), spawnRedirect("b", slowTtl)]);
    for (const p of [a, b]) expect((await click(asUrls(p.url), link.code)).status).toBe(302);

    const revokedAt = Date.now();
    const res = await fetch(`${urls.redirectUrl}/api/links/${link.code}/revoke`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    expect(res.status).toBe(200);
    const seenAt = await Promise.all(
      [a, b].map(async (p) => {
        await eventually(
          () => click(asUrls(p.url), link.code),
          (c) => c.status === 404,
          10_000,
          20,
        );
        return Date.now() - revokedAt;
      }),
    );
    console.info(`revocation seen by both redirect processes after ${Math.max(...seenAt)} ms`);
    for (const p of [a, b]) {
      expect((await p.stop()).code).toBe(0);
    }
  });

  it("loses no answered click when SIGKILLed before Kafka had it: the next process replays what it journaled", async () => {
    // no broker at this address: every click this process answers stays in its memory until the kill
    const killed = await spawnRedirect("killed", { KAFKA_BROKERS: "127.0.0.1:9" });
    const served = await clicks(asUrls(killed.url), seed.link.code, 25);
    killed.kill();
    expect((await killed.exited).signal).toBe("SIGKILL");
    const before = await clickIds();
    expect(served.filter((id) => before.has(id))).toEqual([]);

    const next = await spawnRedirect("killed");
    await eventually(clickIds, (ids) => served.every((id) => ids.has(id)), 60_000, 500);
    expect((await next.stop()).code).toBe(0);
  });
});
