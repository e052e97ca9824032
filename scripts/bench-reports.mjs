// npm run bench:reports [-- --rows 10000000 --runs 15 --csv-rows 1000000]   (BENCH_LEDGER_ROWS=1000000 also sets --rows;
// BENCH_EXACT=0 skips the exactness check)
// Seeds ROWS ledger rows (and a tenth as many clicks) with INSERT ... SELECT FROM numbers() inside ClickHouse, starts the
// reports service as a child process, then times each main report over HTTP against a bare
// `SELECT sum(...) GROUP BY` over the same table in the same run, and measures a CSV export's rows/s and the
// service's peak RSS. Prints p50/p99, ratios and which path answered (X-Report-Source); the last line is one JSON
// object: `ratio` (monthly by influencer), `max_ratio` (worst of monthly by influencer, campaign, merchant and by day
// in Europe/Berlin, each against its bare aggregate over the same instants), `year_p99_ms` (12-month reports) and
// `sources` (every report should say `aggregate`). After the timings (so they are not disturbed) it times one 12-month
// report read from the ledger (`ledger_year_ms`, `ledger_year_status`: 200, not a 503 timeout) and checks exactness:
// every grouping and status split in six zones (three not whole hours) over a month and over the whole range, plus
// payouts, read from the aggregates and from the ledger with FINAL, byte for byte (`exact`, `exact_reports`; the
// shared check of packages/testing/src/report-exactness.ts, also run by the chaos and aggregates tests).
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { createClickHouse, ensureDatabase, migrate, raw, rebuildAllAggregates, sql } from "@aff/clickhouse";
import { compareReportSources, readStackEnv, startService } from "@aff/testing";
import { z } from "zod";

const { values: args } = parseArgs({
  options: {
    rows: { type: "string", default: process.env.BENCH_LEDGER_ROWS ?? "10000000" },
    runs: { type: "string", default: "15" },
    "csv-rows": { type: "string", default: "1000000" },
    keep: { type: "boolean", default: false },
  },
});
const ROWS = Number(args.rows);
const RUNS = Number(args.runs);
const CSV_ROWS = Number(args["csv-rows"]);
const stackEnv = readStackEnv();
const url = process.env.CLICKHOUSE_URL ?? stackEnv.CLICKHOUSE_URL ?? "http://127.0.0.1:18123";
const redisUrl = process.env.REDIS_URL ?? stackEnv.REDIS_URL ?? "redis://127.0.0.1:16379/0";
const database = "bench_reports";
const KEY = "bench-reports-finance-key-0123456789";
const CHUNK = 1_000_000;

/** Long statements (seeding, OPTIMIZE) over plain HTTP: the service client's 30 s request timeout is for queries. */
async function exec(statement) {
  const res = await fetch(`${url}/?database=${database}`, { method: "POST", body: statement.text });
  if (!res.ok) throw new Error(`ClickHouse ${res.status}: ${await res.text()}`);
}
const log = (...a) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...a);

/** Ledger period: 180 days ending at START + 180 d; rows spread evenly, so one month holds about a sixth of them. */
const START = Date.UTC(2026, 0, 1) / 1000;
const SPAN = 180 * 86400;

async function seed(ch) {
  const count = async (table) =>
    (await ch.query("count", sql`SELECT count() AS n FROM ${raw(table)}`, z.object({ n: z.coerce.number() })))[0]?.n ??
    0;
  const n = await count("commission_ledger_v1");
  if (n === ROWS && (await count("clicks_raw_v1")) === Math.floor(ROWS / 10)) {
    log(`reusing ${n} ledger rows in ${database}`);
    if ((await count("commission_cube_v2")) > 0 && (await count("clicks_cube_v1")) > 0) return;
    return rebuild(ch);
  }
  await exec(raw("TRUNCATE TABLE commission_ledger_v1"));
  await exec(raw("TRUNCATE TABLE clicks_raw_v1"));
  await exec(raw("TRUNCATE TABLE commission_cube_v2"));
  await exec(raw("TRUNCATE TABLE approved_ledger_v1"));
  await exec(raw("TRUNCATE TABLE clicks_cube_v1"));
  await exec(raw("TRUNCATE TABLE clicks_by_hour_v1"));
  log(`seeding ${ROWS} ledger rows with INSERT ... SELECT FROM numbers()`);
  const t0 = performance.now();
  // Entry n belongs to conversion intDiv(n, 2): a sale (pending) and a later movement (approve/reject/refund).
  for (let off = 0; off < ROWS; off += CHUNK) {
    await exec(sql`INSERT INTO commission_ledger_v1
      SELECT hex(MD5(toString(number))) AS entry_id, hex(MD5(concat('e', toString(number)))) AS event_id,
        hex(MD5(concat('c', toString(intDiv(number, 2))))) AS conversion_id,
        (intDiv(number, 2) % 200) % 20 + 1 AS merchant_id, intDiv(number, 2) % 200 + 1 AS campaign_id,
        intDiv(number, 2) * 7 % 20000 + 1 AS influencer_id,
        ['sale', 'approve', 'reject', 'refund'][number % 2 = 0 ? 1 : 2 + intDiv(number, 2) % 3] AS entry_type,
        ['pending', 'approved', 'rejected', 'reversed'][number % 2 = 0 ? 1 : 2 + intDiv(number, 2) % 3] AS status,
        toInt64(1000 + intDiv(number, 2) % 50000) AS order_amount_minor, ['USD', 'EUR', 'GBP'][intDiv(number, 2) % 3 + 1] AS order_currency,
        toInt64(100 + intDiv(number, 2) % 5000) AS commission_minor, ['USD', 'EUR', 'GBP'][(intDiv(number, 2) % 200) % 3 + 1] AS commission_currency,
        toDateTime(${START} + (intDiv(number, 2) * 7919) % ${SPAN} + (number % 2) * 86400, 'UTC') AS event_time,
        toDateTime(${START} + (intDiv(number, 2) * 7919) % ${SPAN} + (number % 2) * 86400 * 31, 'UTC') AS payable_at,
        event_time AS recorded_at, toUInt64(1) AS version
      FROM numbers(${off}, ${Math.min(CHUNK, ROWS - off)})`);
    log(`  ${Math.min(ROWS, off + CHUNK)} rows`);
  }
  await exec(sql`INSERT INTO clicks_raw_v1
      SELECT hex(MD5(concat('k', toString(number)))) AS click_id, toUInt32(number % 40000 + 1) AS link_id, 'code' AS link_code,
        toUInt32(number % 200 + 1) AS campaign_id, toUInt32(number * 7 % 20000 + 1) AS influencer_id, toUInt32((number % 200) % 20 + 1) AS merchant_id,
        toDateTime(${START} + (number * 7919) % ${SPAN}, 'UTC') AS clicked_at, toUInt64(${START} + (number * 7919) % ${SPAN}) * 1000 AS clicked_at_ms,
        concat('10.0.', toString(number % 250), '.0') AS ip, 'Mozilla/5.0' AS user_agent, '' AS referer,
        toUInt8(number % 13 = 0) AS is_bot, toUInt8(1) AS is_unique, toUInt64(1) AS version
      FROM numbers(${Math.floor(ROWS / 10)})`);
  log(`seeded in ${((performance.now() - t0) / 1000).toFixed(1)} s; merging parts (OPTIMIZE FINAL)`);
  await exec(raw("OPTIMIZE TABLE commission_ledger_v1 FINAL"));
  await exec(raw("OPTIMIZE TABLE clicks_raw_v1 FINAL"));
  await rebuild(ch);
}

/** The pre-aggregates, through the code path of `npm run aggregates:rebuild`. */
async function rebuild(ch) {
  const t1 = performance.now();
  await rebuildAllAggregates(ch, (done, total) => log(`  aggregates: ${done}/${total} months`));
  for (const t of ["commission_cube_v2", "approved_ledger_v1", "clicks_cube_v1", "clicks_by_hour_v1"])
    await exec(raw(`OPTIMIZE TABLE ${t} FINAL`));
  log(`aggregates rebuilt in ${((performance.now() - t1) / 1000).toFixed(1)} s`);
}

const startReports = () =>
  startService("reports", {
    env: {
      CLICKHOUSE_URL: url,
      CLICKHOUSE_DATABASE: database,
      REDIS_URL: redisUrl,
      REDIS_PREFIX: "bench_reports:",
      PORT: "0",
      LOG_LEVEL: "info",
      REPORTS_API_KEY: KEY,
    },
  });

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};

async function time(fn, runs) {
  const first = await fn(); // warm-up
  const ms = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
  }
  return { p50: pct(ms, 50), p99: pct(ms, 99), first };
}

/** One report over HTTP; returns the path that answered it (X-Report-Source: aggregate or ledger). */
async function report(base, query) {
  const { status, source, text } = await reportAnswer(base, query);
  if (status !== 200) throw new Error(`${query}: ${status} ${text}`);
  return source;
}

/**
 * One report over HTTP, whatever its status: the ledger reads may time out (503) and that is a figure too; status 0
 * when no answer came (fetch gives up waiting for headers after 300 s).
 */
async function reportAnswer(base, query) {
  try {
    const res = await fetch(`${base}/v1/reports/commissions?${query}`, { headers: { authorization: `Bearer ${KEY}` } });
    return { status: res.status, source: res.headers.get("x-report-source"), text: await res.text() };
  } catch (err) {
    return { status: 0, source: null, text: String(err) };
  }
}

/** The exactness check over a month and over the whole range (every row, CSV), payouts once; see the header. */
async function exactness(base) {
  if (process.env.BENCH_EXACT === "0") return { exact: null, reports: 0, ms: 0, problems: [] };
  const t0 = performance.now();
  // mid-range: some approved money is still held and some payable (payable_at = approval + 31 days)
  const common = { base, key: KEY, asOf: "2026-04-15T00:00:00Z", format: "csv" };
  const month = await compareReportSources({ ...common, from: "2026-02-01", to: "2026-03-01" });
  const all = await compareReportSources({ ...common, from: "2026-01-01", to: "2027-01-01", payouts: true });
  const problems = [month, all].flatMap((r) => [...r.mismatches, ...r.notAggregate, ...r.failures]);
  for (const p of problems.slice(0, 10)) log(`NOT EXACT: ${p}`);
  return {
    exact: month.exact && all.exact,
    reports: month.compared + all.compared,
    ms: performance.now() - t0,
    problems,
  };
}

/** Streams the CSV and counts lines without keeping them. */
async function csvExport(base, query) {
  const t0 = performance.now();
  const res = await fetch(`${base}/v1/reports/statements?${query}`, { headers: { authorization: `Bearer ${KEY}` } });
  if (res.status !== 200) throw new Error(`csv: ${res.status} ${await res.text()}`);
  let lines = 0;
  for await (const chunk of res.body) for (const b of chunk) if (b === 10) lines++;
  return { rows: lines - 1, ms: performance.now() - t0 };
}

const peakRssMb = (pid) =>
  Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;

async function main() {
  await ensureDatabase({ url }, database);
  const ch = createClickHouse({ url, database });
  await migrate(ch);
  await seed(ch);
  const service = await startReports();
  const base = service.url;
  try {
    const month = { from: "2026-02-01", to: "2026-03-01" };
    // the whole seeded ledger (180 days) lies in this year, so a 12-month report sums every row
    const year = { from: "2026-01-01", to: "2027-01-01" };
    // Each report is compared with a bare sum over the same rows and grouping (no FINAL, no status split, no clicks).
    // `worst` marks the four groupings of max_ratio; `year` the 12-month reports of year_p99_ms.
    const reports = [
      {
        name: "monthly commission by influencer",
        p: month,
        key: "influencer_id",
        q: "group_by=influencer&limit=100",
        worst: true,
      },
      {
        name: "monthly commission by influencer, top 20 by total",
        p: month,
        key: "influencer_id",
        q: "group_by=influencer&sort=total&order=desc&limit=20",
      },
      {
        name: "monthly commission by campaign",
        p: month,
        key: "campaign_id",
        q: "group_by=campaign&limit=1000",
        worst: true,
      },
      {
        name: "monthly commission by merchant",
        p: month,
        key: "merchant_id",
        q: "group_by=merchant&limit=1000",
        worst: true,
      },
      {
        name: "daily commission over a month, Europe/Berlin",
        p: month,
        tz: "Europe/Berlin",
        key: "toDate(event_time, 'Europe/Berlin')",
        q: "tz=Europe/Berlin&group_by=day&limit=1000",
        worst: true,
      },
      {
        name: "12-month commission by influencer",
        p: year,
        key: "influencer_id",
        q: "group_by=influencer&limit=100",
        year: true,
      },
      {
        name: "12-month commission by month, Europe/Berlin",
        p: year,
        tz: "Europe/Berlin",
        key: "toStartOfMonth(event_time, 'Europe/Berlin')",
        q: "tz=Europe/Berlin&group_by=month&limit=1000",
        year: true,
      },
    ];
    const results = [];
    for (const r of reports) {
      const runs = r === reports[0] ? RUNS : Math.max(3, Math.floor(RUNS / 2));
      // the same instants as the service: local midnights of the report's zone
      const bound = (d) => `toDateTime('${d} 00:00:00', '${r.tz ?? "UTC"}')`;
      const bare = raw(
        `SELECT ${r.key} AS k, commission_currency, sum(commission_minor) AS s FROM commission_ledger_v1 WHERE event_time >= ${bound(r.p.from)} AND event_time < ${bound(r.p.to)} GROUP BY k, commission_currency`,
      );
      const baseline = await time(() => ch.query("baseline", bare, z.unknown()), runs);
      const t = await time(() => report(base, `from=${r.p.from}&to=${r.p.to}&${r.q}`), runs);
      results.push({ ...r, t, baseline, ratio: t.p50 / baseline.p50 });
      log(
        `${r.name} [${t.first}]: p50 ${t.p50.toFixed(1)} ms, p99 ${t.p99.toFixed(1)} ms | bare aggregate p50 ${baseline.p50.toFixed(1)} ms, p99 ${baseline.p99.toFixed(1)} ms | ratio ${(t.p50 / baseline.p50).toFixed(2)}x`,
      );
    }
    // Pick a period holding about CSV_ROWS ledger lines (rows are spread evenly over 180 days).
    const days = Math.max(1, Math.round((CSV_ROWS / ROWS) * 180));
    const to = new Date(Date.UTC(2026, 0, 1) + days * 86_400_000).toISOString().slice(0, 10);
    const csv = await csvExport(base, `from=2026-01-01&to=${to}&format=csv`);
    const csvRate = csv.rows / (csv.ms / 1000);
    const rss = peakRssMb(service.child.pid);
    log(
      `CSV statement export: ${csv.rows} rows in ${(csv.ms / 1000).toFixed(1)} s = ${Math.round(csvRate)} rows/s; reports service peak RSS ${rss.toFixed(0)} MB`,
    );
    // the ledger path over 12 months (source=ledger audits, a past as_of): must answer, not time out (503)
    const ledgerYear = await (async () => {
      const t0 = performance.now();
      const a = await reportAnswer(base, `from=${year.from}&to=${year.to}&group_by=influencer&limit=100&source=ledger`);
      return { ms: performance.now() - t0, status: a.status, source: a.source };
    })();
    log(`12-month report from the ledger (FINAL): ${ledgerYear.ms.toFixed(0)} ms, HTTP ${ledgerYear.status}`);
    const exact = await exactness(base);
    log(
      `exactness: ${exact.exact} over ${exact.reports} reports (aggregates vs ledger) in ${(exact.ms / 1000).toFixed(1)} s`,
    );
    const main = results[0].t;
    const baseline = results[0].baseline;
    const notAggregate = results.filter((r) => r.t.first !== "aggregate").map((r) => r.name);
    if (notAggregate.length > 0) log(`WARNING: not answered from the aggregates: ${notAggregate.join("; ")}`);
    console.log(
      JSON.stringify({
        ratio: Number((main.p50 / baseline.p50).toFixed(2)),
        p50_ms: Number(main.p50.toFixed(1)),
        p99_ms: Number(main.p99.toFixed(1)),
        baseline_p50_ms: Number(baseline.p50.toFixed(1)),
        max_ratio: Number(Math.max(...results.filter((r) => r.worst).map((r) => r.ratio)).toFixed(2)),
        year_p99_ms: Number(Math.max(...results.filter((r) => r.year).map((r) => r.t.p99)).toFixed(1)),
        csv_rows_per_s: Math.round(csvRate),
        csv_rss_mb: Number(rss.toFixed(0)),
        csv_rows: csv.rows,
        sources: Object.fromEntries(results.map((r) => [r.name, r.t.first])),
        ledger_rows: ROWS,
        ledger_year_ms: Number(ledgerYear.ms.toFixed(0)),
        ledger_year_status: ledgerYear.status,
        exact: exact.exact,
        exact_reports: exact.reports,
        exact_s: Number((exact.ms / 1000).toFixed(1)),
      }),
    );
  } finally {
    await service.stop();
    if (!args.keep) await ch.exec("drop", sql`DROP DATABASE IF EXISTS ${raw(database)}`);
    await ch.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
