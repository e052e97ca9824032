import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createTestWorld, type TestWorld } from "../../packages/testing/src";
import { startReports } from "../../services/reports/src/app";
import { loadConfig } from "../../services/reports/src/config";
import { BOOTSTRAP_FINANCE_KEY, get, seedFixture, startReportsOnly } from "./reports-helpers";

/** Roles (401/403 for each role and endpoint) and hostile input on every filter (400 naming the field, never 500). */
let world: TestWorld;
let base: string;
const keys: Record<"admin" | "finance" | "merchant" | "influencer", string> = {
  admin: "",
  finance: "",
  merchant: "",
  influencer: "",
};

beforeAll(async () => {
  world = await createTestWorld(inject("stack"), "reports_access");
  base = await startReportsOnly(world);
  await seedFixture(world);
  keys.admin = (await world.catalog.apiKeys.create({ role: "admin", name: "ops" })).key;
  keys.finance = (await world.catalog.apiKeys.create({ role: "finance", name: "books" })).key;
  keys.merchant = (await world.catalog.apiKeys.create({ role: "merchant", name: "shop", merchant_id: 1 })).key;
  keys.influencer = (await world.catalog.apiKeys.create({ role: "influencer", name: "ada", influencer_id: 101 })).key;
});
afterAll(() => world?.close());

const P = "from=2026-03-01&to=2026-05-01&as_of=2026-05-01T00:00:00Z";
const READS = [
  `/v1/reports/commissions?${P}`,
  `/v1/reports/statements?${P}`,
  "/v1/reports/payouts?as_of=2026-05-01T00:00:00Z",
];
const put = (key: string | undefined, campaign = "10", body: unknown = { min_payout_minor: 100 }) =>
  fetch(`${base}/v1/payout-thresholds/${campaign}`, {
    method: "PUT",
    headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify(body),
  });
const influencersOf = (rows: { influencer_id: number }[]) => [...new Set(rows.map((r) => r.influencer_id))].sort();

describe("access by role", () => {
  it("answers 401 without a key or with an unknown or revoked key, on every endpoint", async () => {
    const revoked = (await world.catalog.apiKeys.create({ role: "finance", name: "gone" })).key;
    await world.catalog.apiKeys.revoke(revoked);
    for (const path of READS) {
      for (const key of [null, "", "ak_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "' OR 1=1 --", revoked])
        expect((await get(base, path, key)).status, `${path} ${key}`).toBe(401);
    }
    expect((await put(undefined)).status).toBe(401);
    expect((await put(revoked)).status).toBe(401);
  });

  it("lets admin and finance see every figure and set thresholds", async () => {
    for (const key of [keys.admin, keys.finance]) {
      expect(influencersOf((await get(base, READS[0] ?? "", key)).body.rows)).toEqual([100, 101, 102]);
      expect(influencersOf((await get(base, READS[1] ?? "", key)).body.lines)).toEqual([100, 101]);
      expect(influencersOf((await get(base, READS[2] ?? "", key)).body.rows)).toEqual([100, 101]);
      expect((await put(key)).status).toBe(200);
    }
  });

  it("shows a merchant key only its own merchant's rows and refuses another merchant with 403", async () => {
    const k = keys.merchant;
    const report = await get(base, `${READS[0]}&group_by=merchant`, k);
    expect(report.body.rows.map((r: { merchant_id: number }) => r.merchant_id)).toEqual([1]);
    expect(influencersOf((await get(base, READS[1] ?? "", k)).body.lines)).toEqual([100]);
    expect(influencersOf((await get(base, READS[2] ?? "", k)).body.rows)).toEqual([100]);
    for (const path of READS) {
      const r = await get(base, `${path}&merchant_id=2`, k);
      expect(r.status).toBe(403);
      expect(r.body.issues[0].path).toBe("merchant_id");
    }
    expect((await put(k)).status).toBe(403);
  });

  it("shows an influencer key only its own figures and refuses anyone else's with 403", async () => {
    const k = keys.influencer;
    expect(influencersOf((await get(base, READS[0] ?? "", k)).body.rows)).toEqual([101]);
    expect(influencersOf((await get(base, READS[1] ?? "", k)).body.lines)).toEqual([101]);
    expect(influencersOf((await get(base, READS[2] ?? "", k)).body.rows)).toEqual([101]);
    for (const path of READS) {
      const r = await get(base, `${path}&influencer_id=100`, k);
      expect(r.status).toBe(403);
      expect(r.body.issues[0].path).toBe("influencer_id");
      expect((await get(base, `${path}&influencer_id=101`, k)).status).toBe(200);
    }
    expect((await put(k)).status).toBe(403);
  });
});

const issuePaths = (body: { issues?: { path: string }[] }) => (body.issues ?? []).map((i) => i.path);

describe("bad input", () => {
  it("answers 400 naming the field for unknown fields, bad dates, inverted or too long ranges, unknown zones", async () => {
    const cases: [string, string][] = [
      [`${P}&colour=red`, ""],
      ["from=2026-02-30&to=2026-03-10", "from"],
      ["from=2026-03-10&to=yesterday", "to"],
      ["from=2026-03-10&to=2026-03-01", "to"],
      ["from=2020-01-01&to=2026-03-01", "to"],
      [`${P}&tz=Mars/Olympus`, "tz"],
      [`${P}&group_by=hour`, "group_by"],
      [`${P}&status=pending,settled`, "status"],
      [`${P}&currency=usd`, "currency"],
      [`${P}&merchant_id=-1`, "merchant_id"],
      [`${P}&limit=0`, "limit"],
      [`${P}&limit=10&limit=20`, "limit"],
      ["to=2026-03-01", "from"],
    ];
    for (const [query, field] of cases) {
      const r = await get(base, `/v1/reports/commissions?${query}`);
      expect(r.status, query).toBe(400);
      expect(r.body.error).toBe("validation_failed");
      if (field) expect(issuePaths(r.body), query).toContain(field);
      else expect(r.body.issues[0].code).toBe("unrecognized_keys");
    }
    const body = await put(keys.finance, "10", { min_payout_minor: -5 });
    expect(body.status).toBe(400);
    expect(issuePaths((await body.json()) as { issues: { path: string }[] })).toEqual(["min_payout_minor"]);
    expect((await put(keys.finance, "abc")).status).toBe(400);
  });

  it("never answers 500 to hostile strings in any filter (fuzzed)", async () => {
    const hostile = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.constantFrom(
        "' OR 1=1 --",
        "'; DROP TABLE commission_ledger_v1; --",
        "\\'",
        "\\",
        "UTC') --",
        "1 UNION SELECT 1",
        "%00",
        "\u0000",
        "2026-01-01' --",
        "Europe/Berlin'",
      ),
    );
    const fields = [
      "from",
      "to",
      "tz",
      "merchant_id",
      "campaign_id",
      "influencer_id",
      "currency",
      "status",
      "as_of",
      "group_by",
      "sort",
      "order",
      "format",
      "limit",
      "offset",
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...fields),
        hostile,
        fc.constantFrom("commissions", "statements"),
        async (field, value, report) => {
          const q = new URLSearchParams({ from: "2026-03-01", to: "2026-05-01" });
          q.set(field, value);
          if (report === "statements" && ["group_by", "sort", "order"].includes(field)) return;
          const r = await get(base, `/v1/reports/${report}?${q}`);
          expect([200, 400]).toContain(r.status);
          if (r.status === 400) expect(issuePaths(r.body)).toContain(field);
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe("OpenAPI", () => {
  it("serves a document generated from the zod schemas", async () => {
    const r = await get(base, "/openapi.json", null);
    expect(r.status).toBe(200);
    expect(r.body.openapi).toBe("3.0.3");
    const params = r.body.paths["/v1/reports/commissions"].get.parameters.map((p: { name: string }) => p.name);
    expect(params).toEqual(
      expect.arrayContaining([
        "from",
        "to",
        "tz",
        "group_by",
        "status",
        "currency",
        "merchant_id",
        "campaign_id",
        "influencer_id",
        "sort",
        "order",
        "limit",
        "offset",
        "format",
      ]),
    );
    const groupBy = r.body.paths["/v1/reports/commissions"].get.parameters.find(
      (p: { name: string }) => p.name === "group_by",
    );
    expect(groupBy.schema.enum).toEqual(["influencer", "campaign", "merchant", "day", "week", "month"]);
  });
});

describe("ClickHouse unavailable", () => {
  it("answers 503 (retry), not 500, when the store cannot be reached", async () => {
    const env = { ...world.env, CLICKHOUSE_URL: "http://127.0.0.1:9", REPORTS_API_KEY: BOOTSTRAP_FINANCE_KEY };
    const down = await startReports(loadConfig(env), {
      log: world.log,
      lifecycle: world.lifecycle,
      catalog: world.catalog,
    });
    const r = await get(`http://127.0.0.1:${down.server.port}`, `/v1/reports/commissions?${P}`);
    expect(r.status).toBe(503);
    expect(r.body.error).toBe("reports_unavailable");
    const csv = await get(`http://127.0.0.1:${down.server.port}`, `/v1/reports/statements?${P}&format=csv`);
    expect(csv.status).toBe(503);
  });
});
