import {
  type ClickRow,
  insertApprovedEntries,
  insertConversions,
  insertLedgerEntries,
  type LedgerRow,
  rebuildAggregates,
  toDateTimeText,
} from "../../packages/clickhouse/src";
import { deterministicId } from "../../packages/common/src";
import type { TestWorld } from "../../packages/testing/src";
import { clickWriter } from "../../services/attribution/src/aggregate-writer";
import { startReports } from "../../services/reports/src/app";
import { loadConfig } from "../../services/reports/src/config";

export const BOOTSTRAP_FINANCE_KEY = "test-reports-bootstrap-key-0123456789";

/** Starts only the reports service against the world's database and key prefix. */
export async function startReportsOnly(world: TestWorld) {
  return (await startReportsWithOps(world)).base;
}

/** The reports service and its ops port (/metrics, /readyz). */
export async function startReportsWithOps(world: TestWorld) {
  const reports = await startReports(loadConfig({ ...world.env, REPORTS_API_KEY: BOOTSTRAP_FINANCE_KEY }), {
    log: world.log,
    lifecycle: world.lifecycle,
    catalog: world.catalog,
  });
  return { base: `http://127.0.0.1:${reports.server.port}`, ops: `http://127.0.0.1:${reports.ops.port}` };
}

/** GET with a bearer key; JSON bodies parsed, CSV kept as text. */
export async function get(base: string, path: string, key: string | null = BOOTSTRAP_FINANCE_KEY) {
  const res = await fetch(`${base}${path}`, { headers: key === null ? {} : { authorization: `Bearer ${key}` } });
  const text = await res.text();
  const isJson = (res.headers.get("content-type") ?? "").includes("json");
  return { status: res.status, headers: res.headers, text, body: (isJson ? JSON.parse(text) : undefined) as any };
}

const ms = (iso: string) => Date.parse(iso);
/**
 * When the fixtures' entries were recorded: before every `as_of` these tests read at, so each entry counts at every
 * `as_of` and the tests here exercise the payable split and the aggregates. The second clock (entries recorded
 * after `as_of` do not count) is tested on the real worker in test/e2e/finance-*.test.ts.
 */
export const FIXTURE_RECORDED_MS = Date.parse("2025-12-01T00:00:00Z");
type Conv = {
  merchant: number;
  campaign: number;
  influencer: number;
  order: string;
  orderCurrency: string;
  currency: string;
};

/** Ledger rows for one movement of a conversion, built the way the attribution worker writes them. */
export function entry(
  c: Conv,
  kind: LedgerRow["entry_type"],
  status: LedgerRow["status"],
  orderMinor: number,
  commissionMinor: number,
  at: string,
  payableAt = at,
): LedgerRow {
  const conversion = deterministicId("conversion", c.merchant, c.order);
  const event = deterministicId("event", c.order, kind, at);
  return {
    entry_id: deterministicId(event, status),
    event_id: event,
    conversion_id: conversion,
    merchant_id: c.merchant,
    campaign_id: c.campaign,
    influencer_id: c.influencer,
    entry_type: kind,
    status,
    order_amount_minor: orderMinor,
    order_currency: c.orderCurrency,
    commission_minor: commissionMinor,
    commission_currency: c.currency,
    event_time: toDateTimeText(ms(at)),
    payable_at: toDateTimeText(ms(payableAt)),
    recorded_at: toDateTimeText(FIXTURE_RECORDED_MS),
    version: FIXTURE_RECORDED_MS,
  };
}

/** The status moves pending -> `to`: money leaves pending and enters `to` in the same event. */
export const move = (
  c: Conv,
  kind: LedgerRow["entry_type"],
  to: LedgerRow["status"],
  orderMinor: number,
  commissionMinor: number,
  at: string,
  payableAt = at,
) => [
  entry(c, kind, "pending", -orderMinor, -commissionMinor, at),
  entry(c, kind, to, orderMinor, commissionMinor, at, payableAt),
];

export function clickRow(
  c: Omit<Conv, "order" | "orderCurrency" | "currency">,
  n: number,
  at: string,
  ip: string,
  ua: string,
  bot = false,
): ClickRow {
  return {
    click_id: deterministicId("click", c.influencer, n),
    link_id: c.influencer * 10,
    link_code: `L${c.influencer}`,
    campaign_id: c.campaign,
    influencer_id: c.influencer,
    merchant_id: c.merchant,
    clicked_at: toDateTimeText(ms(at)),
    clicked_at_ms: ms(at),
    ip,
    user_agent: ua,
    referer: "",
    is_bot: bot ? 1 : 0,
    is_unique: 0,
    version: ms(at),
  };
}

export const A: Conv = {
  merchant: 1,
  campaign: 10,
  influencer: 100,
  order: "A",
  orderCurrency: "USD",
  currency: "USD",
};
export const B: Conv = { ...A, order: "B" };
export const C: Conv = {
  merchant: 2,
  campaign: 20,
  influencer: 101,
  order: "C",
  orderCurrency: "GBP",
  currency: "EUR",
};
export const D: Conv = { ...C, order: "D" };
const X = { merchant: 1, campaign: 10, influencer: 100 };
const LONELY = { merchant: 1, campaign: 10, influencer: 102 };

/**
 * The hand-computed fixture (see reports-fixture.test.ts for the expected figures):
 * A: 100.00 USD sale, 10.00 commission, approved (payable from 2026-04-11).
 * B: 50.00 USD sale at 23:30 UTC (the next day in Berlin), 5.00 commission, rejected.
 * C: 80.00 GBP sale settled in EUR at 9.35, approved (payable from 2026-04-19), then 30.00 GBP refunded (-3.51 EUR).
 * D: 20.00 GBP sale settled at 2.34 EUR on 2026-03-31 23:30 UTC (April in Berlin), pending.
 */
export function fixtureLedger(): LedgerRow[] {
  return [
    entry(A, "sale", "pending", 10_000, 1000, "2026-03-10T12:00:00Z"),
    ...move(A, "approve", "approved", 10_000, 1000, "2026-03-12T09:00:00Z", "2026-04-11T09:00:00Z"),
    entry(B, "sale", "pending", 5000, 500, "2026-03-10T23:30:00Z"),
    ...move(B, "reject", "rejected", 5000, 500, "2026-03-15T10:00:00Z"),
    entry(C, "sale", "pending", 8000, 935, "2026-03-11T08:00:00Z"),
    ...move(C, "approve", "approved", 8000, 935, "2026-03-20T10:00:00Z", "2026-04-19T10:00:00Z"),
    entry(C, "refund", "approved", -3000, -351, "2026-04-25T10:00:00Z"),
    entry(C, "refund", "reversed", 3000, 351, "2026-04-25T10:00:00Z"),
    entry(D, "sale", "pending", 2000, 234, "2026-03-31T23:30:00Z"),
  ];
}

/** 4 clicks for influencer 100 (one bot, two from the same browser in one hour), 1 for influencer 102. */
export function fixtureClicks(): ClickRow[] {
  const ua = "Mozilla/5.0 Firefox/120";
  return [
    clickRow(X, 1, "2026-03-10T11:00:00Z", "10.0.0.0", ua),
    clickRow(X, 2, "2026-03-10T11:20:00Z", "10.0.0.0", ua),
    clickRow(X, 3, "2026-03-10T11:30:00Z", "10.0.1.0", ua),
    clickRow(X, 4, "2026-03-10T11:40:00Z", "10.0.2.0", "Slackbot-LinkExpanding 1.0", true),
    clickRow(LONELY, 5, "2026-03-12T11:00:00Z", "10.0.3.0", ua),
  ];
}

export async function seedFixture(world: TestWorld) {
  const ledger = fixtureLedger();
  // Write the ledger twice: a replay must not change any figure (ReplacingMergeTree + FINAL).
  await insertLedgerEntries(world.ch)(ledger);
  await insertLedgerEntries(world.ch)(ledger);
  await writeAggregates(world, ledger);
  await writeClicks(world, fixtureClicks());
  const conv = (
    c: Conv,
    status: "pending" | "approved" | "rejected" | "refunded",
    order: number,
    commission: number,
    at: string,
  ) => ({
    conversion_id: deterministicId("conversion", c.merchant, c.order),
    merchant_id: c.merchant,
    order_id: c.order,
    campaign_id: c.campaign,
    influencer_id: c.influencer,
    link_id: c.influencer * 10,
    click_id: "",
    attribution: "click" as const,
    suspect: 0 as const,
    status,
    order_amount_minor: order,
    order_currency: c.orderCurrency,
    commission_minor: commission,
    commission_currency: c.currency,
    occurred_at: toDateTimeText(ms(at)),
    version: ms(at),
  });
  await insertConversions(world.ch)([
    conv(A, "approved", 10_000, 1000, "2026-03-10T12:00:00Z"),
    conv(B, "rejected", 5000, 500, "2026-03-10T23:30:00Z"),
    conv(C, "refunded", 5000, 584, "2026-03-11T08:00:00Z"),
    conv(D, "pending", 2000, 234, "2026-03-31T23:30:00Z"),
  ]);
}

/** What the attribution worker does with a click batch: the raw and hourly click rows, then the clicks cube. */
export async function writeClicks(world: TestWorld, rows: readonly ClickRow[]) {
  await clickWriter(world.ch)(rows);
}

/** What the attribution worker does after writing ledger rows: approved entries, then the touched aggregates. */
export async function writeAggregates(world: TestWorld, rows: readonly LedgerRow[]) {
  await insertApprovedEntries(world.ch)(rows);
  await rebuildAggregates(world.ch)({
    campaigns: rows.map((r) => r.campaign_id),
    hourStartsSec: rows.map((r) => Math.floor(Date.parse(`${r.event_time.replace(" ", "T")}Z`) / 3_600_000) * 3600),
  });
}
