import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { z } from "zod";
import { Int64Text, sql } from "../../packages/clickhouse/src";
import {
  createTestWorld,
  eventually,
  killServiceProcesses,
  spawnService,
  type TestWorld,
} from "../../packages/testing/src";
import { campaignWithLink, merchantKey, merchantPostback, reportsPost, untilConversion } from "./finance-helpers";
import { allowTokenStatusChanges, click, seedCampaign, startServices, type Urls } from "./helpers";

/**
 * A payout marked paid while the attribution worker is SIGKILLed between its ledger write and its Kafka commit, and
 * marked paid a second time: the paid bucket holds the run's total exactly once (docs/adr/0006 "Payout runs").
 */

let world: TestWorld;
let urls: Urls;

const spawnWorker = (extra: Record<string, string> = {}) =>
  spawnService("attribution", { env: { ...world.env, LOG_LEVEL: "warn", ...extra }, output: "inherit" });

beforeAll(async () => {
  world = await createTestWorld(inject("stack"), "finance_crash");
  urls = await startServices(world, { attribution: false });
});
afterAll(async () => {
  killServiceProcesses();
  await world?.close();
});

const Paid = z.object({ paid: Int64Text, rows: Int64Text, distinct_rows: Int64Text });
const paidOf = (campaignId: number) =>
  world.ch.query(
    "t_paid",
    sql`SELECT sumIf(commission_minor, status = 'paid') AS paid, count() AS rows, uniqExact(entry_id) AS distinct_rows
      FROM commission_ledger_v1 WHERE campaign_id = ${campaignId} AND entry_type = 'payout'`,
    Paid,
  );
const paidFinal = (campaignId: number) =>
  world.ch.query(
    "t_paid_final",
    sql`SELECT sumIf(commission_minor, status = 'paid') AS paid, count() AS rows, uniqExact(entry_id) AS distinct_rows
      FROM commission_ledger_v1 FINAL WHERE campaign_id = ${campaignId} AND entry_type = 'payout'`,
    Paid,
  );

describe("payout runs under SIGKILL", () => {
  it("books a run's payout exactly once when the worker dies before its commit and the run is marked paid again", async () => {
    const seeded = await seedCampaign(urls);
    await allowTokenStatusChanges(urls, seeded.merchant.id);
    const key = await merchantKey(world, seeded.merchant.id);
    const send = merchantPostback(urls, seeded.merchant);
    const { campaign, link } = await campaignWithLink(urls, seeded.merchant.id, seeded.influencer.id, {
      holding_days: 0,
    });
    const healthy = spawnWorker();
    const { clickId } = await click(urls, link.code);
    for (const [order, amount] of [
      ["K-1", 12_345],
      ["K-2", 6_789],
      ["K-3", 1_000],
    ] as const) {
      await send({ order_id: order, amount, currency: "EUR", click_id: clickId });
      await send({ order_id: order, status: "approved" });
    }
    for (const order of ["K-1", "K-2", "K-3"])
      await untilConversion(urls, key, order, (b) => b.conversion?.status === "approved");
    expect((await healthy.stop()).code).toBe(0);

    // 10 % of 123.45, 67.89 and 10.00: 12.35 + 6.79 + 1.00
    const run = await reportsPost(urls, "/v1/payout-runs", {
      currency: "EUR",
      idempotency_key: `crash-${campaign.id}`,
    });
    expect(run.status).toBe(201);
    expect(run.body.total_minor).toBe(2014);
    expect((await reportsPost(urls, `/v1/payout-runs/${run.body.run_id}/paid`, {})).status).toBe(200);

    const crashing = spawnWorker({ FAULT_KILL_AFTER_WRITE: "true" });
    expect((await crashing.exited).signal).toBe("SIGKILL");
    // the payout was written before the kill, its offsets not committed; finance marks the run paid again meanwhile
    expect((await paidOf(campaign.id))[0]?.paid).toBe(2014);
    expect((await reportsPost(urls, `/v1/payout-runs/${run.body.run_id}/paid`, { reference: "again" })).status).toBe(
      200,
    );

    const restarted = spawnWorker();
    // the restarted worker re-reads the uncommitted payout events and the resent ones: identical rows again
    await eventually(
      () => paidOf(campaign.id),
      (r) => (r[0]?.rows ?? 0) > (r[0]?.distinct_rows ?? 0),
      60_000,
    );
    expect((await paidFinal(campaign.id))[0]).toMatchObject({ paid: 2014, distinct_rows: 6 });
    expect((await restarted.stop()).code).toBe(0);
  });
});
