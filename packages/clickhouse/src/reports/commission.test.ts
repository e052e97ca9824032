import { describe, expect, it } from "vitest";
import type { Querier } from "../client";
import { commissionReportSql, getCommissionReport, monthCuts, streamCommissionReport } from "./commission";
import { getPayableLines } from "./payouts";

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number[]) => ms.map((m) => new Date(m).toISOString());

describe("monthCuts", () => {
  it("cuts a period at every UTC month start inside it, keeping its ends", () => {
    expect(iso(monthCuts(at("2026-01-15T10:00:00Z"), at("2026-03-02T00:00:00Z")))).toEqual([
      "2026-01-15T10:00:00.000Z",
      "2026-02-01T00:00:00.000Z",
      "2026-03-01T00:00:00.000Z",
      "2026-03-02T00:00:00.000Z",
    ]);
  });

  it("leaves a period inside one month whole, and does not cut at its own ends", () => {
    expect(monthCuts(at("2026-02-01T00:00:00Z"), at("2026-03-01T00:00:00Z"))).toEqual([
      at("2026-02-01T00:00:00Z"),
      at("2026-03-01T00:00:00Z"),
    ]);
    // a local month in Berlin starts on the last UTC day of the month before
    expect(monthCuts(at("2026-01-31T23:00:00Z"), at("2026-02-28T23:00:00Z")).length).toBe(3);
  });

  it("gives 14 months to a 400-day period across a year end", () => {
    const cuts = monthCuts(at("2025-12-20T00:00:00Z"), at("2027-01-24T00:00:00Z"));
    expect(cuts.length - 1).toBe(14);
    expect(new Set(cuts).size).toBe(cuts.length);
  });
});

describe("the ledger path of a commission report", () => {
  const q = {
    timeZone: "UTC",
    asOfMs: at("2026-06-01T00:00:00Z"),
    groupBy: "influencer" as const,
    sort: "key" as const,
    order: "asc" as const,
    offset: 0,
    source: "ledger" as const,
  };
  it("reads one FINAL per UTC month over a long period, each bounded to its month", () => {
    const text = commissionReportSql({
      ...q,
      fromMs: at("2026-01-01T00:00:00Z"),
      toMs: at("2026-04-01T00:00:00Z"),
    }).text;
    expect(text.match(/FINAL/g)?.length).toBe(3 + 2); // three months, plus the clicks and flags subqueries
    expect(text).toContain("UNION ALL");
    expect(text).toContain(`event_time >= toDateTime(${at("2026-02-01T00:00:00Z") / 1000}, 'UTC')`);
  });

  it("reads a period inside one month with a single FINAL", () => {
    const text = commissionReportSql({
      ...q,
      fromMs: at("2026-02-01T00:00:00Z"),
      toMs: at("2026-03-01T00:00:00Z"),
    }).text;
    expect(text).not.toContain("UNION ALL");
  });
});

/** A Querier that answers no rows and remembers the names of the queries it ran. */
function recording() {
  const names: string[] = [];
  const q: Querier = {
    query: async (name) => {
      names.push(name);
      return [];
    },
    async *stream(name) {
      names.push(name);
      yield* [];
    },
    exec: async (name) => {
      names.push(name);
    },
  };
  return { q, names };
}

describe("which client runs a report", () => {
  const q = {
    fromMs: at("2026-01-01T00:00:00Z"),
    toMs: at("2026-04-01T00:00:00Z"),
    timeZone: "Asia/Kolkata",
    asOfMs: at("2026-06-01T00:00:00Z"),
    groupBy: "day" as const,
    sort: "key" as const,
    order: "asc" as const,
    offset: 0,
  };
  it("sends the ledger path to the ledger client (long timeout) and the aggregates to the main one", async () => {
    const main = recording();
    const ledger = recording();
    expect((await getCommissionReport(main.q, ledger.q)({ ...q, source: "ledger" })).source).toBe("ledger");
    expect((await getCommissionReport(main.q, ledger.q)(q)).source).toBe("aggregate");
    const streamed = await streamCommissionReport(main.q, ledger.q)({ ...q, source: "ledger" });
    for await (const _ of streamed.rows);
    // a past as_of: the planner's clock check runs on the main client, the report it sends to the ledger one
    await getPayableLines(main.q, ledger.q)({ asOfMs: q.asOfMs, source: "ledger" });
    await getPayableLines(main.q, ledger.q)({ asOfMs: q.asOfMs });
    expect(main.names).toEqual(["commission_report_aggregate", "payable_lines_aggregate"]);
    expect(ledger.names).toEqual([
      "commission_report_ledger",
      "commission_report_stream_ledger",
      "payable_lines_ledger",
    ]);
  });
});
