// npm run seed:demo -- --conversions N [--days 90] [--influencers 400] [--seed 1]
// Fills a realistic demo dataset straight into the ledger tables (commission_ledger_v1, conversions_v1, clicks_raw_v1):
// several merchants and campaigns in USD/EUR/GBP/JPY, orders in other currencies (FX), sales that get approved,
// rejected or refunded in part or whole, and clicks with bots. Ids are deterministic, so a rerun writes the same rows.
import { parseArgs } from "node:util";
import {
  createClickHouse,
  ensureDatabase,
  insertConversions,
  insertLedgerEntries,
  migrate,
  toDateTimeText,
} from "@aff/clickhouse";
import { applyBasisPoints, currencyExponent, deterministicId } from "@aff/common";
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
const campaigns = Array.from({ length: 24 }, (_, i) => ({
  id: i + 1,
  merchant: (i % 6) + 1,
  currency: SETTLEMENT[i % 4],
  bps: 500 + ((i * 137) % 1500),
  holdDays: [14, 30, 45][i % 3],
}));
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
  const c = pick(campaigns);
  const influencer = 1 + Math.floor(rnd() ** 1.7 * INFLUENCERS); // a few influencers sell much more than most
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
  if (decideAt < now && roll < 0.65) {
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
    if (refundAt < now && rnd() < 0.12) {
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
  } else if (decideAt < now && roll < 0.82) {
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
    suspect: rnd() < 0.02 ? 1 : 0,
    status,
    order_amount_minor: liveOrder,
    commission_minor: liveCommission,
    occurred_at: toDateTimeText(saleAt),
    version: saleAt,
  };
  return { rows, row, c, influencer, saleAt };
}

/** About 30 clicks per sale, 8% of them bots, a few repeated from the same browser within the hour. */
function clicks(i, c, influencer, saleAt) {
  const out = [];
  const n = 10 + Math.floor(rnd() * 40);
  for (let k = 0; k < n; k++) {
    const at = Math.max(start, saleAt - Math.floor(rnd() * 3 * DAY));
    const bot = rnd() < 0.08;
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
      clickRows.push(...clicks(i, x.c, x.influencer, x.saleAt));
    }
    await insertLedgerEntries(ch)(ledger);
    await insertConversions(ch)(convs);
    await ch.insert("insert_clicks", "clicks_raw_v1", clickRows);
    ledgerRows += ledger.length;
    bar.update(Math.min(N, from + BATCH), { ledger: ledgerRows });
  }
  bar.stop();
  await ch.close();
  console.log(`seeded ${N} conversions (${ledgerRows} ledger rows) over ${DAYS} days into ${database} at ${url}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
