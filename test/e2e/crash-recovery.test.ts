import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { z } from "zod";
import { raw } from "../../packages/clickhouse/src";
import {
  createTestWorld,
  eventually,
  killServiceProcesses,
  spawnService,
  type TestWorld,
} from "../../packages/testing/src";
import { click, commissions, seedCampaign, startServices, type Urls } from "./helpers";

let world: TestWorld;
let urls: Urls;

/** The real attribution worker, as its own process (built by `tsc -b`), so it can be killed with SIGKILL. */
const spawnWorker = (extra: Record<string, string>) =>
  spawnService("attribution", { env: { ...world.env, LOG_LEVEL: "warn", ...extra }, output: "inherit" });

beforeAll(async () => {
  world = await createTestWorld(inject("stack"), "crash");
  urls = await startServices(world, { attribution: false });
});
afterAll(async () => {
  killServiceProcesses();
  await world?.close();
});

const Count = z.object({ n: z.coerce.number() });

describe("attribution worker killed between write and commit", () => {
  it("leaves the report total unchanged after restart", async () => {
    const { merchant, influencer, link } = await seedCampaign(urls);
    const { clickId } = await click(urls, link.code);
    const pb = await fetch(`${urls.postbackUrl}/postback`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        merchant_id: merchant.id,
        token: merchant.postback_token,
        click_id: clickId,
        order_id: "CRASH-1",
        amount: 20000,
        currency: "USD",
      }),
    });
    expect(pb.status).toBe(202);

    const crashing = spawnWorker({ FAULT_KILL_AFTER_WRITE: "true" });
    const ended = await crashing.exited;
    expect(ended.signal).toBe("SIGKILL");
    // The ledger row was written before the kill; the offset was not committed.
    const written = await world.ch.query(
      "raw_ledger_rows",
      raw("SELECT count() AS n FROM commission_ledger_v1"),
      Count,
    );
    expect(written[0]?.n).toBe(1);

    const healthy = spawnWorker({});
    // The restarted worker re-reads the uncommitted message and writes the same entry again ...
    await eventually(
      () => world.ch.query("raw_ledger_rows", raw("SELECT count() AS n FROM commission_ledger_v1"), Count),
      (r) => r[0]?.n === 2,
      60_000,
    );
    // ... which ClickHouse collapses: the report counts it once.
    const report = await commissions(urls);
    expect(report.rows).toEqual([
      expect.objectContaining({
        influencer_id: influencer.id,
        currency: "USD",
        pending_minor: 2000,
        total_minor: 2000,
        conversions: 1,
      }),
    ]);

    expect((await healthy.stop()).code).toBe(0);
    expect((await commissions(urls)).rows[0]?.total_minor).toBe(2000);
  });
});
