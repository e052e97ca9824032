/**
 * Chaos: 20,000 sales plus approvals, rejections and refunds through the postback API while the attribution worker
 * is SIGKILLed at random (>= 5 times), the broker is restarted once and ClickHouse is stopped for 10 s; meanwhile three
 * payout runs are created (one twice with its key) and marked paid (one as a whole, one line by line, one twice).
 * Afterwards every figure must equal the ground truth computed here, to the cent, the paid bucket included (its truth
 * is what the API returned for the runs' lines). Then every report read from the pre-aggregates must equal the same
 * report read from the ledger with FINAL in six zones, and again, byte for byte unchanged, after the attribution worker
 * replayed the whole postbacks topic (chaos-exactness.ts). Run with `npm run test:chaos` (own vitest config).
 */
import { type ChildProcess, execFile } from "node:child_process";
import { mkdirSync, openSync, writeFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { z } from "zod";
import { FxRates } from "../../packages/catalog/src";
import { Int64Text, raw } from "../../packages/clickhouse/src";
import { conversionId } from "../../packages/common/src";
import {
  apiWriter,
  createCampaignFixture,
  createTestWorld,
  eventually,
  REPO_ROOT,
  spawnService,
  type TestWorld,
} from "../../packages/testing/src";
import { startPostback } from "../../services/postback/src/app";
import { loadConfig as postbackConfig } from "../../services/postback/src/config";
import { checkReportsAcrossReplay, exactnessProblems } from "./chaos-exactness";
import {
  addExpected,
  EUR_USD,
  type Expected,
  expectedFor,
  type OrderPlan,
  postbacksFor,
  tallyBooks,
} from "./chaos-orders";
import { paidTruth, payoutClient, type Run } from "./chaos-payouts";
import { ADMIN_KEY, allowTokenStatusChanges, api, click, FINANCE_KEY, startServices, type Urls } from "./helpers";

const SALES = Number(process.env.CHAOS_SALES ?? 20_000);
const CONCURRENCY = Number(process.env.CHAOS_CONCURRENCY ?? 48);
const POSTBACK_INSTANCES = Number(process.env.CHAOS_POSTBACK_INSTANCES ?? 4);
const MIN_KILLS = 5;
/** orders are spread over this many influencers, so a payout run has one line each */
const INFLUENCERS = 3;

let world: TestWorld;
let urls: Urls;
/** several postback instances, as in production behind a load balancer: each has its own producer in flight */
let postbackUrls: string[] = [];
let stopping = false;
let current: ChildProcess | undefined;
const run = promisify(execFile);
const stackCtl = (action: "stop" | "start", service: "kafka" | "clickhouse") =>
  run("bash", [path.join(REPO_ROOT, "infra", "stack.sh"), action, service]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  world = await createTestWorld(inject("stack"), "chaos");
  urls = await startServices(world, { attribution: false });
  const extra = await Promise.all(
    Array.from({ length: POSTBACK_INSTANCES - 1 }, () =>
      startPostback(postbackConfig(world.env), { log: world.log, lifecycle: world.lifecycle, catalog: world.catalog }),
    ),
  );
  postbackUrls = [urls.postbackUrl, ...extra.map((p) => `http://127.0.0.1:${p.server.port}`)];
});
afterAll(async () => {
  stopping = true;
  current?.kill("SIGKILL");
  await world?.close();
});

/** Keeps one worker process alive, like a process manager would: respawned whenever it exits. */
function superviseWorker() {
  const logDir = path.join(REPO_ROOT, ".stack", "logs");
  mkdirSync(logDir, { recursive: true });
  const out = openSync(path.join(logDir, "chaos-worker.log"), "a");
  let stopped = false;
  const spawnOne = () => {
    if (stopping || stopped) return;
    const { child } = spawnService("attribution", {
      env: { ...world.env, LOG_LEVEL: "warn", KAFKA_SESSION_TIMEOUT_MS: "6000", STALL_MS: "120000" },
      output: out,
    });
    current = child;
    child.once("exit", () => {
      if (!stopping && !stopped && current === child) setTimeout(spawnOne, 200);
    });
  };
  spawnOne();
  let kills = 0;
  return {
    kill() {
      if (!current || current.exitCode !== null) return false;
      current.kill("SIGKILL");
      kills++;
      return true;
    },
    get kills() {
      return kills;
    },
    /** SIGTERM and no respawn; resolves once the process exited (a clean exit leaves the consumer groups at once) */
    async stop() {
      stopped = true;
      const child = current;
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

type Plan = OrderPlan & { influencer: number; clickId: string };
async function sendUntilAccepted(url: string, body: Record<string, string | number>): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await fetch(`${url}/postback`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      await res.arrayBuffer();
      if (res.status === 202) return;
      if (res.status < 500) throw new Error(`postback refused with ${res.status}`);
    } catch (err) {
      if (err instanceof Error && err.message.startsWith("postback refused")) throw err;
    }
    await sleep(Math.min(2_000, 100 * 2 ** attempt));
  }
}

async function pool<T>(
  items: T[],
  concurrency: number,
  fn: (item: T, i: number) => Promise<void>,
  onProgress: (done: number) => void,
) {
  let next = 0;
  let done = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < items.length; i = next++) {
        await fn(items[i] as T, i);
        onProgress(++done);
      }
    }),
  );
}

const Totals = z.object({
  pending: Int64Text,
  approved: Int64Text,
  paid: Int64Text,
  rejected: Int64Text,
  reversed: Int64Text,
  n: Int64Text,
});
const PerConversion = Totals.extend({ conversion_id: z.string() });
const byStatus = (table: string, extra = "") =>
  raw(`SELECT ${extra} sumIf(commission_minor, status = 'pending') AS pending, sumIf(commission_minor, status = 'approved') AS approved,
    sumIf(commission_minor, status = 'paid') AS paid, sumIf(commission_minor, status = 'rejected') AS rejected, sumIf(commission_minor, status = 'reversed') AS reversed,
    ${table === "commission_hourly_v1" ? "sum(entries)" : "count()"} AS n FROM ${table} FINAL ${extra ? "GROUP BY conversion_id" : ""}`);

describe("chaos: kills, a broker restart and a ClickHouse outage", () => {
  it("books every sale and change exactly once", async () => {
    // no holding period: approved money is payable at once, so the payout runs below pay it while the worker is killed
    const seeded = await createCampaignFixture(apiWriter(urls.redirectUrl, ADMIN_KEY), {
      campaign: { commission: { type: "bps", bps: 1000 }, holding_days: 0 },
      link: { destination: "https://shop.example.com/p/42" },
    });
    await new FxRates(world.catalog.redis, world.catalog.prefix).load([
      { from: "EUR", to: "USD", rate: EUR_USD.text, effective_from_ms: 0 },
    ]);
    const influencers = [seeded.influencer.id];
    const clickIds = [(await click(urls, seeded.link.code)).clickId];
    for (let k = 1; k < INFLUENCERS; k++) {
      const id = (await api<{ id: number }>(urls.redirectUrl, "/api/influencers", { name: `Chaos ${k}` })).json.id;
      const link = await api<{ code: string }>(urls.redirectUrl, "/api/links", {
        campaign_id: seeded.campaign.id,
        influencer_id: id,
      });
      influencers.push(id);
      clickIds.push((await click(urls, link.json.code)).clickId);
    }
    // every sale is dated after its click: a sale dated before its click is held for review, not booked pending
    const t0 = Date.now() + 1_000;
    const merchant = seeded.merchant;
    await allowTokenStatusChanges(urls, merchant.id);
    const plans: Plan[] = Array.from({ length: SALES }, (_, i) => ({
      orderId: `CHAOS-${i}`,
      amount: 100 + ((i * 7919) % 99_901),
      currency: i % 5 === 0 ? "EUR" : "USD",
      influencer: influencers[i % INFLUENCERS] ?? seeded.influencer.id,
      clickId: clickIds[i % INFLUENCERS] ?? "",
      // half the orders stay pending; the others get an approval, a rejection or refunds (10,000 changes for 20,000 sales)
      kind: i % 12 < 6 ? i % 12 : 3,
    }));

    const worker = superviseWorker();
    let sent = 0;
    const chaos = (async () => {
      while (sent < SALES * 0.25) await sleep(200);
      await stackCtl("stop", "kafka");
      await sleep(3_000);
      await stackCtl("start", "kafka");
      while (sent < SALES * 0.6) await sleep(200);
      await stackCtl("stop", "clickhouse");
      await sleep(10_000);
      await stackCtl("start", "clickhouse");
    })();
    let sendingDone = false;
    // kills at random instants, spaced so that each new worker gets its partitions back and writes something first
    const killer = (async () => {
      while (!stopping && (worker.kills < MIN_KILLS || (!sendingDone && worker.kills < MIN_KILLS + 2))) {
        await sleep(10_000 + Math.random() * 12_000);
        worker.kill();
      }
    })();

    // payout runs while the worker is killed: A after the broker restart (created twice with one key, paid as a
    // whole), B as ClickHouse stops (paid line by line), C near the end (marked paid twice)
    const payouts = payoutClient(urls.reportsUrl, `chaos-${merchant.id}`);
    const runs: Run[] = [];
    let sameRunBack = false;
    const paying = (async () => {
      while (sent < SALES * 0.35) await sleep(200);
      const asOfA = new Date().toISOString();
      const a = (await payouts.create("A", asOfA)).run;
      const again = await payouts.create("A", asOfA);
      sameRunBack = again.status === 200 && JSON.stringify(again.run) === JSON.stringify(a);
      runs.push(await payouts.markPaid(a, { reference: "CHAOS-A" }));
      while (sent < SALES * 0.6) await sleep(200);
      let b = (await payouts.create("B", new Date().toISOString())).run;
      for (const line of b.lines)
        b = await payouts.markPaid(b, { line_ids: [line.line_id], reference: `CHAOS-B-${line.influencer_id}` });
      runs.push(b);
      while (sent < SALES * 0.85) await sleep(200);
      const c = (await payouts.create("C", new Date().toISOString())).run;
      await payouts.markPaid(c, { reference: "CHAOS-C" });
      runs.push(await payouts.markPaid(c, { reference: "CHAOS-C-again" }));
    })();

    const started = Date.now();
    await pool(
      plans,
      CONCURRENCY,
      async (p, i) => {
        for (const body of postbacksFor(p, t0, p.clickId))
          await sendUntilAccepted(postbackUrls[i % postbackUrls.length] ?? urls.postbackUrl, {
            ...body,
            merchant_id: merchant.id,
            token: merchant.postback_token,
          });
      },
      (done) => {
        sent = done;
      },
    );
    sendingDone = true;
    await Promise.all([chaos, killer, paying]);
    const sendMs = Date.now() - started;

    const expected = new Map(plans.map((p) => [conversionId(merchant.id, p.orderId), expectedFor(p)]));
    // per influencer before payouts: what the report's held + payable + paid must still add up to
    const earned = new Map<number, Expected>();
    for (const p of plans) earned.set(p.influencer, addExpected(earned.get(p.influencer), expectedFor(p)));
    // each payout event of a paid line moves its amount from approved to paid (two ledger entries)
    const paid = paidTruth(runs);
    let paidUnknown = 0;
    for (const [id, p] of paid.byConversion) {
      const e = expected.get(id);
      if (!e) paidUnknown++;
      else expected.set(id, { ...e, approved: e.approved - p.paid, paid: p.paid, entries: e.entries + 2 * p.events });
    }
    const { entries: n, ...truthMoney } = [...expected.values()].reduce((t, e) => addExpected(t, e));
    const truth = { ...truthMoney, n };
    const ledgerTotals = await eventually(
      async () => (await world.ch.query("chaos_ledger_totals", byStatus("commission_ledger_v1"), Totals))[0],
      (t) => t?.n === truth.n,
      600_000,
      2_000,
    );
    const hourly = await eventually(
      async () => (await world.ch.query("chaos_hourly_totals", byStatus("commission_hourly_v1"), Totals))[0],
      (t) => t?.n === truth.n,
      120_000,
      1_000,
    );
    const truthNow = async () => {
      const t = (await world.ch.query("chaos_ledger_totals", byStatus("commission_ledger_v1"), Totals))[0];
      return t !== undefined && Object.entries(truth).every(([k, v]) => t[k as keyof typeof t] === v);
    };
    const exactness = await checkReportsAcrossReplay({
      env: world.env,
      log: world.log,
      reportsUrl: urls.reportsUrl,
      startMs: t0,
      stopWorker: () => worker.stop(),
      startWorker: () => superviseWorker(),
      ledgerIsTruth: truthNow,
    });
    stopping = true;

    const perConversion = await world.ch.query(
      "chaos_per_conversion",
      byStatus("commission_ledger_v1", "conversion_id,"),
      PerConversion,
    );
    const { lost, duplicated, wrong } = tallyBooks(perConversion, expected);

    const res = await fetch(
      `${urls.reportsUrl}/v1/reports/commissions?from=${new Date(t0 - 86_400_000).toISOString().slice(0, 10)}&to=${new Date(Date.now() + 2 * 86_400_000).toISOString().slice(0, 10)}`,
      {
        headers: { authorization: `Bearer ${FINANCE_KEY}` },
      },
    );
    type ReportRow = Record<
      "pending_minor" | "approved_minor" | "payable_minor" | "paid_minor" | "rejected_minor" | "reversed_minor",
      number
    > & { influencer_id: number; currency: string };
    const report = (await res.json()) as { rows: ReportRow[] };
    // the report splits approved money into held (approved_minor) and payable; the ledger's approved is both
    const reportTotals = report.rows.reduce(
      (t, r) => ({
        pending: t.pending + r.pending_minor,
        approved: t.approved + r.approved_minor + r.payable_minor,
        paid: t.paid + r.paid_minor,
        rejected: t.rejected + r.rejected_minor,
        reversed: t.reversed + r.reversed_minor,
      }),
      { pending: 0, approved: 0, paid: 0, rejected: 0, reversed: 0 },
    );
    // per influencer and currency: paid equals the runs' paid lines, and held + payable + paid what was earned
    const paidByInfluencer = report.rows.map((r) => ({
      influencer_id: r.influencer_id,
      currency: r.currency,
      paid: r.paid_minor,
      approved_and_paid: r.approved_minor + r.payable_minor + r.paid_minor,
    }));
    const paidTruthRows = influencers.map((id) => ({
      influencer_id: id,
      currency: "USD",
      paid: paid.byInfluencer.get(id) ?? 0,
      approved_and_paid: earned.get(id)?.approved ?? 0,
    }));
    const byId = (a: { influencer_id: number }, b: { influencer_id: number }) => a.influencer_id - b.influencer_id;
    const paidChecks = {
      report: JSON.stringify(paidByInfluencer.sort(byId)) === JSON.stringify(paidTruthRows.sort(byId)),
      ledger: ledgerTotals?.paid === truth.paid && hourly?.paid === truth.paid,
      same_run_back: sameRunBack,
      runs: runs.map((r) => `${r.status}:${r.line_count}`).join(","),
      // a run finds nothing when the runs before it paid everything payable then: empty runs are fine, each run
      // with lines ends paid, and the runs paid something
      every_run_pays:
        runs.length === 3 &&
        runs.some((r) => r.line_count > 0) &&
        runs.every((r) => r.line_count === 0 || r.status === "paid"),
      entries_covered_once: paid.doubleCovered === 0,
      lines_add_up: paid.inconsistentLines === 0 && paid.unpaidLines === 0 && paidUnknown === 0,
    };
    const paidMatch = Object.values(paidChecks).every(Boolean);
    const { n: _n, ...money } = truth;
    const sameMoney = (a: object | undefined, b: object) =>
      a !== undefined && Object.entries(b).every(([k, v]) => (a as Record<string, unknown>)[k] === v);
    const totalsMatch =
      sameMoney(ledgerTotals, money) && sameMoney(hourly, money) && sameMoney(reportTotals, money) && wrong === 0;
    const summary = {
      sales: SALES,
      postbacks: plans.reduce((s, p) => s + postbacksFor(p, t0, p.clickId).length, 0),
      kills: worker.kills,
      send_s: Math.round(sendMs / 1000),
      lost,
      duplicated,
      wrong_conversions: wrong,
      totals_match: totalsMatch,
      payout_runs: runs.length,
      paid_minor: truth.paid,
      paid_checks: paidChecks,
      paid_match: paidMatch,
      aggregates_match: exactness.aggregatesMatch,
      replay_match: exactness.replayMatch,
      reports_compared: exactness.before.compared + exactness.after.compared,
      replayed_messages: exactness.replayed,
      replay_s: Math.round(exactness.replayMs / 1000),
    };
    const result = {
      sales: SALES,
      kills: worker.kills,
      lost,
      duplicated,
      totals_match: totalsMatch,
      payout_runs: runs.length,
      paid_match: paidMatch,
      aggregates_match: exactness.aggregatesMatch,
      replay_match: exactness.replayMatch,
    };
    writeFileSync(path.join(REPO_ROOT, ".stack", "chaos-result.json"), `${JSON.stringify(result)}\n`);
    console.log(JSON.stringify(summary));

    expect({ ledgerTotals, hourly, reportTotals }).toEqual({ ledgerTotals: truth, hourly: truth, reportTotals: money });
    expect({ lost, duplicated, wrong }).toEqual({ lost: 0, duplicated: 0, wrong: 0 });
    expect(paidByInfluencer).toEqual(paidTruthRows);
    expect(paidChecks).toEqual({
      report: true,
      ledger: true,
      same_run_back: true,
      runs: expect.any(String),
      every_run_pays: true,
      entries_covered_once: true,
      lines_add_up: true,
    });
    expect(worker.kills).toBeGreaterThanOrEqual(MIN_KILLS);
    // aggregates == ledger (FINAL) for every report, in six zones, before and after the whole topic was replayed
    const clean = { mismatches: [], notAggregate: [], failures: [] };
    expect(exactnessProblems(exactness.before)).toEqual(clean);
    expect(exactnessProblems(exactness.after)).toEqual(clean);
    expect({ changed: exactness.changed, ledger: exactness.ledgerAfterReplay }).toEqual({ changed: [], ledger: true });
    expect(exactness.replayed).toBeGreaterThan(0);
  });
});
