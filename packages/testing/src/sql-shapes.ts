import {
  type ClickHouse,
  type ClickRow,
  type CommissionReportQuery,
  type ConversionRow,
  GroupBy,
  getCommissionReport,
  getConversionEvents,
  getConversionFlags,
  getFirstClick,
  getOrderIds,
  getOutcomeLog,
  getPayableLines,
  getPayoutCandidates,
  getPayoutLines,
  getPayoutPaid,
  getPayoutRun,
  getScoreCells,
  getStatement,
  getWeeklyCells,
  insertApprovedEntries,
  insertClickHours,
  insertClicks,
  insertConversions,
  insertLedgerEntries,
  type LedgerRow,
  listPayoutRuns,
  migrate,
  newestRecorded,
  newestRecordedSince,
  rebuildAggregates,
  rebuildClickAggregates,
  SortKey,
  scorecardWeekly,
  streamCommissionReport,
  streamStatement,
  toDateTimeText,
  weeklyBuildSql,
} from "@aff/clickhouse";
import { deterministicId } from "@aff/common";

/**
 * Every SQL text the code sends to ClickHouse, recorded from the real builders (not copied), so one ClickHouse
 * version after another can be asked to run exactly what production runs: the migration runner's statements, each
 * report query shape the reports service issues (every grouping, sort, filter and a few time zones), the attribution
 * worker's reads and rebuild, and seed rows with hand-computed report figures. test/chdb runs it on a current
 * ClickHouse (chdb), test/e2e/sql-shapes.test.ts on the stack's server.
 */
export type SqlStep =
  | { kind: "exec" | "query"; name: string; sql: string }
  | { kind: "insert"; name: string; table: string; rows: object[] };

/** A query and the rows it must return, in order; only the fields named in `expect` are compared. */
export type SqlCheck = { name: string; sql: string; expect: Record<string, unknown>[] };

export type SqlShapes = { migrations: SqlStep[]; shapes: SqlStep[]; seed: SqlStep[]; checks: SqlCheck[] };

/** A ClickHouse that answers every read with no rows and remembers what it was asked. */
function recorder() {
  const steps: SqlStep[] = [];
  const ch: ClickHouse = {
    database: "recorded",
    query: async (name, q) => {
      steps.push({ kind: "query", name, sql: q.text });
      return [];
    },
    async *stream(name, q) {
      steps.push({ kind: "query", name, sql: q.text });
      yield* [];
    },
    exec: async (name, s) => {
      steps.push({ kind: "exec", name, sql: s.text });
    },
    insert: async (name, table, rows) => {
      steps.push({ kind: "insert", name, table, rows: [...rows] });
    },
    ping: async () => true,
    close: async () => undefined,
  };
  return { ch, take: () => steps.splice(0) };
}

const at = (iso: string) => Date.parse(iso);
const MARCH = { fromMs: at("2025-03-01T00:00:00Z"), toMs: at("2025-04-01T00:00:00Z") };
const AS_OF = at("2025-03-31T00:00:00Z");
const ZONES = ["UTC", "Europe/Berlin", "America/St_Johns", "Asia/Kathmandu"];

/** Each grouping with each sort, both orders and several zones; then the money-only joins, scopes and unpaged exports. */
function commissionQueries(): CommissionReportQuery[] {
  const base = { ...MARCH, asOfMs: AS_OF, offset: 0 };
  const out: CommissionReportQuery[] = [];
  GroupBy.options.forEach((groupBy, g) => {
    SortKey.options.forEach((sort, s) => {
      const timeZone = ZONES[(g + s) % ZONES.length] ?? "UTC";
      out.push({ ...base, groupBy, sort, order: s % 2 ? "desc" : "asc", timeZone, limit: 101, offset: s * 10 });
    });
    const timeZone = ZONES[g % ZONES.length] ?? "UTC";
    out.push({ ...base, groupBy, sort: "key", order: "asc", timeZone, currency: "EUR", limit: 10 });
    out.push({ ...base, groupBy, sort: "total", order: "desc", timeZone, statuses: ["payable", "approved"] });
    out.push({
      ...base,
      groupBy,
      sort: "key",
      order: "asc",
      timeZone,
      merchantId: 2,
      campaignId: 7,
      influencerId: 3,
      statuses: ["pending", "rejected", "reversed"],
      currency: "EUR",
      limit: 5,
      offset: 5,
    });
  });
  // every shape once more through the ledger path (forced, as audits do, and as past as_of or odd periods fall back)
  return [...out, ...out.map((q) => ({ ...q, source: "ledger" as const }))];
}

const base = () => ({ ...MARCH, asOfMs: AS_OF, sort: "key" as const, order: "asc" as const, offset: 0, limit: 101 });

async function recordReportShapes(ch: ClickHouse): Promise<void> {
  const report = getCommissionReport(ch);
  const reportStream = streamCommissionReport(ch);
  for (const q of commissionQueries()) await report(q);
  const streamed = await reportStream({
    ...MARCH,
    asOfMs: AS_OF,
    timeZone: "UTC",
    groupBy: "day",
    sort: "key",
    order: "asc",
    offset: 0,
  });
  for await (const _ of streamed.rows);
  const statementBase = { ...MARCH, asOfMs: AS_OF, timeZone: "UTC", offset: 0 };
  await getStatement(ch)({ ...statementBase, limit: 101 });
  await getStatement(ch)({
    ...statementBase,
    timeZone: "Europe/Berlin",
    merchantId: 2,
    campaignId: 7,
    influencerId: 3,
    statuses: ["payable"],
    currency: "EUR",
    limit: 10,
    offset: 10,
  });
  await getStatement(ch)({ ...statementBase, limit: 101, after: { eventTime: "2025-03-10 10:00:00", entryId: "e" } });
  for await (const _ of streamStatement(ch)(statementBase));
  // periods off the quarter hour (ledger minutes, hourly clicks) and a zone cutting hours at :30 and :45
  const odd = { ...base(), fromMs: at("2025-03-01T06:47:13Z"), toMs: at("2025-03-20T17:09:00Z") };
  for (const groupBy of ["influencer", "day"] as const)
    for (const timeZone of ["UTC", "Asia/Kolkata", "Asia/Kathmandu"]) await report({ ...odd, groupBy, timeZone });
  await report({ ...base(), groupBy: "week", timeZone: "Asia/Kolkata", statuses: ["payable"] });
  // the ledger over several months: one FINAL per UTC month partition, UNION ALL (docs/adr/0006 "Long ledger reads")
  const months = { ...base(), fromMs: at("2025-01-20T00:00:00Z"), source: "ledger" as const };
  await report({ ...months, groupBy: "day", timeZone: "Asia/Kathmandu", statuses: ["payable", "approved"] });
  await report({ ...months, groupBy: "month", timeZone: "Australia/Eucla", merchantId: 2, currency: "EUR" });
  await getPayableLines(ch)({ asOfMs: at("2025-03-10T10:07:30Z") });
  await getPayableLines(ch)({ asOfMs: AS_OF, source: "ledger" });
  await getPayableLines(ch)({ asOfMs: AS_OF });
  await getPayableLines(ch)({ asOfMs: AS_OF, merchantId: 2, campaignId: 7, influencerId: 3, currency: "EUR" });
}

/** The finance reads of issue 12: flags, as_of on the recorded clock, outcomes and payout runs. */
async function recordFinanceShapes(ch: ClickHouse): Promise<void> {
  const report = getCommissionReport(ch);
  for (const groupBy of ["influencer", "day"] as const)
    await report({ ...base(), groupBy, timeZone: "Europe/Berlin", flags: ["click_after_sale", "too_fast"] });
  await newestRecorded(ch)({ ...MARCH, asOfMs: AS_OF, timeZone: "UTC", merchantId: 2, currency: "EUR" });
  await newestRecordedSince(ch)({ ...MARCH, asOfMs: AS_OF, timeZone: "UTC" });
  const conversion = deterministicId("conversion", 2, "A");
  await getConversionFlags(ch)(conversion);
  await getOutcomeLog(ch)({ merchantId: 2, ...MARCH, outcomes: ["booked", "not_credited"], limit: 50, offset: 0 });
  await getOutcomeLog(ch)({ merchantId: 2, conversionId: conversion });
  await getPayoutCandidates(ch)("EUR", AS_OF);
  await getOrderIds(ch)([conversion]);
  await getPayoutRun(ch)("run-1");
  await listPayoutRuns(ch)();
  await listPayoutRuns(ch)(3);
  await getPayoutLines(ch)("run-1");
  await getPayoutPaid(ch)("run-1");
}

/** The scorecard and ranking cuts the reports service issues (services/reports/src/scorecards-api.ts). */
async function recordScorecardShapes(ch: ClickHouse): Promise<void> {
  const cells = getScoreCells(ch);
  const base = { ...MARCH, asOfMs: AS_OF };
  await cells({ ...base, prevFromMs: at("2025-02-01T00:00:00Z"), influencerIds: [3], dims: ["campaign", "half"] });
  await cells({ ...base, campaignIds: [7, 8], dims: ["campaign", "half"] });
  await cells({ ...base, influencerIds: [3, 4], campaignIds: [7], ownMerchantId: 2, dims: ["influencer", "own"] });
  await cells({ ...base, influencerIds: [3], campaignIds: [], ownMerchantId: 2, dims: ["influencer", "own", "week"] });
  await cells({ ...base, merchantId: 2, dims: [] });
  await ch.exec("scorecard_weekly_build", weeklyBuildSql(202503, 1));
  // the build's bookkeeping: source parts, the build record, dropping older builds
  await scorecardWeekly(ch).refresh([202503]);
  const weeks = { fromWeekMs: at("2025-03-03T00:00:00Z"), toWeekMs: at("2025-03-31T00:00:00Z") };
  await getWeeklyCells(ch, {
    ...weeks,
    influencerIds: [3, 4],
    campaignIds: [7],
    ownMerchantId: 2,
    dims: ["influencer", "own"],
  });
  await getWeeklyCells(ch, { ...weeks, influencerIds: [3], campaignIds: [], dims: ["influencer", "own", "week"] });
}

async function recordWorkerShapes(ch: ClickHouse): Promise<void> {
  await getConversionEvents(ch)([deterministicId("conversion", 2, "A"), deterministicId("conversion", 2, "B")]);
  await rebuildAggregates(ch)({ campaigns: [7], hourStartsSec: [at("2025-03-10T23:00:00Z") / 1000] });
  await rebuildClickAggregates(ch)({ campaigns: [7], hourStartsSec: [at("2025-03-10T10:00:00Z") / 1000] });
  await getFirstClick(ch)(clickId("c2"), 7, at("2025-03-01T00:00:00Z"), at("2025-03-31T00:00:00Z"));
}

const conversion = (order: string) => deterministicId("conversion", 2, order);
const clickId = (name: string) => deterministicId("click", name);

/** One ledger entry of merchant 2, campaign 7, influencer 3, in EUR. */
function entry(
  order: string,
  type: LedgerRow["entry_type"],
  status: LedgerRow["status"],
  orderMinor: number,
  commissionMinor: number,
  time: string,
  payableAt = time,
): LedgerRow {
  const event = deterministicId("event", order, type);
  return {
    entry_id: deterministicId(event, status),
    event_id: event,
    conversion_id: conversion(order),
    merchant_id: 2,
    campaign_id: 7,
    influencer_id: 3,
    entry_type: type,
    status,
    order_amount_minor: orderMinor,
    order_currency: "EUR",
    commission_minor: commissionMinor,
    commission_currency: "EUR",
    event_time: toDateTimeText(at(time)),
    payable_at: toDateTimeText(at(payableAt)),
    recorded_at: toDateTimeText(at(time)),
    version: at(time),
  };
}

const LEDGER: LedgerRow[] = [
  entry("A", "sale", "pending", 12345, 1234, "2025-03-10T23:30:00Z"),
  entry("B", "sale", "approved", 5000, 500, "2025-03-05T12:00:00Z", "2025-03-15T00:00:00Z"),
  entry("C", "sale", "approved", 7000, 700, "2025-03-06T12:00:00Z", "2025-04-30T00:00:00Z"),
  entry("D", "sale", "rejected", 3000, 300, "2025-03-07T12:00:00Z"),
  entry("B", "refund", "reversed", -2000, -200, "2025-03-20T00:00:00Z"),
  entry("F", "sale", "approved", 800, 50, "2025-02-20T00:00:00Z", "2025-03-01T00:00:00Z"),
];

function conversionRow(order: string, status: ConversionRow["status"]): ConversionRow {
  const sale = LEDGER.find((e) => e.conversion_id === conversion(order) && e.entry_type === "sale");
  return {
    conversion_id: conversion(order),
    merchant_id: 2,
    order_id: order,
    campaign_id: 7,
    influencer_id: 3,
    link_id: 11,
    click_id: clickId("c1"),
    attribution: "click",
    suspect: 0,
    status,
    order_amount_minor: sale?.order_amount_minor ?? 0,
    order_currency: "EUR",
    commission_minor: sale?.commission_minor ?? 0,
    commission_currency: "EUR",
    occurred_at: sale?.event_time ?? "",
    version: 1,
  };
}

function click(name: string, influencer: number, link: number, time: string, isBot = false): ClickRow {
  const ms = at(time);
  return {
    click_id: clickId(name),
    link_id: link,
    link_code: `L${link}`,
    campaign_id: 7,
    influencer_id: influencer,
    merchant_id: 2,
    clicked_at: toDateTimeText(ms),
    clicked_at_ms: ms,
    ip: "203.0.113.0",
    user_agent: "Mozilla/5.0 (sql-shapes)",
    referer: "",
    is_bot: isBot ? 1 : 0,
    is_unique: 1,
    version: ms,
  };
}

const CLICKS: ClickRow[] = [
  click("c1", 3, 11, "2025-03-10T10:00:05Z"),
  click("c2", 3, 11, "2025-03-10T10:20:00Z"),
  click("c3", 3, 11, "2025-03-10T10:30:00Z", true),
  click("c4", 9, 12, "2025-03-11T08:00:00Z"),
  click("c5", 3, 11, "2025-02-10T08:00:00Z"),
];

/** Seed rows through the real insert functions; the first ledger entry and click are replayed (FINAL drops them). */
async function recordSeed(ch: ClickHouse): Promise<void> {
  await insertLedgerEntries(ch)(LEDGER);
  await insertLedgerEntries(ch)(LEDGER.slice(0, 1));
  await insertApprovedEntries(ch)(LEDGER);
  // the pre-aggregates of every touched hour, as the worker rebuilds them after its write
  const hours = [
    ...new Set(LEDGER.map((e) => Math.floor(Date.parse(`${e.event_time.replace(" ", "T")}Z`) / 3_600_000) * 3600)),
  ];
  await rebuildAggregates(ch)({ hourStartsSec: hours });
  await insertConversions(ch)([
    conversionRow("A", "pending"),
    conversionRow("B", "refunded"),
    conversionRow("C", "approved"),
    conversionRow("D", "rejected"),
    conversionRow("F", "approved"),
  ]);
  await insertClicks(ch)(CLICKS);
  await insertClicks(ch)(CLICKS.slice(0, 1));
  // the clicks cube, as the worker's click writer keeps it (docs/adr/0006)
  await insertClickHours(ch)(CLICKS);
  await insertClickHours(ch)(CLICKS.slice(0, 1));
  const clickHours = [...new Set(CLICKS.map((c) => Math.floor(c.clicked_at_ms / 3_600_000) * 3600))];
  await rebuildClickAggregates(ch)({ hourStartsSec: clickHours });
}

/**
 * The SQL text whose rows a builder call returns: its last statement (a report first reads the newest receive time of
 * its period to choose its source, docs/adr/0006 "Two clocks"; on the recorder that read finds nothing).
 */
async function sqlOf(run: (ch: ClickHouse) => Promise<unknown>): Promise<string> {
  const r = recorder();
  await run(r.ch);
  const steps = r.take();
  const step = steps[steps.length - 1];
  if (step === undefined || steps.some((s) => s.kind !== "query")) throw new Error("expected queries only");
  if (step.kind === "insert") throw new Error("expected a query");
  return step.sql;
}

const money = { pending_minor: 0, approved_minor: 0, payable_minor: 0, rejected_minor: 0, reversed_minor: 0 };

/** Figures worked out by hand from LEDGER and CLICKS for March 2025, as of 2025-03-31. */
async function recordChecks(): Promise<SqlCheck[]> {
  const report = (q: Partial<CommissionReportQuery>) => (ch: ClickHouse) =>
    getCommissionReport(ch)({
      ...MARCH,
      asOfMs: AS_OF,
      timeZone: "UTC",
      groupBy: "influencer",
      sort: "key",
      order: "asc",
      offset: 0,
      ...q,
    });
  const dayRow = (k: string, currency: string, figures: Partial<typeof money>, clicks = 0) => ({
    k,
    currency,
    ...money,
    ...figures,
    clicks,
  });
  const history = (e: LedgerRow) => [e.event_time, e.entry_type, e.status, e.commission_minor, e.entry_id];
  const line = (e: LedgerRow, conversionStatus: string, steps: LedgerRow[]) => ({
    entry_id: e.entry_id,
    entry_type: e.entry_type,
    status: e.status,
    commission_minor: e.commission_minor,
    conversion_status: conversionStatus,
    history: steps.map(history),
  });
  const [a, b, c, d, refund] = LEDGER as [LedgerRow, LedgerRow, LedgerRow, LedgerRow, LedgerRow];
  return [
    {
      name: "commission by influencer (FULL JOIN keeps the clicks-only influencer)",
      sql: await sqlOf(report({})),
      expect: [
        {
          k: 3,
          currency: "EUR",
          pending_minor: 1234,
          approved_minor: 700,
          payable_minor: 500,
          rejected_minor: 300,
          reversed_minor: -200,
          conversions: 4,
          revenue_minor: 24345,
          revenue_currency: "EUR",
          clicks: 3,
          unique_clicks: 1,
          bot_clicks: 1,
        },
        { k: 9, currency: "", ...money, conversions: 0, clicks: 1, unique_clicks: 1, bot_clicks: 0 },
      ],
    },
    {
      name: "commission by influencer from the ledger over February and March (one FINAL per month, UNION ALL)",
      sql: await sqlOf(report({ fromMs: at("2025-02-01T00:00:00Z"), source: "ledger" })),
      expect: [
        {
          k: 3,
          currency: "EUR",
          pending_minor: 1234,
          approved_minor: 700,
          payable_minor: 550,
          rejected_minor: 300,
          reversed_minor: -200,
          conversions: 5,
          revenue_minor: 25145,
          revenue_currency: "EUR",
          clicks: 4,
          unique_clicks: 2,
          bot_clicks: 1,
        },
        { k: 9, currency: "", ...money, conversions: 0, clicks: 1, unique_clicks: 1, bot_clicks: 0 },
      ],
    },
    {
      name: "commission by day in Europe/Berlin (23:30 UTC belongs to the next local day)",
      sql: await sqlOf(report({ groupBy: "day", timeZone: "Europe/Berlin" })),
      expect: [
        dayRow("2025-03-05", "EUR", { payable_minor: 500 }),
        dayRow("2025-03-06", "EUR", { approved_minor: 700 }),
        dayRow("2025-03-07", "EUR", { rejected_minor: 300 }),
        dayRow("2025-03-10", "", {}, 3),
        dayRow("2025-03-11", "EUR", { pending_minor: 1234 }, 1),
        dayRow("2025-03-20", "EUR", { reversed_minor: -200 }),
      ],
    },
    {
      name: "commission by campaign, EUR only (ANY LEFT JOIN)",
      sql: await sqlOf(report({ groupBy: "campaign", currency: "EUR", sort: "total", order: "desc" })),
      expect: [{ k: 7, currency: "EUR", pending_minor: 1234, payable_minor: 500, clicks: 4, unique_clicks: 2 }],
    },
    {
      name: "statement of March with each conversion's history",
      sql: await sqlOf((ch) => getStatement(ch)({ ...MARCH, asOfMs: AS_OF, timeZone: "UTC", offset: 0 })),
      expect: [
        line(b, "refunded", [b, refund]),
        line(c, "approved", [c]),
        line(d, "rejected", [d]),
        line(a, "pending", [a]),
        line(refund, "refunded", [b, refund]),
      ],
    },
    {
      name: "payable and held balances as of 2025-03-31",
      sql: await sqlOf((ch) => getPayableLines(ch)({ asOfMs: AS_OF })),
      expect: [{ influencer_id: 3, campaign_id: 7, currency: "EUR", payable_minor: 550, held_minor: 700 }],
    },
    {
      name: "first click of the shopper behind c2",
      sql: await sqlOf((ch) => getFirstClick(ch)(clickId("c2"), 7, MARCH.fromMs, AS_OF)),
      expect: [{ influencer_id: 3, link_id: 11, clicked_at_ms: at("2025-03-10T10:00:05Z") }],
    },
  ];
}

export async function recordSqlShapes(): Promise<SqlShapes> {
  const r = recorder();
  await migrate(r.ch);
  const migrations = r.take();
  await recordReportShapes(r.ch);
  await recordFinanceShapes(r.ch);
  await recordScorecardShapes(r.ch);
  await recordWorkerShapes(r.ch);
  const shapes = r.take();
  await recordSeed(r.ch);
  const seed = r.take();
  return { migrations, shapes, seed, checks: await recordChecks() };
}

/** 64-bit integers come back as JSON strings from some servers and settings: compare them as numbers. */
function normalise(v: unknown): unknown {
  if (typeof v === "string" && /^-?\d{1,15}$/.test(v)) return Number(v);
  if (Array.isArray(v)) return v.map(normalise);
  return v;
}

/** The differences between a check's expected rows and the rows a server returned (empty when they agree). */
export function checkRows(check: SqlCheck, rows: readonly Record<string, unknown>[]): string[] {
  if (rows.length !== check.expect.length)
    return [`${check.name}: expected ${check.expect.length} rows, got ${rows.length}: ${JSON.stringify(rows)}`];
  return check.expect.flatMap((want, i) =>
    Object.entries(want)
      .filter(([field, value]) => JSON.stringify(normalise(rows[i]?.[field])) !== JSON.stringify(normalise(value)))
      .map(
        ([field, value]) =>
          `${check.name}: row ${i} ${field}: expected ${JSON.stringify(value)}, got ${JSON.stringify(rows[i]?.[field])}`,
      ),
  );
}
