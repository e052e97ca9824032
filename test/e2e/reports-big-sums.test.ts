import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { insertLedgerEntries } from "../../packages/clickhouse/src";
import { createTestWorld, type TestWorld } from "../../packages/testing/src";
import { entry, get, startReportsOnly, writeAggregates } from "./reports-helpers";

// Issue 8, finding 2: two sales of 2^53 - 1 minor units (booked before intake bounded amounts, or through any path
// that bypasses them) pushed a revenue sum past 2^53, and every report of that month answered 503 forever. Sums are
// read as exact integers now: the report answers 200 with every digit, from the aggregates and from the ledger.
let world: TestWorld;
let base: string;
const HUGE = 9_007_199_254_740_991;
const conv = (order: string) => ({
  merchant: 5,
  campaign: 50,
  influencer: 500,
  order,
  orderCurrency: "USD",
  currency: "USD",
});

beforeAll(async () => {
  world = await createTestWorld(inject("stack"), "reports_big_sums");
  base = await startReportsOnly(world);
  const rows = [
    entry(conv("BIG-1"), "sale", "pending", HUGE, HUGE, "2026-03-10T12:00:00Z"),
    entry(conv("BIG-2"), "sale", "pending", HUGE, HUGE, "2026-03-11T12:00:00Z"),
  ];
  await insertLedgerEntries(world.ch)(rows);
  await writeAggregates(world, rows);
});
afterAll(() => world?.close());

describe("sums past 2^53", () => {
  it.each(["influencer", "campaign", "merchant", "day", "month"])(
    "by %s: 200 with the exact sum from both sources",
    async (groupBy) => {
      for (const source of ["auto", "ledger"]) {
        const r = await get(
          base,
          `/v1/reports/commissions?from=2026-03-01&to=2026-04-01&group_by=${groupBy}&source=${source}`,
        );
        expect(r.status, r.text.slice(0, 300)).toBe(200);
        // the raw JSON text keeps every digit (JSON.parse would round it)
        if (groupBy !== "day") {
          expect(r.text).toContain(`"revenue_minor":18014398509481982`);
          expect(r.text).toContain(`"pending_minor":18014398509481982`);
        }
        const csv = await get(
          base,
          `/v1/reports/commissions?from=2026-03-01&to=2026-04-01&group_by=${groupBy}&source=${source}&format=csv`,
        );
        expect(csv.status).toBe(200);
        if (groupBy !== "day") expect(csv.text).toContain("180143985094819.82");
      }
    },
  );
});
