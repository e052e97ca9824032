// npm run seed:demo -- --conversions N [--days 90] [--influencers 400] [--seed 1]
// Fills a realistic demo dataset: merchants, campaigns (with target niches), influencers (with profiles: niches,
// platforms, audiences) are created through the catalog, so their ids are real and never handed out again to other
// entities; then the ledger tables (commission_ledger_v1, conversions_v1, clicks_raw_v1) get their history: campaigns
// in USD/EUR/GBP/JPY, orders in other currencies (FX), sales approved, rejected or refunded in part or whole, clicks
// with bots. Influencers differ the way a brand would see it: strong converters, bot-heavy traffic, refund-heavy
// audiences, and the ordinary middle. The entities are remembered in the catalog ({prefix}demo:entities), so a rerun
// with the same options writes the same rows on the same ids.
import { parseArgs } from "node:util";
import { CampaignInput, connectCatalog, Listings, NICHES, Profiles } from "@aff/catalog";
import {
  createClickHouse,
  ensureDatabase,
  insertConversions,
  insertLedgerEntries,
  migrate,
  rebuildAllAggregates,
  toDateTimeText,
} from "@aff/clickhouse";
import { applyBasisPoints, createLogger, currencyExponent, deterministicId, Lifecycle } from "@aff/common";
import { readStackEnv } from "@aff/testing";
import cliProgress from "cli-progress";

const { values: args } = parseArgs({
  options: {
    conversions: { type: "string", default: "10000" },
    days: { type: "string", default: "90" },
    influencers: { type: "string", default: "400" },
    seed: { type: "string", default: "1" },
  },
});
const N = Number(args.conversions);
const DAYS = Number(args.days);
const INFLUENCERS = Number(args.influencers);
if (
  !Number.isInteger(N) ||
  N < 1 ||
  !Number.isInteger(DAYS) ||
  DAYS < 1 ||
  !Number.isInteger(INFLUENCERS) ||
  INFLUENCERS < 1
) {
  console.error("usage: npm run seed:demo -- --conversions N [--days D] [--influencers I] [--seed S]");
  process.exit(2);
}

const stackEnv = readStackEnv();
const url = process.env.CLICKHOUSE_URL ?? stackEnv.CLICKHOUSE_URL ?? "http://127.0.0.1:18123";
const database = process.env.CLICKHOUSE_DATABASE ?? "aff";
const redisUrl = process.env.REDIS_URL ?? stackEnv.REDIS_URL ?? "redis://127.0.0.1:16379/0";
const redisPrefix = process.env.REDIS_PREFIX ?? "aff:";

/** mulberry32: a small seeded PRNG so a given --seed always yields the same dataset */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rnd = prng(Number(args.seed));
const pick = (xs) => xs[Math.floor(rnd() * xs.length)];

/** demo FX: units of USD per unit of currency */
const USD_PER = { USD: 1, EUR: 1.08, GBP: 1.27, JPY: 0.0067, CAD: 0.73 };
function convert(minor, from, to) {
  const major = minor / 10 ** currencyExponent(from);
  return Math.round(((major * USD_PER[from]) / USD_PER[to]) * 10 ** currencyExponent(to));
}

const SETTLEMENT = ["USD", "EUR", "GBP", "JPY"];
const NICHE_IDS = Object.keys(NICHES);
const BRANDS = ["Lumen Beauty", "Trailhead Outdoor", "Pixel Arcade", "FitFuel", "Little Sprouts", "Nimbus Tech"];
const FIRST = ["Maya", "Leo", "Aisha", "Jonas", "Priya", "Tom", "Sofia", "Kenji", "Lena", "Omar", "Chloe", "Mateo"];
const LAST = ["Chen", "Okafor", "Silva", "Berg", "Novak", "Rossi", "Haddad", "Kim", "Larsen", "Moreau", "Diaz", "Ito"];
/**
 * How an influencer's audience behaves: clicks per sale, bot share, chance a decided sale is rejected or refunded,
 * chance a sale is suspect. Shares of the population: 15 % strong, 10 % bot-heavy, 10 % refund-heavy, the rest middle.
 */
const PROFILES = {
  strong: { clicks: [8, 18], bots: 0.03, reject: 0.08, refund: 0.04, suspect: 0.005 },
  middle: { clicks: [20, 60], bots: 0.08, reject: 0.17, refund: 0.12, suspect: 0.02 },
  bot_heavy: { clicks: [40, 120], bots: 0.45, reject: 0.3, refund: 0.1, suspect: 0.15 },
  refund_heavy: { clicks: [15, 40], bots: 0.06, reject: 0.2, refund: 0.45, suspect: 0.02 },
};
const kindOf = (r) => (r < 0.15 ? "strong" : r < 0.25 ? "bot_heavy" : r < 0.35 ? "refund_heavy" : "middle");
/** Followers: mostly micro, some nano and mid, a few macro. */
const audienceOf = (r) =>
  Math.round(
    r < 0.2
      ? 1_000 + r * 40_000
      : r < 0.8
        ? 10_000 * 10 ** ((r - 0.2) / 0.6)
        : r < 0.97
          ? 100_000 + (r - 0.8) * 2_000_000
          : 500_000 + (r - 0.97) * 40_000_000,
  );

/** Creates the demo's merchants, campaigns and influencers in the catalog once; later runs reuse them. */
async function demoEntities(catalog) {
  const key = `${catalog.prefix}demo:entities:${args.seed}:${INFLUENCERS}`;
  const saved = await catalog.redis.get(key);
  if (saved) return JSON.parse(saved);
  const profiles = new Profiles(catalog.redis, catalog.prefix);
  const listings = new Listings(catalog.redis, catalog.prefix);
  const merchants = [];
  for (const name of BRANDS) merchants.push((await catalog.createMerchant({ name })).id);
  const campaigns = [];
  for (let i = 0; i < 24; i++) {
    const c = await catalog.createCampaign(
      CampaignInput.parse({
        merchant_id: merchants[i % 6],
        name: `${BRANDS[i % 6]} ${["spring", "summer", "autumn", "winter"][Math.floor(i / 6)]}`,
        commission: { type: "bps", bps: 500 + ((i * 137) % 1500) },
        currency: SETTLEMENT[i % 4],
        allowed_domains: ["shop.example.com"],
        default_destination: "https://shop.example.com/",
        holding_days: [14, 30, 45][i % 3],
      }),
    );
    const niches = [NICHE_IDS[(i % 6) % NICHE_IDS.length], NICHE_IDS[(i * 5 + 3) % NICHE_IDS.length]];
    await listings.put(c.id, c.merchant_id, { target_niches: [...new Set(niches)], open: i % 3 !== 2, brief: "" });
    campaigns.push({
      id: c.id,
      merchant: c.merchant_id,
      currency: c.currency,
      bps: c.commission.bps,
      holdDays: c.holding_days,
      niches,
    });
  }
  const influencers = [];
  for (let i = 0; i < INFLUENCERS; i++) {
    const name = `${pick(FIRST)} ${pick(LAST)}`;
    const handle = `@${name.toLowerCase().replace(" ", ".")}${i}`;
    const inf = await catalog.createInfluencer({ name, handle });
    const niches = [...new Set([pick(NICHE_IDS), ...(rnd() < 0.4 ? [pick(NICHE_IDS)] : [])])];
    const audience = audienceOf(rnd());
    const platform = pick(["instagram", "tiktok", "youtube", "twitch"]);
    await profiles.put(inf.id, () => ({
      influencer_id: inf.id,
      niches,
      bio: "",
      platforms: [{ platform, handle: handle.slice(1), audience_size: audience, audience_verified: rnd() < 0.5 }],
      updated_at_ms: Date.now(),
    }));
    influencers.push({ id: inf.id, niches, kind: kindOf(rnd()) });
  }
  const entities = { merchants, campaigns, influencers };
  await catalog.redis.set(key, JSON.stringify(entities));
  return entities;
}
let campaigns = [];
let influencers = [];
const DAY = 86_400_000;
const start = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate()) - DAYS * DAY;
const now = Date.now();

function entries(conv, kind, moves, atMs, holdDays) {
  const event = deterministicId("demo-event", conv.conversion_id, kind, atMs);
  return moves.map(([status, orderMinor, commissionMinor]) => ({
    entry_id: deterministicId(event, status),
    event_id: event,
    conversion_id: conv.conversion_id,
    merchant_id: conv.merchant_id,
    campaign_id: conv.campaign_id,
    influencer_id: conv.influencer_id,
    entry_type: kind,
    status,
    order_amount_minor: orderMinor,
    order_currency: conv.order_currency,
    commission_minor: commissionMinor,
    commission_currency: conv.commission_currency,
    event_time: toDateTimeText(atMs),
    payable_at: toDateTimeText(status === "approved" && commissionMinor > 0 ? atMs + holdDays * DAY : atMs),
    recorded_at: toDateTimeText(atMs),
    version: atMs,
  }));
}

/** One conversion and its life: sale (pending), then maybe approved, rejected, and refunds after approval. */
function conversion(i) {
  const who = influencers[Math.floor(rnd() ** 1.7 * influencers.length)]; // a few influencers sell much more than most
  const behaviour = PROFILES[who.kind];
  const mine = campaigns.filter((x) => x.niches.some((n) => who.niches.includes(n)));
  const c = rnd() < 0.85 && mine.length > 0 ? pick(mine) : pick(campaigns);
  const influencer = who.id;
  const orderCurrency = rnd() < 0.7 ? c.currency : pick(Object.keys(USD_PER));
  const orderMinor = Math.round((15 + rnd() * 250) * 10 ** currencyExponent(orderCurrency));
  const saleAt = start + Math.floor(rnd() * DAYS * DAY);
  const commission = applyBasisPoints(convert(orderMinor, orderCurrency, c.currency), c.bps);
  const conv = {
    conversion_id: deterministicId("demo-conversion", c.merchant, i),
    merchant_id: c.merchant,
    campaign_id: c.id,
    influencer_id: influencer,
    order_currency: orderCurrency,
    commission_currency: c.currency,
  };
  const rows = entries(conv, "sale", [["pending", orderMinor, commission]], saleAt, 0);
  let status = "pending";
  let liveOrder = orderMinor;
  let liveCommission = commission;
  const decideAt = saleAt + Math.floor((2 + rnd() * 20) * DAY);
  const roll = rnd();
  if (decideAt < now && roll < 0.83 - behaviour.reject) {
    rows.push(
      ...entries(
        conv,
        "approve",
        [
          ["pending", -orderMinor, -commission],
          ["approved", orderMinor, commission],
        ],
        decideAt,
        c.holdDays,
      ),
    );
    status = "approved";
    const refundAt = decideAt + Math.floor((1 + rnd() * 30) * DAY);
    if (refundAt < now && rnd() < behaviour.refund) {
      const full = rnd() < 0.5;
      const refundOrder = full ? orderMinor : Math.round(orderMinor * (0.2 + rnd() * 0.5));
      const refundCommission = full
        ? commission
        : applyBasisPoints(convert(refundOrder, orderCurrency, c.currency), c.bps);
      rows.push(
        ...entries(
          conv,
          "refund",
          [
            ["approved", -refundOrder, -refundCommission],
            ["reversed", refundOrder, refundCommission],
          ],
          refundAt,
          0,
        ),
      );
      liveOrder -= refundOrder;
      liveCommission -= refundCommission;
      status = "refunded";
    }
  } else if (decideAt < now && roll < 0.83) {
    rows.push(
      ...entries(
        conv,
        "reject",
        [
          ["pending", -orderMinor, -commission],
          ["rejected", orderMinor, commission],
        ],
        decideAt,
        0,
      ),
    );
    status = "rejected";
    liveCommission = 0;
  }
  const row = {
    ...conv,
    order_id: `DEMO-${i}`,
    link_id: influencer * 100 + c.id,
    click_id: "",
    attribution: rnd() < 0.9 ? "click" : "coupon",
    suspect: rnd() < behaviour.suspect ? 1 : 0,
    status,
    order_amount_minor: liveOrder,
    commission_minor: liveCommission,
    occurred_at: toDateTimeText(saleAt),
    version: saleAt,
  };
  return { rows, row, c, influencer, saleAt, behaviour };
}

/** Clicks per sale and bot share by the influencer's behaviour; a few repeated from the same browser within the hour. */
function clicks(i, c, influencer, saleAt, behaviour) {
  const out = [];
  const [lo, hi] = behaviour.clicks;
  const n = lo + Math.floor(rnd() * (hi - lo));
  for (let k = 0; k < n; k++) {
    const at = Math.max(start, saleAt - Math.floor(rnd() * 3 * DAY));
    const bot = rnd() < behaviour.bots;
    out.push({
      click_id: deterministicId("demo-click", i, k),
      link_id: influencer * 100 + c.id,
      link_code: `demo${influencer}x${c.id}`,
      campaign_id: c.id,
      influencer_id: influencer,
      merchant_id: c.merchant,
      clicked_at: toDateTimeText(at),
      clicked_at_ms: at,
      ip: `10.${i % 250}.${k % 4}.0`,
      user_agent: bot ? "facebookexternalhit/1.1" : "Mozilla/5.0 (X11; Linux x86_64) Chrome/120",
      referer: "",
      is_bot: bot ? 1 : 0,
      is_unique: 0,
      version: at,
    });
  }
  return out;
}

async function main() {
  const log = createLogger("seed-demo", "warn");
  const lifecycle = new Lifecycle(log, 5_000);
  const catalog = connectCatalog({ REDIS_URL: redisUrl, REDIS_PREFIX: redisPrefix }, { log, lifecycle });
  const entities = await demoEntities(catalog);
  campaigns = entities.campaigns;
  influencers = entities.influencers;
  await lifecycle.stop("seeded_catalog");
  await ensureDatabase({ url }, database);
  const ch = createClickHouse({ url, database });
  await migrate(ch);
  const bar = new cliProgress.SingleBar(
    { format: "seeding {bar} {percentage}% | {value}/{total} conversions | {ledger} ledger rows | {eta}s left" },
    cliProgress.Presets.shades_classic,
  );
  bar.start(N, 0, { ledger: 0 });
  const BATCH = 5000;
  let ledgerRows = 0;
  for (let from = 0; from < N; from += BATCH) {
    const ledger = [];
    const convs = [];
    const clickRows = [];
    for (let i = from; i < Math.min(N, from + BATCH); i++) {
      const x = conversion(i);
      ledger.push(...x.rows);
      convs.push(x.row);
      clickRows.push(...clicks(i, x.c, x.influencer, x.saleAt, x.behaviour));
    }
    await insertLedgerEntries(ch)(ledger);
    await insertConversions(ch)(convs);
    await ch.insert("insert_clicks", "clicks_raw_v1", clickRows);
    ledgerRows += ledger.length;
    bar.update(Math.min(N, from + BATCH), { ledger: ledgerRows });
  }
  bar.stop();
  // the ledger and clicks were written directly: build the reports' pre-aggregates from them, as the worker would
  const months = await rebuildAllAggregates(ch);
  console.error(`aggregates rebuilt for ${months} months`);
  await ch.close();
  console.log(
    `seeded ${N} conversions (${ledgerRows} ledger rows) over ${DAYS} days into ${database} at ${url}, for ${influencers.length} influencers and ${campaigns.length} campaigns created in the catalog (${redisPrefix} at ${redisUrl})`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
