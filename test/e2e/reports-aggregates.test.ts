import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  type ClickRow,
  insertLedgerEntries,
  type LedgerRow,
  rebuildAllAggregates,
} from "../../packages/clickhouse/src";
import { compareReportSources, createTestWorld, EXACTNESS_ZONES, type TestWorld } from "../../packages/testing/src";
import {
  BOOTSTRAP_FINANCE_KEY,
  clickRow,
  entry,
  get,
  move,
  seedFixture,
  startReportsWithOps,
  writeAggregates,
  writeClicks,
} from "./reports-helpers";

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

/**
 * Clicks in bursts around the local midnights of Kolkata (18:30 UTC), Kathmandu (18:15), Eucla (15:15) and Berlin
 * (23:00): one browser clicking the same link before and after midnight is one unique click per UTC hour in the
 * clicks table, so it counts on both local days; bots and repeat visits from a second browser are mixed in.
 */
function manyClicks(): ClickRow[] {
  const rows: ClickRow[] = [];
  // click ids are unique per redirect: keep clear of the fixture's
  const starts = ["18:22", "18:07", "15:07", "22:52", "09:58"];
  for (let n = 0; n < 400; n++) {
    const c = { merchant: 1 + (n % 3), campaign: 10 + (n % 5), influencer: 100 + (n % 17) };
    const day = new Date(Date.UTC(2026, 0, 1) + ((n * 7) % 118) * 86_400_000).toISOString().slice(0, 10);
    const t0 = Date.parse(`${day}T${starts[n % starts.length]}:00Z`);
    const at = (min: number) => new Date(t0 + min * 60_000).toISOString();
    const ip = `10.0.${n % 4}.0`;
    rows.push(clickRow(c, 10_000 + n * 10, at(0), ip, "Mozilla/5.0 Firefox/120"));
    rows.push(clickRow(c, 10_000 + n * 10 + 1, at(8 + (n % 9)), ip, "Mozilla/5.0 Firefox/120"));
    if (n % 2 === 0) rows.push(clickRow(c, 10_000 + n * 10 + 2, at(16 + (n % 5)), ip, "Mozilla/5.0 Safari/17"));
    if (n % 3 === 0) rows.push(clickRow(c, 10_000 + n * 10 + 3, at(4), ip, "Slackbot-LinkExpanding 1.0", true));
    if (n % 5 === 0) rows.push(clickRow(c, 10_000 + n * 10 + 4, at(70), ip, "Mozilla/5.0 Firefox/120"));
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
  await writeClicks(world, manyClicks());
  await writeClicks(world, manyClicks().slice(0, 300)); // a replayed click batch
  await rebuildAll();
});
afterAll(() => world?.close());

/** The code path of `npm run aggregates:rebuild`. */
async function rebuildAll() {
  expect(await rebuildAllAggregates(world.ch)).toBeGreaterThanOrEqual(4);
}

/** Sum of a click figure over groups (a group's clicks repeat on each of its currency rows: count them once). */
function sumOf(rows: Record<string, unknown>[], field: string): number {
  const perGroup = new Map(rows.map((r) => [Object.values(r)[0], r[field]]));
  return [...perGroup.values()].reduce<number>((a, v) => a + (typeof v === "number" ? v : 0), 0);
}

async function both(query: string) {
  const agg = await get(base, `/v1/reports/commissions?${query}&limit=10000`);
  const ledger = await get(base, `/v1/reports/commissions?${query}&limit=10000&source=ledger`);
  expect(agg.status, agg.text).toBe(200);
  expect(ledger.status, ledger.text).toBe(200);
  return { agg, ledger };
}

describe("reports from the aggregates", () => {
  it("equal the ledger for every grouping, status split and payouts in six zones (the shared exactness check)", async () => {
    const period = { base, key: BOOTSTRAP_FINANCE_KEY, from: "2026-01-01", to: "2026-05-01", payouts: true };
    const r = await compareReportSources({ ...period, asOf: "2026-03-15T10:20:30Z" });
    expect({ mismatches: r.mismatches, notAggregate: r.notAggregate, failures: r.failures }).toEqual({
      mismatches: [],
      notAggregate: [],
      failures: [],
    });
    expect(r.exact).toBe(true);
    expect(r.compared).toBe(EXACTNESS_ZONES.length * 9 + 2);
    // the check compares figures, not empty answers: every grouping has rows, with clicks and payable money
    for (const [path, text] of r.bodies) {
      if (path.includes("format=csv")) {
        expect(text.split("\n").length, path).toBeGreaterThan(2);
        continue;
      }
      const rows = (JSON.parse(text) as { rows: Record<string, unknown>[] }).rows;
      expect(rows.length, path).toBeGreaterThan(0);
      if (!path.includes("status=") && path.includes("commissions"))
        expect(sumOf(rows, "unique_clicks"), path).toBeGreaterThan(0);
    }
    // a second read answers byte for byte the same (what the chaos test relies on across a replay)
    const again = await compareReportSources({ ...period, asOf: "2026-03-15T10:20:30Z", zones: ["Asia/Kathmandu"] });
    for (const [path, text] of again.bodies) expect(text, path).toBe(r.bodies.get(path));
  });

  it("tell a difference between the two paths (the check can fail)", async () => {
    // a ledger row written without its aggregates: the ledger path sees it, the aggregates do not
    const [sale] = manyEntries();
    if (!sale) throw new Error("no entries");
    await insertLedgerEntries(world.ch)([{ ...sale, entry_id: "0".repeat(32), commission_minor: 1 }]);
    const r = await compareReportSources({
      base,
      key: BOOTSTRAP_FINANCE_KEY,
      from: "2026-01-01",
      to: "2026-05-01",
      asOf: "2026-03-15T10:20:30Z",
      zones: ["Asia/Kolkata"],
      groupings: ["merchant"],
    });
    expect(r.exact).toBe(false);
    expect(r.mismatches.length).toBeGreaterThan(0);
    await writeAggregates(world, [sale]);
    const fixed = await compareReportSources({
      base,
      key: BOOTSTRAP_FINANCE_KEY,
      from: "2026-01-01",
      to: "2026-05-01",
      asOf: "2026-03-15T10:20:30Z",
      zones: ["Asia/Kolkata"],
      groupings: ["merchant"],
    });
    expect(fixed.mismatches).toEqual([]);
  });

  it("count a browser's clicks on both sides of a half-hour midnight once per local day, as the clicks table does", async () => {
    for (const tz of ["Asia/Kolkata", "Asia/Kathmandu", "Australia/Eucla"]) {
      const { agg, ledger } = await both(`from=2026-01-01&to=2026-05-01&tz=${tz}&group_by=day`);
      expect(agg.headers.get("x-report-source")).toBe("aggregate");
      expect(agg.body.rows).toEqual(ledger.body.rows);
      // the bursts straddle these zones' midnights, so per-day unique clicks add up to more than per-hour ones
      const byCampaign = await both(`from=2026-01-01&to=2026-05-01&tz=${tz}&group_by=campaign`);
      expect(byCampaign.agg.body.rows).toEqual(byCampaign.ledger.body.rows);
      expect(sumOf(agg.body.rows, "unique_clicks")).toBeGreaterThan(sumOf(byCampaign.agg.body.rows, "unique_clicks"));
    }
  });

  it("equal the ledger with filters, status sets and as_of instants inside a payable day", async () => {
    for (const q of [
      "from=2026-02-03&to=2026-03-17&tz=Asia/Kolkata&group_by=day&influencer_id=103&as_of=2026-03-20T05:00:00Z",
      "from=2026-01-10&to=2026-04-02&tz=Australia/Eucla&group_by=week&campaign_id=12&status=payable",
      "from=2026-01-10&to=2026-04-02&tz=Asia/Kathmandu&group_by=merchant&status=approved,pending&currency=EUR",
      "from=2026-01-01T06:45:00Z&to=2026-02-01T17:15:00Z&group_by=influencer&merchant_id=2&as_of=2026-02-10T12:00:00Z",
      // early as_of: groups whose approved money is all still held have no payable row at all
      "from=2026-01-01&to=2026-05-01&group_by=influencer&status=payable&as_of=2026-02-05T00:00:00Z",
      "from=2026-01-01&to=2026-05-01&tz=Asia/Kolkata&group_by=day&status=approved&as_of=2025-12-01T00:00:00Z",
    ]) {
      const { agg, ledger } = await both(q);
      expect(agg.headers.get("x-report-source"), q).toBe("aggregate");
      expect(agg.body.rows, q).toEqual(ledger.body.rows);
    }
  });

  it("answer payouts over the whole ledger equal to the ledger, at any as_of instant", async () => {
    // minutes after an approval, so the last quarter hour holds an entry the cube does not cover
    const approval = manyEntries().filter((r) => r.entry_type === "approve" && r.status === "approved")[7];
    const justAfter = new Date(Date.parse(`${approval?.event_time.replace(" ", "T")}Z`) + 120_000).toISOString();
    expect(Date.parse(justAfter) % 900_000).not.toBe(0);
    for (const q of [
      `as_of=${justAfter}`,
      "as_of=2026-02-10T12:07:33Z",
      "as_of=2026-03-15T10:20:30Z&campaign_id=12",
      "as_of=2026-04-02T23:59:59Z&currency=EUR",
      "as_of=2026-06-01T00:00:00Z&merchant_id=2",
      "",
    ]) {
      const agg = await get(base, `/v1/reports/payouts?${q}`);
      const ledger = await get(base, `/v1/reports/payouts?${q}&source=ledger`);
      expect(agg.status, agg.text).toBe(200);
      expect(agg.headers.get("x-report-source"), q).toBe("aggregate");
      expect(ledger.headers.get("x-report-source"), q).toBe("ledger");
      expect(agg.body.rows.length, q).toBeGreaterThan(0);
      expect(agg.body.rows, q).toEqual(ledger.body.rows);
    }
  });

  it("equal the ledger for periods that do not start or end on a quarter hour (the minutes outside come from the ledger)", async () => {
    for (const q of [
      "from=2026-01-01T06:47:13Z&to=2026-03-01T17:09:00Z&group_by=influencer",
      "from=2026-01-10T18:07:00Z&to=2026-02-11T18:41:30Z&tz=Asia/Kolkata&group_by=day",
      "from=2026-01-10T15:01:00Z&to=2026-03-11T15:29:00Z&tz=Australia/Eucla&group_by=week&status=pending,payable",
      "from=2026-01-15T17:50:00Z&to=2026-01-15T19:10:00Z&tz=Asia/Kolkata&group_by=day",
      "from=2026-01-15T18:20:00Z&to=2026-01-15T18:28:00Z&tz=Asia/Kolkata&group_by=campaign",
    ]) {
      const { agg, ledger } = await both(q);
      expect(agg.headers.get("x-report-source"), q).toBe("aggregate");
      expect(agg.body.rows, q).toEqual(ledger.body.rows);
    }
  });

  it("fall back to the ledger where a zone's midnight is not on a quarter hour, and say so", async () => {
    // Monrovia kept -0:44:30 until 1972
    const r = await get(base, "/v1/reports/commissions?from=1971-01-01&to=1971-02-01&tz=Africa/Monrovia&group_by=day");
    expect(r.status, r.text).toBe(200);
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
