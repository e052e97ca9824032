/**
 * Chaos on the cluster profile (`npm run test:chaos:cluster`, docs/adr/0008): sales with approvals, rejections and
 * refunds through HAProxy's postback port and clicks through its redirect port, paced over CLUSTER_CHAOS_SECONDS,
 * while, one after another: the Kafka broker leading most partitions is SIGKILLed and restarted, one attribution
 * worker is SIGKILLed and comes back later (the other holds all partitions meanwhile), a ClickHouse replica is stopped
 * for 30 s, the Redis primary is SIGKILLed (Sentinel promotes the replica), and a redirect instance is SIGKILLed.
 * Afterwards every figure must equal the ground truth computed here, and every served redirect must be one click row.
 * Scale: CLUSTER_CHAOS_SALES (default 20,000), CLUSTER_CHAOS_CLICKS (default 200,000), paced over CLUSTER_CHAOS_SECONDS
 * (default one second per 250 clicks: 800 s), issue 11's scale; CI runs it (docs/adr/0008, runs).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, openSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { z } from "zod";
import { FxRates } from "../../packages/catalog/src";
import {
  clusterServers,
  EVERY_REPLICA_SETTINGS,
  everyReplica,
  Int64Text,
  raw,
  sql,
} from "../../packages/clickhouse/src";
import { conversionId } from "../../packages/common/src";
import {
  controlClusterInstance,
  createTestWorld,
  eventually,
  killServiceProcesses,
  REPO_ROOT,
  type ServiceName,
  type ServiceProcess,
  spawnService,
  type TestWorld,
} from "../../packages/testing/src";
import { EUR_USD, expectedFor, type OrderPlan, postbacksFor, tallyBooks } from "../e2e/chaos-orders";
import { ADMIN_KEY, allowTokenStatusChanges, FINANCE_KEY, seedCampaign, type Urls } from "../e2e/helpers";
import { leadingBroker, pidOf } from "./brokers";

const SALES = Number(process.env.CLUSTER_CHAOS_SALES ?? 20_000);
const CLICKS = Number(process.env.CLUSTER_CHAOS_CLICKS ?? 200_000);
/** the load is spread over this long, so that every fault happens while sales and clicks flow */
const SECONDS = Number(process.env.CLUSTER_CHAOS_SECONDS ?? Math.max(150, Math.round(CLICKS / 250)));
const CONCURRENCY = Number(process.env.CLUSTER_CHAOS_CONCURRENCY ?? 24);
const REPLICA_OUTAGE_MS = 30_000;
/** the ClickHouse server stopped for REPLICA_OUTAGE_MS: by default the replica every read and write prefers */
const REPLICA = process.env.CLUSTER_CHAOS_REPLICA ?? "c-ch-1-1";
const BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120 Safari/537.36";

const stack = inject("clusterStack");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ports = (svc: string) => (stack.all[`${svc.toUpperCase()}_PORTS`] ?? "").split(",").map(Number);

let world: TestWorld;
let stopping = false;
const logFd = () => {
  const dir = path.join(REPO_ROOT, ".stack", "logs");
  mkdirSync(dir, { recursive: true });
  return openSync(path.join(dir, "chaos-cluster-services.log"), "a");
};

/** One instance of a service on its cluster ports, respawned like a process manager would when it exits. */
function supervise(service: ServiceName, i: number, env: Record<string, string>, out: number) {
  const port = ports(service)[i] ?? 0;
  const instanceEnv = {
    ...env,
    PORT: String(port),
    OPS_PORT: String(port + 50),
    CLICK_SPOOL_DIR: path.join(REPO_ROOT, ".stack", "test-spool", `${world.id}-${i}`),
  };
  let current: ServiceProcess | undefined;
  let held = false;
  const spawnOne = () => {
    const p = spawnService(service, { env: instanceEnv, output: out });
    current = p;
    p.exited.then(() => {
      if (!stopping && !held && current === p) setTimeout(spawnOne, 500);
    });
  };
  spawnOne();
  return {
    /** SIGKILL; it comes back after `downMs` */
    async kill(downMs: number) {
      held = true;
      current?.kill();
      await current?.exited;
      await sleep(downMs);
      held = false;
      spawnOne();
    },
    stop: () => current?.stop(10_000),
  };
}

async function waitReady(url: string, timeoutMs = 90_000) {
  await eventually(
    () =>
      fetch(url).then(
        (r) => r.status,
        () => 0,
      ),
    (s) => s === 200,
    timeoutMs,
    500,
  );
}

/** Until HAProxy's health checks have marked every service instance up (its stats as CSV: column 18 is status). */
async function haproxyAllUp(timeoutMs = 60_000) {
  const down = async () => {
    const csv = await fetch(`${stack.all.HAPROXY_STATS_URL}/;csv`).then((r) => r.text());
    return csv
      .split("\n")
      .map((l) => l.split(","))
      .filter(
        ([px, sv]) => ["redirect", "postback", "reports"].includes(px ?? "") && sv !== "BACKEND" && sv !== "FRONTEND",
      )
      .filter((f) => !(f[17] ?? "").startsWith("UP")).length;
  };
  await eventually(down, (n) => n === 0, timeoutMs, 500);
}

type Plan = OrderPlan;

/** POST until 202; a 5xx, a 408 or a dropped connection (an instance or a store away) is retried, a 4xx fails. */
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
      // 408: HAProxy gave up waiting for the request (a starved client), so it was never processed: send again
      if (res.status < 500 && res.status !== 408) throw new Error(`postback refused with ${res.status}`);
    } catch (err) {
      if (err instanceof Error && err.message.startsWith("postback refused")) throw err;
    }
    await sleep(Math.min(2_000, 100 * 2 ** attempt));
  }
}

/** Runs `fn` over `count` items with `concurrency` loops, item i not before start + i * spacing. */
async function paced(count: number, concurrency: number, spanMs: number, fn: (i: number) => Promise<void>) {
  const start = Date.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < count; i = next++) {
        const due = start + (i * spanMs) / count;
        if (due > Date.now()) await sleep(due - Date.now());
        await fn(i);
      }
    }),
  );
}

const Totals = z.object({
  pending: Int64Text,
  approved: Int64Text,
  rejected: Int64Text,
  reversed: Int64Text,
  n: Int64Text,
});
const PerConversion = Totals.extend({ conversion_id: z.string() });
const byStatus = (table: string, extra = "") =>
  raw(`SELECT ${extra} sumIf(commission_minor, status = 'pending') AS pending, sumIf(commission_minor, status = 'approved') AS approved,
    sumIf(commission_minor, status = 'rejected') AS rejected, sumIf(commission_minor, status = 'reversed') AS reversed,
    ${table === "commission_hourly_v1" ? "sum(entries)" : "count()"} AS n FROM ${table} FINAL ${extra ? "GROUP BY conversion_id" : ""}`);

/**
 * Reads until `done`, or until the reading has not changed for `stableMs` (nothing is still arriving), or `timeoutMs`:
 * the last reading, never an exception, so the summary always prints.
 */
async function settled<T>(read: () => Promise<T>, done: (v: T) => boolean, timeoutMs: number, stableMs = 90_000) {
  const deadline = Date.now() + timeoutMs;
  let last = await read();
  let since = Date.now();
  while (!done(last) && Date.now() < deadline && Date.now() - since < stableMs) {
    await sleep(2_000);
    const next = await read().catch(() => last);
    if (JSON.stringify(next) !== JSON.stringify(last)) since = Date.now();
    last = next;
  }
  return last;
}

const redisPrimaryPort = () =>
  Number(
    execFileSync("redis-cli", [
      "-p",
      (stack.cluster.REDIS_SENTINELS.split(",")[0] ?? "").split(":")[1] ?? "",
      "sentinel",
      "get-master-addr-by-name",
      stack.cluster.REDIS_SENTINEL_NAME,
    ])
      .toString()
      .split("\n")[1],
  );

beforeAll(async () => {
  world = await createTestWorld(stack, "chaos_cluster");
});
afterAll(async () => {
  stopping = true;
  killServiceProcesses();
  await world?.close();
});

describe("chaos on the cluster profile", () => {
  it("books every sale and serves every click exactly once through broker, worker, replica, Redis and redirect faults", async () => {
    const out = logFd();
    const env = {
      ...world.env,
      ADMIN_API_KEY: ADMIN_KEY,
      REPORTS_API_KEY: FINANCE_KEY,
      LOG_LEVEL: "warn",
      KAFKA_SESSION_TIMEOUT_MS: "6000",
      STALL_MS: "120000",
    };
    const instances = (svc: ServiceName) =>
      [0, 1].map((i) =>
        supervise(svc, i, { ...env, LOG_LEVEL: process.env[`CLUSTER_CHAOS_LOG_${svc}`] ?? "warn" }, out),
      );
    const workers = instances("attribution");
    const redirects = instances("redirect");
    instances("postback");
    instances("reports");
    const urls = {
      redirectUrl: stack.all.REDIRECT_URL ?? "",
      postbackUrl: stack.all.POSTBACK_URL ?? "",
      reportsUrl: stack.all.REPORTS_URL ?? "",
    };
    for (const svc of ["redirect", "postback", "reports"])
      for (const p of ports(svc)) await waitReady(`http://127.0.0.1:${p + 50}/readyz`);
    for (const p of ports("attribution")) await waitReady(`http://127.0.0.1:${p}/readyz`);
    await haproxyAllUp();

    const seeded = await seedCampaign(urls as Urls);
    await new FxRates(world.catalog.redis, world.catalog.prefix).load([
      { from: "EUR", to: "USD", rate: EUR_USD.text, effective_from_ms: 0 },
    ]);
    await allowTokenStatusChanges(urls as Urls, seeded.merchant.id);
    const merchant = seeded.merchant;
    const plans: Plan[] = Array.from({ length: SALES }, (_, i) => ({
      orderId: `CLUSTER-${i}`,
      amount: 100 + ((i * 7919) % 99_901),
      currency: i % 5 === 0 ? "EUR" : "USD",
      kind: i % 12 < 6 ? i % 12 : 3,
    }));

    // clicks: every 302 through HAProxy is remembered with the instance that served it
    let started = Date.now();
    const served = new Map<string, string>();
    let redirectsFailed = 0;
    /** why redirects failed and when (seconds into the load), for the diagnostic line */
    const failures = new Map<string, number[]>();
    const failed = (why: string) => {
      redirectsFailed++;
      failures.set(why, [...(failures.get(why) ?? []), Math.round((Date.now() - started) / 1000)]);
    };
    const clickOnce = async () => {
      try {
        const res = await fetch(`${urls.redirectUrl}/${seeded.link.code}`, {
          redirect: "manual",
          headers: { "user-agent": BROWSER_UA },
        });
        await res.arrayBuffer();
        const id = new URL(res.headers.get("location") ?? "http://x/").searchParams.get("click_id");
        if (res.status === 302 && id) served.set(id, res.headers.get("x-served-by") ?? "?");
        else failed(`status ${res.status} ${res.headers.get("x-served-by") ?? ""}`);
      } catch (err) {
        failed(
          `error ${err instanceof Error ? `${err.message} ${String((err.cause as Error | undefined)?.message ?? "")}` : String(err)}`,
        );
      }
    };
    await clickOnce();
    const saleClick = [...served.keys()][0] ?? "";
    // every sale is dated after its click: a sale dated before its click is held for review, not booked pending
    const t0 = Date.now() + 1_000;

    const counts = {
      broker_kills: 0,
      worker_kills: 0,
      replica_outages: 0,
      redirect_kills: 0,
      redis_failovers: 0,
    };
    const step = (name: string) =>
      console.log(`[chaos-cluster +${Math.round((Date.now() - started) / 1000)}s] ${name}`);
    started = Date.now();
    const chaos = (async () => {
      await sleep(SECONDS * 100);
      const broker = await leadingBroker(stack.KAFKA_BROKERS, world.log, world.env.TOPIC_POSTBACKS ?? "");
      step(`SIGKILL broker ${broker}`);
      process.kill(pidOf(`c-kafka-${broker}`), "SIGKILL");
      counts.broker_kills++;
      await sleep(10_000);
      controlClusterInstance("start", `c-kafka-${broker}`);
      step(`broker ${broker} back`);

      step("SIGKILL attribution worker 1 (down 15 s)");
      counts.worker_kills++;
      await workers[0]?.kill(15_000);
      step("worker 1 back");

      step(`stop ClickHouse replica ${REPLICA} for 30 s`);
      controlClusterInstance("stop", REPLICA);
      counts.replica_outages++;
      await sleep(REPLICA_OUTAGE_MS);
      controlClusterInstance("start", REPLICA);
      step(`replica ${REPLICA} back`);

      const oldPrimary = redisPrimaryPort();
      const instance = oldPrimary === Number(stack.all.REDIS_URL?.split(":")[2]) ? "c-redis-1" : "c-redis-2";
      step(`SIGKILL Redis primary :${oldPrimary} (${instance})`);
      process.kill(pidOf(instance), "SIGKILL");
      await eventually(
        async () => redisPrimaryPort(),
        (p) => p !== oldPrimary,
        60_000,
        500,
      );
      counts.redis_failovers++;
      step(`Sentinel promoted :${redisPrimaryPort()}`);
      controlClusterInstance("start", instance);

      step("SIGKILL redirect instance 1");
      counts.redirect_kills++;
      await redirects[0]?.kill(3_000);
      step("redirect 1 back");
    })();

    const spanMs = SECONDS * 1000;
    await Promise.all([
      paced(SALES, CONCURRENCY, spanMs, async (i) => {
        const p = plans[i] as Plan;
        for (const body of postbacksFor(p, t0, saleClick))
          await sendUntilAccepted(urls.postbackUrl, {
            ...body,
            merchant_id: merchant.id,
            token: merchant.postback_token,
          });
      }),
      paced(CLICKS, CONCURRENCY, spanMs, clickOnce),
      chaos,
    ]);
    const sendMs = Date.now() - started;
    step("load sent, faults done; waiting for the books");

    const expected = new Map(plans.map((p) => [conversionId(merchant.id, p.orderId), expectedFor(p)]));
    const truth = { pending: 0, approved: 0, rejected: 0, reversed: 0, n: 0 };
    for (const e of expected.values()) {
      truth.pending += e.pending;
      truth.approved += e.approved;
      truth.rejected += e.rejected;
      truth.reversed += e.reversed;
      truth.n += e.entries;
    }
    const ledgerTotals = await settled(
      async () => (await world.ch.query("chaos_ledger_totals", byStatus("commission_ledger_v1"), Totals))[0],
      (t) => t?.n === truth.n,
      600_000,
    );
    const hourly = await settled(
      async () => (await world.ch.query("chaos_hourly_totals", byStatus("commission_hourly_v1"), Totals))[0],
      (t) => JSON.stringify(t) === JSON.stringify(truth),
      120_000,
    );
    const clickRows = await settled(
      async () =>
        (
          await world.ch.query(
            "chaos_clicks",
            raw("SELECT click_id FROM clicks_raw_v1 FINAL"),
            z.object({ click_id: z.string() }),
          )
        ).map((r) => r.click_id),
      (ids) => ids.length >= served.size,
      120_000,
    );
    const perConversion = await world.ch.query(
      "chaos_per_conversion",
      byStatus("commission_ledger_v1", "conversion_id,"),
      PerConversion,
    );
    const { lost, duplicated, wrong } = tallyBooks(perConversion, expected);

    const inClickHouse = new Set(clickRows);
    const missingClicks = [...served.entries()].filter(([id]) => !inClickHouse.has(id));
    const extraClicks = clickRows.filter((id) => !served.has(id)).length;
    const clicksMatch = missingClicks.length === 0 && extraClicks === 0 && clickRows.length === inClickHouse.size;

    const { n: _n, ...money } = truth;
    // the report reads the pre-aggregates, rebuilt after each batch: read until it agrees or stops changing
    const readReport = async () => {
      const res = await fetch(
        `${urls.reportsUrl}/v1/reports/commissions?from=${new Date(t0 - 86_400_000).toISOString().slice(0, 10)}&to=${new Date(Date.now() + 2 * 86_400_000).toISOString().slice(0, 10)}`,
        { headers: { authorization: `Bearer ${FINANCE_KEY}` } },
      );
      const report = (await res.json()) as {
        rows: {
          pending_minor: number;
          approved_minor: number;
          rejected_minor: number;
          reversed_minor: number;
          clicks: number;
        }[];
      };
      const totals = { pending: 0, approved: 0, rejected: 0, reversed: 0 };
      let clicks = 0;
      for (const r of report.rows) {
        totals.pending += r.pending_minor;
        totals.approved += r.approved_minor;
        totals.rejected += r.rejected_minor;
        totals.reversed += r.reversed_minor;
        clicks += r.clicks;
      }
      return { totals, clicks };
    };
    const { totals: reportTotals, clicks: reportClicks } = await settled(
      readReport,
      (r) => JSON.stringify(r.totals) === JSON.stringify(money) && r.clicks === served.size,
      120_000,
      30_000,
    );
    const totalsMatch =
      JSON.stringify({ ...ledgerTotals, n: undefined }) === JSON.stringify({ ...money, n: undefined }) &&
      JSON.stringify(hourly) === JSON.stringify(truth) &&
      JSON.stringify(reportTotals) === JSON.stringify(money) &&
      wrong === 0;

    // where a click short in the report went missing: the clicks cube's source, read from every replica
    const [byHour] = await world.ch.query(
      "chaos_clicks_by_hour",
      sql`SELECT uniqExact(click_id) AS n FROM ${everyReplica(await clusterServers(world.ch, stack.cluster.CLICKHOUSE_CLUSTER), world.ch.database, "clicks_by_hour_v1")} ${EVERY_REPLICA_SETTINGS}`,
      z.object({ n: Int64Text }),
    );

    const result = {
      sales: SALES,
      clicks: served.size,
      ...counts,
      lost,
      duplicated,
      totals_match: totalsMatch,
      clicks_match: clicksMatch && reportClicks === served.size,
      redirects_failed: redirectsFailed,
    };
    console.log(
      JSON.stringify({
        send_s: Math.round(sendMs / 1000),
        total_s: Math.round((Date.now() - started) / 1000),
        wrong_conversions: wrong,
        missing_clicks: missingClicks.length,
        missing_clicks_by_instance: Object.fromEntries(
          [...new Set(missingClicks.map(([, by]) => by))].map((by) => [
            by,
            missingClicks.filter(([, b]) => b === by).length,
          ]),
        ),
        extra_clicks: extraClicks,
        report_clicks: reportClicks,
        clicks_by_hour: byHour?.n,
        redirect_failures: Object.fromEntries(failures),
        ...(totalsMatch ? {} : { truth, ledger: ledgerTotals, hourly, report: reportTotals }),
      }),
    );
    writeFileSync(path.join(REPO_ROOT, ".stack", "chaos-cluster-result.json"), `${JSON.stringify(result)}\n`);
    console.log(JSON.stringify(result));
    stopping = true;

    expect({ ledgerTotals, hourly, reportTotals }).toEqual({ ledgerTotals: truth, hourly: truth, reportTotals: money });
    expect({ lost, duplicated, wrong, redirectsFailed }).toEqual({
      lost: 0,
      duplicated: 0,
      wrong: 0,
      redirectsFailed: 0,
    });
    expect({ missing: missingClicks.length, extra: extraClicks, reportClicks }).toEqual({
      missing: 0,
      extra: 0,
      reportClicks: served.size,
    });
    expect(counts).toEqual({
      broker_kills: 1,
      worker_kills: 1,
      replica_outages: 1,
      redirect_kills: 1,
      redis_failovers: 1,
    });
  });
});
