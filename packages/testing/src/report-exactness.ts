/**
 * Exactness of the finance reports (issue 10, docs/adr/0006 "Exactness checks"): every report read from the
 * pre-aggregates must equal, byte for byte, the same report read from the ledger with FINAL (`source=ledger`). Used by
 * test/e2e/reports-aggregates.test.ts (fixture), test/e2e/chaos.test.ts (the chaos run's books, before and after a
 * replay of the whole postbacks topic) and scripts/bench-reports.mjs (the benchmark's ledger), so all three check the
 * same reports the same way.
 */

/** Six zones: whole-hour offsets with and without DST, and three that are not whole hours (+5:30, +5:45, +8:45). */
export const EXACTNESS_ZONES = [
  "UTC",
  "Europe/Berlin",
  "America/New_York",
  "Asia/Kolkata",
  "Asia/Kathmandu",
  "Australia/Eucla",
] as const;
export const EXACTNESS_GROUPINGS = ["influencer", "campaign", "merchant", "day", "week", "month"] as const;

/**
 * Status filters checked on top of the groupings (whose rows already carry every status column, held and payable
 * apart): the held/payable split alone, and every other status.
 */
const STATUS_SETS = [
  ["influencer", "payable"],
  ["influencer", "approved"],
  ["day", "pending,review,paid,rejected,reversed"],
] as const;

export type ExactnessOptions = {
  /** base URL of the reports service */
  base: string;
  /** a finance (or admin) bearer key: sees every figure */
  key: string;
  /** period, as the API takes it: YYYY-MM-DD (local midnight in each zone) or ISO date-time */
  from: string;
  to: string;
  /** an explicit `as_of` (ISO): both paths then count the same entries, and a second call answers the same */
  asOf: string;
  zones?: readonly string[];
  groupings?: readonly string[];
  /** json: pages of up to 10,000 rows (followed to the end); csv: every row in one streamed answer */
  format?: "json" | "csv";
  /** also compare payouts over the whole ledger at `asOf` */
  payouts?: boolean;
  /** extra query-string filters added to every commission report (e.g. "merchant_id=2") */
  filter?: string;
};

export type ExactnessResult = {
  /** reports compared (each read from both paths) */
  compared: number;
  /** reports whose two answers differ, with the first differing line */
  mismatches: string[];
  /** reports the aggregates did not answer (X-Report-Source was not `aggregate`): comparing them proves nothing */
  notAggregate: string[];
  /** failed requests (status not 200), with the answer */
  failures: string[];
  /** the aggregate path's answer to every report, by request path: for byte comparisons across time (a replay) */
  bodies: Map<string, string>;
  exact: boolean;
};

/** Every report path to compare: each zone x grouping, plus the status filters (by influencer and by day). */
export function exactnessReports(o: ExactnessOptions): string[] {
  const format = o.format ?? "json";
  const page = format === "json" ? "&limit=10000" : "";
  const filter = o.filter ? `&${o.filter}` : "";
  const paths: string[] = [];
  for (const tz of o.zones ?? EXACTNESS_ZONES) {
    const period = `from=${enc(o.from)}&to=${enc(o.to)}&tz=${enc(tz)}&as_of=${enc(o.asOf)}&format=${format}${page}${filter}`;
    for (const g of o.groupings ?? EXACTNESS_GROUPINGS) paths.push(`/v1/reports/commissions?${period}&group_by=${g}`);
    for (const [g, statuses] of STATUS_SETS)
      paths.push(`/v1/reports/commissions?${period}&group_by=${g}&status=${statuses}`);
  }
  if (o.payouts) {
    paths.push(`/v1/reports/payouts?as_of=${enc(o.asOf)}`);
    paths.push(`/v1/reports/payouts?as_of=${enc(o.asOf)}&format=csv`);
  }
  return paths;
}

const enc = encodeURIComponent;

type Answer = { status: number; source: string | null; text: string };

/** A request that fails before an answer (refused, or past fetch's 300 s header timeout) is status 0. */
async function fetchAnswer(base: string, key: string, path: string): Promise<Answer> {
  try {
    const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${key}` } });
    return { status: res.status, source: res.headers.get("x-report-source"), text: await res.text() };
  } catch (err) {
    return { status: 0, source: null, text: String(err) };
  }
}

/** One report's whole answer: JSON pages are followed through `next_offset` and concatenated. */
async function wholeAnswer(base: string, key: string, path: string): Promise<Answer> {
  const first = await fetchAnswer(base, key, path);
  let answer = first;
  let text = first.text;
  while (answer.status === 200 && path.includes("format=json")) {
    const next = (JSON.parse(answer.text) as { next_offset?: number | null }).next_offset;
    if (next === null || next === undefined) break;
    answer = await fetchAnswer(base, key, `${path}&offset=${next}`);
    text += `\n${answer.text}`;
  }
  return { status: answer.status, source: first.source, text };
}

/** The first line (or 200-character window) where two answers differ, for the failure message. */
function firstDifference(a: string, b: string): string {
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  return `at ${i}: aggregate ${JSON.stringify(a.slice(i, i + 120))} / ledger ${JSON.stringify(b.slice(i, i + 120))}`;
}

/**
 * Reads every report of `exactnessReports` from the aggregates and from the ledger (`source=ledger`) and compares the
 * answers byte for byte. Reports are read one at a time: the ledger path is the slow one and the check must not
 * change the timings it runs after.
 */
export async function compareReportSources(o: ExactnessOptions): Promise<ExactnessResult> {
  const result: ExactnessResult = {
    compared: 0,
    mismatches: [],
    notAggregate: [],
    failures: [],
    bodies: new Map(),
    exact: false,
  };
  for (const path of exactnessReports(o)) {
    const agg = await wholeAnswer(o.base, o.key, path);
    const ledger = await wholeAnswer(o.base, o.key, `${path}&source=ledger`);
    result.compared++;
    result.bodies.set(path, agg.text);
    if (agg.status !== 200 || ledger.status !== 200) {
      result.failures.push(`${path}: ${agg.status} ${agg.text.slice(0, 200)} / ledger ${ledger.status}`);
      continue;
    }
    if (agg.source !== "aggregate") result.notAggregate.push(`${path}: ${agg.source}`);
    if (ledger.source !== "ledger") result.failures.push(`${path}: ledger read answered by ${ledger.source}`);
    if (agg.text !== ledger.text) result.mismatches.push(`${path}: ${firstDifference(agg.text, ledger.text)}`);
  }
  result.exact =
    result.compared > 0 &&
    result.mismatches.length === 0 &&
    result.notAggregate.length === 0 &&
    result.failures.length === 0;
  return result;
}

/** The paths whose answers differ between two runs of `compareReportSources` (e.g. before and after a replay). */
export function changedBodies(before: ExactnessResult, after: ExactnessResult): string[] {
  const changed = [...before.bodies].filter(([path, text]) => after.bodies.get(path) !== text).map(([path]) => path);
  return before.bodies.size === after.bodies.size ? changed : [...changed, "(different report sets)"];
}
