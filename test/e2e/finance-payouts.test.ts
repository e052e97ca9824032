import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createTestWorld, eventually, type TestWorld } from "../../packages/testing/src";
import { startReports } from "../../services/reports/src/app";
import { loadConfig as reportsConfig } from "../../services/reports/src/config";
import {
  campaignWithLink,
  influencerKey,
  merchantKey,
  merchantPostback,
  reportsGet,
  reportsPost,
  untilConversion,
} from "./finance-helpers";
import { allowTokenStatusChanges, api, click, FINANCE_KEY, seedCampaign, startServices, type Urls } from "./helpers";

/**
 * A payout run's whole life on the real servers, to the cent: created as of an instant, exported (CSV, PayPal, SEPA
 * pain.001) byte-identically, marked paid (the worker moves the money to the paid bucket exactly once), then a refund
 * after payment is a debt the next run nets automatically.
 */

let world: TestWorld;
let urls: Urls;
let seeded: Awaited<ReturnType<typeof seedCampaign>>;
let key: string;
let send: ReturnType<typeof merchantPostback>;

beforeAll(async () => {
  world = await createTestWorld(inject("stack"), "finance_payouts");
  urls = await startServices(world);
  // the reports service of this test pays from a configured account, so SEPA files can be made
  const reports = await startReports(
    reportsConfig({
      ...world.env,
      REPORTS_API_KEY: FINANCE_KEY,
      SEPA_DEBTOR_NAME: "Affiliate Network GmbH",
      SEPA_DEBTOR_IBAN: "DE02120300000000202051",
      SEPA_DEBTOR_BIC: "BYLADEM1001",
    }),
    { log: world.log, lifecycle: world.lifecycle },
  );
  urls = { ...urls, reportsUrl: `http://127.0.0.1:${reports.server.port}` };
  seeded = await seedCampaign(urls);
  await allowTokenStatusChanges(urls, seeded.merchant.id);
  key = await merchantKey(world, seeded.merchant.id);
  send = merchantPostback(urls, seeded.merchant);
});
afterAll(async () => {
  await world?.close();
});

const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);

async function approvedSale(clickId: string, order: string, amountMinor: number) {
  await send({ order_id: order, amount: amountMinor, currency: "EUR", click_id: clickId });
  await send({ order_id: order, status: "approved" });
  await untilConversion(urls, key, order, (b) => b.conversion?.status === "approved");
}

async function figures(campaignId: number, influencerId: number) {
  const r = await reportsGet(
    urls,
    `/v1/reports/commissions?from=${day(-3)}&to=${day(3)}&campaign_id=${campaignId}&influencer_id=${influencerId}&source=ledger`,
  );
  return r.body.rows[0];
}

async function untilFigures(campaignId: number, influencerId: number, ok: (row: Record<string, number>) => boolean) {
  return (
    await eventually(
      async () => [await figures(campaignId, influencerId)],
      (r) => r[0] !== undefined && ok(r[0]),
      60_000,
    )
  )[0];
}

describe("payout runs", () => {
  it("creates, exports, pays, and carries a refund after payment into the next run, to the cent", async () => {
    const { campaign, link } = await campaignWithLink(urls, seeded.merchant.id, seeded.influencer.id, {
      holding_days: 0,
    });
    const ada = seeded.influencer.id;
    const bo = (await api<{ id: number }>(urls.redirectUrl, "/api/influencers", { name: "Bo" })).json.id;
    const boLink = (
      await api<{ code: string }>(urls.redirectUrl, "/api/links", { campaign_id: campaign.id, influencer_id: bo })
    ).json;
    const details = await fetch(`${urls.reportsUrl}/v1/influencers/${ada}/payout-details`, {
      method: "PUT",
      headers: { "content-type": "application/json", authorization: `Bearer ${FINANCE_KEY}` },
      body: JSON.stringify({
        name: "Ada Lovelace",
        iban: "DE89 3704 0044 0532 0130 00",
        bic: "COBADEFFXXX",
        paypal_email: "ada@example.com",
      }),
    });
    expect(details.status).toBe(200);
    const badIban = await fetch(`${urls.reportsUrl}/v1/influencers/${bo}/payout-details`, {
      method: "PUT",
      headers: { "content-type": "application/json", authorization: `Bearer ${FINANCE_KEY}` },
      body: JSON.stringify({ name: "Bo", iban: "DE89370400440532013001" }),
    });
    expect(badIban.status).toBe(400);
    expect(((await badIban.json()) as { issues: { path: string }[] }).issues[0]?.path).toBe("iban");

    const { clickId } = await click(urls, link.code);
    const boClick = (await click(urls, boLink.code)).clickId;
    await approvedSale(clickId, "PAY-1", 10_000); // 10.00
    await approvedSale(clickId, "PAY-2", 5_000); // 5.00
    await approvedSale(boClick, "PAY-BO", 2_000); // 2.00, under the line minimum below
    expect(await figures(campaign.id, ada)).toMatchObject({ payable_minor: 1500, paid_minor: 0 });

    const asOf = new Date().toISOString();
    const create = { currency: "EUR", as_of: asOf, idempotency_key: `run-1-${campaign.id}`, min_line_minor: 300 };
    const first = await reportsPost(urls, "/v1/payout-runs", create);
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    const run = first.body;
    expect(run).toMatchObject({ currency: "EUR", status: "open", total_minor: 1500, line_count: 1 });
    expect(run.manifest).toMatchObject({ cutoff: asOf, thresholds: { min_line_minor: 300 } });
    const line = run.lines[0];
    expect(line).toMatchObject({ influencer_id: ada, amount_minor: 1500, status: "open" });
    expect(
      line.items.map((i: { order_id: string; amount_minor: number }) => `${i.order_id} ${i.amount_minor}`).sort(),
    ).toEqual(["PAY-1 1000", "PAY-2 500"]);
    expect(line.items[0].entry_ids.length).toBeGreaterThan(0);
    // the same key returns the first run; another run right after finds nothing left for Ada and Bo still too small
    const again = await reportsPost(urls, "/v1/payout-runs", { ...create, as_of: undefined });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(run);
    expect((await reportsPost(urls, "/v1/payout-runs", { ...create, currency: "USD" })).status).toBe(409);
    const empty = await reportsPost(urls, "/v1/payout-runs", { ...create, idempotency_key: `run-1b-${campaign.id}` });
    expect(empty.body).toMatchObject({ total_minor: 0, line_count: 0 });

    // exports: byte-identical every time; the SEPA end-to-end id is the line id
    for (const format of ["csv", "paypal", "sepa"]) {
      const a = await reportsGet(urls, `/v1/payout-runs/${run.run_id}/export?format=${format}`);
      const b = await reportsGet(urls, `/v1/payout-runs/${run.run_id}/export?format=${format}`);
      expect(a.status, a.text).toBe(200);
      expect(b.text).toBe(a.text);
    }
    const sepa = (await reportsGet(urls, `/v1/payout-runs/${run.run_id}/export?format=sepa`)).text;
    expect(sepa).toContain(`<EndToEndId>${line.line_id}</EndToEndId>`);
    expect(sepa).toContain('<InstdAmt Ccy="EUR">15.00</InstdAmt>');
    expect(sepa).toContain("<CtrlSum>15.00</CtrlSum>");
    expect(sepa).toContain("<IBAN>DE89370400440532013000</IBAN>");
    const paypal = (await reportsGet(urls, `/v1/payout-runs/${run.run_id}/export?format=paypal`)).text;
    expect(paypal).toBe(`ada@example.com,15.00,EUR,${line.line_id},Payout ${run.run_id}\r\n`);

    // influencers see their own runs and lines only
    const adaKey = await influencerKey(world, ada);
    const boKey = await influencerKey(world, bo);
    const own = await reportsGet(urls, `/v1/payout-runs/${run.run_id}`, adaKey);
    expect(own.body.lines).toHaveLength(1);
    expect(
      (await reportsGet(urls, "/v1/payout-runs", adaKey)).body.runs.map((r: { run_id: string }) => r.run_id),
    ).toContain(run.run_id);
    expect((await reportsGet(urls, `/v1/payout-runs/${run.run_id}`, boKey)).status).toBe(403);
    expect((await reportsPost(urls, `/v1/payout-runs/${run.run_id}/paid`, {}, adaKey)).status).toBe(403);

    // paid as a whole; marking twice moves the money once
    const paid = await reportsPost(urls, `/v1/payout-runs/${run.run_id}/paid`, { reference: "BANK-0001" });
    expect(paid.body).toMatchObject({ status: "paid", paid_minor: 1500 });
    await reportsPost(urls, `/v1/payout-runs/${run.run_id}/paid`, { reference: "BANK-0002" });
    const afterPay = await untilFigures(campaign.id, ada, (r) => r.paid_minor === 1500);
    expect(afterPay).toMatchObject({ payable_minor: 0, paid_minor: 1500, total_minor: 1500 });
    expect((await reportsGet(urls, `/v1/payout-runs/${run.run_id}`)).body.lines[0].reference).toBe("BANK-0001");

    // a refund of 40.00 on PAY-1 after payment: 4.00 taken back, a debt carried into the next run
    await send({ order_id: "PAY-1", status: "refund", amount: 4_000, currency: "EUR", refund_id: "AFTER-PAY" });
    const debt = await untilFigures(campaign.id, ada, (r) => r.reversed_minor === 400);
    expect(debt).toMatchObject({ payable_minor: -400, paid_minor: 1500, reversed_minor: 400, total_minor: 1100 });
    await approvedSale(clickId, "PAY-3", 8_000); // 8.00
    const second = await reportsPost(urls, "/v1/payout-runs", {
      currency: "EUR",
      idempotency_key: `run-2-${campaign.id}`,
      min_line_minor: 300,
    });
    expect(second.status).toBe(201);
    const line2 = second.body.lines.find((l: { influencer_id: number }) => l.influencer_id === ada);
    expect(line2.amount_minor).toBe(400);
    expect(
      line2.items.map((i: { order_id: string; amount_minor: number }) => `${i.order_id} ${i.amount_minor}`).sort(),
    ).toEqual(["PAY-1 -400", "PAY-3 800"]);
    // paid per line
    const perLine = await reportsPost(urls, `/v1/payout-runs/${second.body.run_id}/paid`, {
      line_ids: [line2.line_id],
    });
    expect(perLine.body.lines.find((l: { line_id: string }) => l.line_id === line2.line_id).status).toBe("paid");
    const settled = await untilFigures(campaign.id, ada, (r) => r.paid_minor === 1900);
    expect(settled).toMatchObject({ payable_minor: 0, paid_minor: 1900, reversed_minor: 400, total_minor: 1900 });
  });
});
