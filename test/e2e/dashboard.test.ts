import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { insertLedgerEntries, type LedgerRow } from "../../packages/clickhouse/src";
import { createTestWorld, REPO_ROOT, type TestWorld } from "../../packages/testing/src";
import {
  BOOTSTRAP_FINANCE_KEY,
  clickRow,
  entry,
  get,
  move,
  seedFixture,
  startReportsOnly,
  writeAggregates,
  writeClicks,
} from "./reports-helpers";

/** The dashboard in real headless Chromium (Debian's package): it loads, filters change the figures, the CSV matches the API. */
let world: TestWorld;
let base: string;
let browser: BrowserContext;
let page: Page;
let profile: string;
const ARTIFACTS = path.join(REPO_ROOT, "test-artifacts");

/** Two months of daily sales for five influencers on two campaigns, so the charts have a shape. */
async function seedSeries(w: TestWorld) {
  const ledger: LedgerRow[] = [];
  const clicks = [];
  for (let d = 0; d < 60; d++) {
    const day = new Date(Date.UTC(2026, 2, 1) + d * 86_400_000).toISOString().slice(0, 10);
    for (let i = 0; i < 5; i++) {
      const c = {
        merchant: 3,
        campaign: 30 + (i % 2),
        influencer: 200 + i,
        order: `S-${d}-${i}`,
        orderCurrency: "USD",
        currency: "USD",
      };
      const amount = 2000 + ((d * 37 + i * 113) % 50) * 100;
      const commission = Math.round(amount / 10);
      ledger.push(entry(c, "sale", "pending", amount, commission, `${day}T${String(8 + i).padStart(2, "0")}:00:00Z`));
      if ((d + i) % 3 === 0)
        ledger.push(...move(c, "approve", "approved", amount, commission, `${day}T20:00:00Z`, `${day}T20:00:00Z`));
      if ((d + i) % 7 === 0) ledger.push(...move(c, "reject", "rejected", amount, commission, `${day}T21:00:00Z`));
      for (let k = 0; k < 2 + ((d * 3 + i * i) % 7); k++)
        clicks.push(
          clickRow(c, d * 1000 + i * 10 + k, `${day}T0${k % 8}:1${k % 6}:00Z`, `10.${i}.${k}.0`, "Mozilla/5.0"),
        );
    }
  }
  await insertLedgerEntries(w.ch)(ledger);
  await writeAggregates(w, ledger);
  await writeClicks(w, clicks);
}

beforeAll(async () => {
  execFileSync("bash", [path.join(REPO_ROOT, "infra/ensure-chromium.sh")], { stdio: "inherit" });
  world = await createTestWorld(inject("stack"), "dashboard");
  base = await startReportsOnly(world);
  await seedFixture(world);
  await seedSeries(world);
  profile = mkdtempSync(path.join(tmpdir(), "aff-chromium-"));
  // A fresh profile per run (playwright passes it to Chromium as --user-data-dir).
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    acceptDownloads: true,
    viewport: { width: 1280, height: 900 },
  });
  page = browser.pages()[0] ?? (await browser.newPage());
});
afterAll(async () => {
  await browser?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  await world?.close();
});

async function apply(filters: Record<string, string>) {
  for (const [id, value] of Object.entries(filters)) await page.fill(`#${id}`, value);
  await page.click("#apply");
  await page.waitForFunction(() => document.body.dataset.state !== "loading");
  expect(await page.textContent("#error")).toBe("");
  expect(await page.getAttribute("body", "data-state")).toBe("ready");
}

const usdTotal = () => page.textContent('.total-commission[data-currency="USD"]');

/** Sum of total_minor over the API's daily rows for the same filters, formatted like the page. */
async function apiUsdTotal(query: string) {
  const r = await get(base, `/v1/reports/commissions?group_by=day&limit=10000&${query}`);
  const minor = r.body.rows
    .filter((x: { currency: string }) => x.currency === "USD")
    .reduce((s: number, x: { total_minor: number }) => s + x.total_minor, 0);
  return `${(minor / 100).toFixed(2)} USD`;
}

describe("dashboard", () => {
  it("loads with charts, follows the filters and downloads the same CSV as the API", async () => {
    const pageErrors: string[] = [];
    page.on("pageerror", (e) => pageErrors.push(e.message));
    await page.goto(`${base}/dashboard/`);
    expect(await page.title()).toBe("Commission reports");

    await apply({ key: BOOTSTRAP_FINANCE_KEY, from: "2026-03-01", to: "2026-05-01", tz: "UTC" });
    expect(await usdTotal()).toBe(await apiUsdTotal("from=2026-03-01&to=2026-05-01"));
    expect(await page.locator("#timeseries canvas").count()).toBeGreaterThan(0);
    // ranked per currency: USD 100 and 200-204, EUR 101 (102 has clicks only, no commission to rank)
    expect(await page.locator("#top-influencers tr.group").allTextContents()).toEqual(["USD", "EUR"]);
    expect(await page.locator("#top-influencers tr.item").count()).toBe(7);
    expect(await page.locator("#statuses tr").count()).toBe(7);
    // a finance key sees the payout runs panel (none yet), not a merchant's postback log
    expect(await page.locator("#runs-section").isVisible()).toBe(true);
    expect(await page.locator("#log-section").isVisible()).toBe(false);
    const clicks = (
      await get(base, "/v1/reports/commissions?from=2026-03-01&to=2026-05-01&group_by=influencer&limit=100")
    ).body.rows.reduce((s: number, r: { clicks: number }) => s + r.clicks, 0);
    expect(await page.textContent("#total-clicks")).toBe(String(clicks));
    const all = await usdTotal();

    await apply({ influencer_id: "202" });
    const one = await usdTotal();
    expect(one).not.toBe(all);
    expect(one).toBe(await apiUsdTotal("from=2026-03-01&to=2026-05-01&influencer_id=202"));
    expect(await page.locator("#top-influencers tr.item").count()).toBe(1);

    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#download")]);
    const file = await download.path();
    const api = await get(
      base,
      "/v1/reports/commissions?from=2026-03-01&to=2026-05-01&tz=UTC&influencer_id=202&group_by=day&format=csv",
    );
    expect(readFileSync(file, "utf8")).toBe(api.text);
    expect(api.text.split("\n").length).toBeGreaterThan(30);

    await apply({ influencer_id: "" });
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, "dashboard.png"), fullPage: true });
    expect(pageErrors).toEqual([]);
  });
});
