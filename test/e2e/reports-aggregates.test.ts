import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { insertLedgerEntries, type LedgerRow, rebuildAllAggregates } from "../../packages/clickhouse/src";
import { createTestWorld, type TestWorld } from "../../packages/testing/src";
import { entry, get, move, seedFixture, startReportsWithOps, writeAggregates } from "./reports-helpers";

/**
 * Reports read from the pre-aggregates equal the same reports read from the ledger with FINAL, to the cent, in zones
 * with whole-hour, half-hour and 45-minute offsets, at any as_of, and after the ledger is written again and rebuilt.
 */
let world: TestWorld;
let base: string;
let ops: string;

/** Many conversions over four months, at minutes that fall on every side of local midnights. */
function manyEntries(): LedgerRow[] {
  const rows: LedgerRow[] = [];
  const start = Date.UTC(2026, 0, 1);
  for (let n = 0; n < 600; n++) {
    const c = {
      merchant: 1 + (n % 3),
      campaign: 10 + (n % 5),
      influencer: 100 + (n % 17),
      order: `O${n}`,
      orderCurrency: n % 4 === 0 ? "GBP" : "EUR",
      currency: n % 5 === 4 ? "USD" : "EUR",
    };
    const at = start + ((n * 7_919_993) % (120 * 86_400_000));
    const iso = (ms: number) => new Date(ms).toISOString();
    const order = 1000 + ((n * 37) % 90_000);
    const commission = 100 + ((n * 13) % 9000);
    rows.push(entry(c, "sale", "pending", order, commission, iso(at)));
    const later = at + ((n * 3_600_013) % (20 * 86_400_000));
    if (n % 3 === 0)
      rows.push(...move(c, "approve", "approved", order, commission, iso(later), iso(later + 30 * 86_400_000)));
    if (n % 3 === 1) rows.push(...move(c, "reject", "rejected", order, commission, iso(later)));
  }
  return rows;
}

beforeAll(async () => {
  world = await createTestWorld(inject("stack"), "reports_aggregates");
  ({ base, ops } = await startReportsWithOps(world));
  await seedFixture(world);
  const rows = manyEntries();
  await insertLedgerEntries(world.ch)(rows);
  await writeAggregates(world, rows);
  await rebuildAll();
});
afterAll(() => world?.close());

/** The code path of `npm run aggregates:rebuild`. */
async function rebuildAll() {
  expect(await rebuildAllAggregates(world.ch)).toBeGreaterThanOrEqual(4);
}

const ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu", "Australia/Eucla"];
const GROUPS = ["influencer", "campaign", "merchant", "day", "week", "month"];

async function both(query: string) {
  const agg = await get(base, `/v1/reports/commissions?${query}&limit=10000`);
  const ledger = await get(base, `/v1/reports/commissions?${query}&limit=10000&source=ledger`);
  expect(agg.status, agg.text).toBe(200);
  expect(ledger.status, ledger.text).toBe(200);
  return { agg, ledger };
}

describe("reports from the aggregates", () => {
  it("equal the ledger for every grouping in six zones", async () => {
    for (const tz of ZONES)
      for (const g of GROUPS) {
        const { agg, ledger } = await both(
          `from=2026-01-01&to=2026-05-01&tz=${tz}&group_by=${g}&as_of=2026-03-15T10:20:30Z`,
        );
        expect(agg.headers.get("x-report-source"), `${tz} ${g}`).toBe("aggregate");
        expect(ledger.headers.get("x-report-source")).toBe("ledger");
        expect(agg.body.rows.length, `${tz} ${g}`).toBeGreaterThan(0);
        expect(agg.body.rows, `${tz} ${g}`).toEqual(ledger.body.rows);
      }
  });

  it("equal the ledger with filters, status sets and as_of instants inside a payable day", async () => {
    for (const q of [
      "from=2026-02-03&to=2026-03-17&tz=Asia/Kolkata&group_by=day&influencer_id=103&as_of=2026-03-20T05:00:00Z",
      "from=2026-01-10&to=2026-04-02&tz=Australia/Eucla&group_by=week&campaign_id=12&status=payable",
      "from=2026-01-10&to=2026-04-02&tz=Asia/Kathmandu&group_by=merchant&status=approved,pending&currency=EUR",
      "from=2026-01-01T06:45:00Z&to=2026-02-01T17:15:00Z&group_by=influencer&merchant_id=2&as_of=2026-02-10T12:00:00Z",
    ]) {
      const { agg, ledger } = await both(q);
      expect(agg.headers.get("x-report-source"), q).toBe("aggregate");
      expect(agg.body.rows, q).toEqual(ledger.body.rows);
    }
  });

  it("fall back to the ledger for a period that does not start on a quarter hour, and say so", async () => {
    const r = await get(base, "/v1/reports/commissions?from=2026-01-01T00:07:00Z&to=2026-02-01&group_by=campaign");
    expect(r.status).toBe(200);
    expect(r.headers.get("x-report-source")).toBe("ledger");
    const metrics = await (await fetch(`${ops}/metrics`)).text();
    expect(metrics).toMatch(/report_source_total\{[^}]*report="commissions"[^}]*source="ledger"[^}]*\} [1-9]/);
  });

  it("keep every figure after the ledger is written again and the aggregates rebuilt", async () => {
    const q = "from=2026-01-01&to=2026-05-01&tz=Asia/Kolkata&group_by=day&as_of=2026-03-15T10:20:30Z";
    const before = (await both(q)).agg.body.rows;
    await insertLedgerEntries(world.ch)(manyEntries());
    await rebuildAll();
    const { agg, ledger } = await both(q);
    expect(agg.body.rows).toEqual(before);
    expect(agg.body.rows).toEqual(ledger.body.rows);
  });
});
