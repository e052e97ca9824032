// npm run bench:scorecards [-- --rows 10000000 --influencers 20000 --clicks 1000000 --runs 15]
// Seeds ROWS ledger rows (two per conversion, so ROWS/2 conversions) and CLICKS clicks over one year with
// INSERT ... SELECT FROM numbers() inside ClickHouse, creates the influencers (with niche profiles), merchants and
// campaigns (with target niches) in the catalog, starts the reports service as a child process, then times a niche
// ranking over the year over HTTP against a bare aggregate over the same ledger rows in the same run.
// Prints p50/p99; the last line is one JSON object.
import { parseArgs } from "node:util";
import { CampaignInput, Catalog, createRedis, Listings, NICHES, Profiles } from "@aff/catalog";
import { createClickHouse, ensureDatabase, migrate, raw, sql } from "@aff/clickhouse";
import { readStackEnv, startService } from "@aff/testing";
import { z } from "zod";

const { values: args } = parseArgs({
  options: {
    rows: { type: "string", default: "10000000" },
    influencers: { type: "string", default: "20000" },
    clicks: { type: "string", default: "" },
    runs: { type: "string", default: "15" },
    niche: { type: "string", default: "gaming" },
  },
});
const ROWS = Number(args.rows);
const INFLUENCERS = Number(args.influencers);
const CLICKS = args.clicks === "" ? Math.floor(ROWS / 10) : Number(args.clicks);
const RUNS = Number(args.runs);
const CAMPAIGNS = 200;
const MERCHANTS = 20;
const stackEnv = readStackEnv();
const url = process.env.CLICKHOUSE_URL ?? stackEnv.CLICKHOUSE_URL ?? "http://127.0.0.1:18123";
const redisUrl = process.env.REDIS_URL ?? stackEnv.REDIS_URL ?? "redis://127.0.0.1:16379/0";
const database = "bench_scorecards";
const PREFIX = "bench_scorecards:";
const KEY = "bench-scorecards-finance-key-0123456789";
const CHUNK = 1_000_000;
const NICHE_IDS = Object.keys(NICHES);
const log = (...a) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...a);

/** One year of data ending at END; the ranking asks for exactly this year. */
const END = Date.UTC(2026, 0, 1) / 1000;
const SPAN = 365 * 86400;
const START = END - SPAN;

async function exec(statement) {
  const res = await fetch(`${url}/?database=${database}`, { method: "POST", body: statement.text });
  if (!res.ok) throw new Error(`ClickHouse ${res.status}: ${await res.text()}`);
}

// Conversion c: influencer (c * 7919) % I + 1, on one of five campaigns of that influencer, sold at a spread time.
const influencerOf = (c) => `(${c} * 7919 % ${INFLUENCERS} + 1)`;
const campaignOf = (c) => `(((intDiv(${c}, ${INFLUENCERS}) % 5) * 40 + ${influencerOf(c)} % 40) % ${CAMPAIGNS} + 1)`;
const merchantOf = (c) => `((${campaignOf(c)} - 1) % ${MERCHANTS} + 1)`;
const saleTime = (c) => `toDateTime(${START} + (${c} * 104729) % ${SPAN}, 'UTC')`;

async function seedClickHouse(ch) {
  const count = async (table) =>
    (await ch.query("count", sql`SELECT count() AS n FROM ${raw(table)}`, z.object({ n: z.coerce.number() })))[0]?.n ??
    0;
  if (
    (await count("commission_ledger_v1")) === ROWS &&
    (await count("conversions_v1")) === ROWS / 2 &&
    (await count("clicks_raw_v1")) === CLICKS
  )
    return log(`reusing ${ROWS} ledger rows in ${database}`);
  for (const t of ["commission_ledger_v1", "conversions_v1", "clicks_raw_v1"]) await exec(raw(`TRUNCATE TABLE ${t}`));
  log(`seeding ${ROWS} ledger rows, ${ROWS / 2} conversions, ${CLICKS} clicks`);
  const t0 = performance.now();
  const c = "intDiv(number, 2)";
  for (let off = 0; off < ROWS; off += CHUNK) {
    // entry 2c: the sale (pending); entry 2c+1: approve, reject or refund by c % 10 (0-5, 6-7, 8; 9 stays pending)
    await exec(
      raw(`INSERT INTO commission_ledger_v1
      SELECT hex(MD5(toString(number))), hex(MD5(concat('e', toString(number)))), hex(MD5(concat('c', toString(${c})))),
        ${merchantOf(c)}, ${campaignOf(c)}, ${influencerOf(c)},
        number % 2 = 0 ? 'sale' : ['approve', 'approve', 'approve', 'approve', 'approve', 'approve', 'reject', 'reject', 'refund', 'adjust'][${c} % 10 + 1],
        number % 2 = 0 ? 'pending' : ['approved', 'approved', 'approved', 'approved', 'approved', 'approved', 'rejected', 'rejected', 'reversed', 'pending'][${c} % 10 + 1],
        toInt64(1000 + ${c} % 50000), ['USD', 'EUR', 'GBP'][${campaignOf(c)} % 3 + 1],
        toInt64(100 + ${c} % 5000), ['USD', 'EUR', 'GBP'][${campaignOf(c)} % 3 + 1],
        ${saleTime(c)} + (number % 2) * 86400, ${saleTime(c)} + (number % 2) * 86400 * 31, ${saleTime(c)}, toUInt64(1)
      FROM numbers(${off}, ${Math.min(CHUNK, ROWS - off)})`),
    );
    log(`  ledger ${Math.min(ROWS, off + CHUNK)}`);
  }
  for (let off = 0; off < ROWS / 2; off += CHUNK) {
    const n = "number";
    await exec(
      raw(`INSERT INTO conversions_v1
      SELECT hex(MD5(concat('c', toString(${n})))), ${merchantOf(n)}, concat('O', toString(${n})), ${campaignOf(n)}, ${influencerOf(n)},
        toUInt32(${influencerOf(n)} * 5 + ${n} % 5), '', ${n} % 10 = 3 ? 'coupon' : 'click', toUInt8(${n} % 50 = 0),
        ['approved', 'approved', 'approved', 'approved', 'approved', 'approved', 'rejected', 'rejected', 'refunded', 'pending'][${n} % 10 + 1],
        toInt64(1000 + ${n} % 50000), ['USD', 'EUR', 'GBP'][${campaignOf(n)} % 3 + 1], toInt64(100 + ${n} % 5000),
        ['USD', 'EUR', 'GBP'][${campaignOf(n)} % 3 + 1], ${saleTime(n)}, toUInt64(1)
      FROM numbers(${off}, ${Math.min(CHUNK, ROWS / 2 - off)})`),
    );
  }
  for (let off = 0; off < CLICKS; off += CHUNK) {
    // click k belongs to conversion k % (ROWS/2)'s influencer and campaign, within an hour before that sale
    const k = "number";
    const cv = `(${k} % ${ROWS / 2})`;
    await exec(
      raw(`INSERT INTO clicks_raw_v1
      SELECT hex(MD5(concat('k', toString(${k})))), toUInt32(${influencerOf(cv)} * 5 + ${cv} % 5), 'code', ${campaignOf(cv)},
        ${influencerOf(cv)}, ${merchantOf(cv)}, ${saleTime(cv)} - ${k} % 3600, toUInt64(toUInt32(${saleTime(cv)}) - ${k} % 3600) * 1000,
        concat('10.', toString(${k} % 250), '.', toString(intDiv(${k}, 250) % 250), '.0'), 'Mozilla/5.0', '',
        toUInt8(${k} % 13 = 0), toUInt8(1), toUInt64(1)
      FROM numbers(${off}, ${Math.min(CHUNK, CLICKS - off)})`),
    );
  }
  log(`seeded in ${((performance.now() - t0) / 1000).toFixed(1)} s; merging parts (OPTIMIZE FINAL)`);
  for (const t of ["commission_ledger_v1", "conversions_v1", "clicks_raw_v1"])
    await exec(raw(`OPTIMIZE TABLE ${t} FINAL`));
}

/** Merchants, campaigns (one niche each, round robin) and influencers (one or two niches) with ids 1..n. */
async function seedCatalog(catalog) {
  const done = await catalog.redis.get(`${PREFIX}seq:influencer`);
  if (Number(done) === INFLUENCERS && Number(await catalog.redis.get(`${PREFIX}seq:campaign`)) === CAMPAIGNS)
    return log("reusing the catalog");
  let cursor = "0";
  do {
    const [next, keys] = await catalog.redis.scan(cursor, "MATCH", `${PREFIX}*`, "COUNT", 1000);
    if (keys.length) await catalog.redis.del(...keys);
    cursor = next;
  } while (cursor !== "0");
  for (let m = 1; m <= MERCHANTS; m++) await catalog.createMerchant({ name: `Merchant ${m}` });
  const listings = new Listings(catalog.redis, catalog.prefix);
  for (let j = 1; j <= CAMPAIGNS; j++) {
    const campaign = await catalog.createCampaign(
      CampaignInput.parse({
        merchant_id: ((j - 1) % MERCHANTS) + 1,
        name: `Campaign ${j}`,
        commission: { type: "bps", bps: 1000 },
        currency: ["USD", "EUR", "GBP"][j % 3],
        allowed_domains: ["shop.example.com"],
        default_destination: "https://shop.example.com/",
      }),
    );
    await listings.put(campaign.id, campaign.merchant_id, {
      target_niches: [NICHE_IDS[j % NICHE_IDS.length]],
      open: true,
      brief: "",
    });
  }
  const profiles = [];
  for (let i = 1; i <= INFLUENCERS; i++) {
    await catalog.createInfluencer({ name: `Influencer ${i}` });
    const niches = [...new Set([NICHE_IDS[i % NICHE_IDS.length], NICHE_IDS[(i * 3) % NICHE_IDS.length]])];
    profiles.push({
      influencer_id: i,
      niches,
      bio: "",
      platforms: [
        { platform: "instagram", handle: `i${i}`, audience_size: (i * 7919) % 400_000, audience_verified: false },
      ],
      updated_at_ms: 0,
    });
  }
  await new Profiles(catalog.redis, catalog.prefix).putMany(profiles);
  log(`catalog: ${MERCHANTS} merchants, ${CAMPAIGNS} campaigns, ${INFLUENCERS} influencers`);
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
async function time(fn, runs) {
  await fn();
  const ms = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
  }
  return { p50: pct(ms, 50), p99: pct(ms, 99) };
}

async function main() {
  await ensureDatabase({ url }, database);
  const ch = createClickHouse({ url, database });
  await migrate(ch);
  const redis = createRedis(redisUrl);
  const catalog = new Catalog(redis, PREFIX);
  await seedCatalog(catalog);
  await seedClickHouse(ch);
  const listings = new Listings(redis, PREFIX);
  const nicheCampaigns = await listings.inNiche(args.niche);
  const candidates = (await new Profiles(redis, PREFIX).inNiche(args.niche)).length;
  const service = await startService("reports", {
    env: {
      CLICKHOUSE_URL: url,
      CLICKHOUSE_DATABASE: database,
      REDIS_URL: redisUrl,
      REDIS_PREFIX: PREFIX,
      PORT: "0",
      OPS_PORT: "0",
      // info: the ready line the spawn helper waits for is an info line
      LOG_LEVEL: "info",
      REPORTS_API_KEY: KEY,
    },
  });
  try {
    const to = new Date(END * 1000).toISOString().slice(0, 10);
    const path = `/v1/influencers/rankings?niche=${args.niche}&metric=conversion_rate&period=365d&to=${to}&limit=50`;
    let rows = 0;
    const ranking = await time(async () => {
      const res = await fetch(`${service.url}${path}`, { headers: { authorization: `Bearer ${KEY}` } });
      if (res.status !== 200) throw new Error(`${res.status} ${await res.text()}`);
      rows = (await res.json()).rows.length;
    }, RUNS);
    const bare = sql`SELECT influencer_id, count() AS n, sum(commission_minor) AS s FROM commission_ledger_v1
      WHERE event_time >= toDateTime(${START}, 'UTC') AND event_time < toDateTime(${END}, 'UTC')
        AND campaign_id IN (${raw(nicheCampaigns.join(", ") || "0")}) GROUP BY influencer_id`;
    const baseline = await time(() => ch.query("baseline", bare, z.unknown()), RUNS);
    log(
      `niche ranking over a year (${args.niche}: ${candidates} candidates, ${nicheCampaigns.length} campaigns, ${rows} rows shown): p50 ${ranking.p50.toFixed(1)} ms, p99 ${ranking.p99.toFixed(1)} ms | bare aggregate p50 ${baseline.p50.toFixed(1)} ms, p99 ${baseline.p99.toFixed(1)} ms`,
    );
    console.log(
      JSON.stringify({
        p50_ms: Number(ranking.p50.toFixed(1)),
        p99_ms: Number(ranking.p99.toFixed(1)),
        baseline_p50_ms: Number(baseline.p50.toFixed(1)),
        baseline_p99_ms: Number(baseline.p99.toFixed(1)),
        ratio: Number((ranking.p50 / baseline.p50).toFixed(2)),
        influencers: INFLUENCERS,
        candidates,
        ledger_rows: ROWS,
        conversions: ROWS / 2,
        clicks: CLICKS,
        runs: RUNS,
      }),
    );
  } finally {
    await service.stop();
    await ch.close();
    redis.disconnect();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
