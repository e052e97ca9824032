/**
 * No input can stop the books (issue 8): hostile postbacks through HTTP and hostile messages straight onto the
 * postbacks topic, interleaved with 1,000 ordinary sales. Every ordinary sale is booked exactly; every hostile HTTP
 * request gets a 4xx JSON error naming what is wrong; every hostile topic message is dead-lettered with a reason;
 * the consumer catches up (lag 0) and every report period answers 200.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { conversionId, deterministicId } from "../../packages/common/src";
import { createKafka } from "../../packages/kafka/src";
import { createTestWorld, eventually, type TestWorld } from "../../packages/testing/src";
import { signBody } from "../../services/postback/src/auth";
import { click, FINANCE_KEY, seedCampaign, startServices, type Urls } from "./helpers";

const SALES = 1_000;
const BATCH = 50;
let world: TestWorld;
let urls: Urls;
let seeded: Awaited<ReturnType<typeof seedCampaign>>;
let clickIds: string[] = [];

beforeAll(async () => {
  world = await createTestWorld(inject("stack"), "hostile");
  Object.assign(world.env, { MERCHANT_CACHE_TTL_MS: "0", MAX_BODY_BYTES: "65536" });
  urls = await startServices(world);
  seeded = await seedCampaign(urls);
  for (let i = 0; i < 10; i++) clickIds.push((await click(urls, seeded.link.code)).clickId);
  clickIds = clickIds.filter(Boolean);
  expect(clickIds.length).toBe(10);
});
afterAll(() => world?.close());

type Answer = { status: number; json: { error?: unknown; message?: unknown; issues?: { path: string }[] } };
const now = () => Math.floor(Date.now() / 1000);
const long = (n: number, c = "x") => c.repeat(n);

async function answer(res: Response): Promise<Answer> {
  const text = await res.text();
  let json: Answer["json"] = {};
  try {
    json = JSON.parse(text);
  } catch {
    json = { error: `not JSON: ${text.slice(0, 80)}` };
  }
  return { status: res.status, json };
}

/** A signed JSON request to the API, as a merchant's server sends it. */
function signedPost(path: string, payload: unknown, opts: { query?: string; raw?: string; headers?: object } = {}) {
  const body = opts.raw ?? JSON.stringify(payload);
  return fetch(`${urls.postbackUrl}${path}${opts.query ?? ""}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-merchant-id": String(seeded.merchant.id),
      "x-signature": signBody(seeded.merchant.postback_secret, body, now()),
      ...opts.headers,
    },
    body,
  }).then(answer);
}
/** A token postback over GET, the pixel-style convention. */
function tokenGet(fields: Record<string, string>) {
  const q = new URLSearchParams({ merchant_id: String(seeded.merchant.id), token: seeded.merchant.postback_token });
  for (const [k, v] of Object.entries(fields)) q.append(k, v);
  return fetch(`${urls.postbackUrl}/postback?${q}`).then(answer);
}
const sale = (n: number | string, extra: Record<string, unknown> = {}) => ({
  order_id: `H-${n}`,
  amount: 1000,
  currency: "USD",
  click_id: clickIds[0],
  ...extra,
});

/** Each case: a request that must be refused with a 4xx JSON error, and the field it must name (if any). */
const httpCases: { name: string; send: () => Promise<Answer>; field?: string }[] = [
  {
    name: "occurred_at far in the future (ms)",
    send: () => tokenGet({ order_id: "X1", amount: "100", currency: "USD", occurred_at: "9000000000000000" }),
    field: "occurred_at",
  },
  {
    name: "occurred_at a day ahead",
    send: () => signedPost("/v1/conversions", sale("X2", { occurred_at: now() + 86_400 })),
    field: "occurred_at",
  },
  {
    name: "occurred_at ten years back",
    send: () => signedPost("/v1/conversions", sale("X3", { occurred_at: now() - 10 * 365 * 86_400 })),
    field: "occurred_at",
  },
  {
    name: "occurred_at fractional",
    send: () => signedPost("/v1/conversions", sale("X4", { occurred_at: now() + 0.5 })),
    field: "occurred_at",
  },
  {
    name: "occurred_at negative",
    send: () => signedPost("/v1/conversions", sale("X5", { occurred_at: -1 })),
    field: "occurred_at",
  },
  {
    name: "occurred_at not a date",
    send: () => signedPost("/v1/conversions", sale("X6", { occurred_at: "yesterday" })),
    field: "occurred_at",
  },
  {
    name: "type=constructor",
    send: () => tokenGet({ order_id: "X7", amount: "100", currency: "USD", type: "constructor" }),
    field: "type",
  },
  {
    name: "type=__proto__",
    send: () => tokenGet({ order_id: "X8", amount: "100", currency: "USD", type: "__proto__" }),
    field: "type",
  },
  { name: "type=toString", send: () => signedPost("/v1/conversions", sale("X9", { type: "toString" })), field: "type" },
  {
    name: "status=hasOwnProperty",
    send: () => signedPost("/v1/conversions", sale("X10", { status: "hasOwnProperty" })),
    field: "status",
  },
  {
    name: "amount past the bound",
    send: () => signedPost("/v1/conversions", sale("X11", { amount: 9007199254740991 })),
    field: "amount",
  },
  {
    name: "amount beyond safe integers",
    send: () => signedPost("/v1/conversions", sale("X12", { amount: 1e300 })),
    field: "amount",
  },
  { name: "amount negative", send: () => signedPost("/v1/conversions", sale("X13", { amount: -5 })), field: "amount" },
  {
    name: "amount fractional",
    send: () => signedPost("/v1/conversions", sale("X14", { amount: 1.5 })),
    field: "amount",
  },
  {
    name: "amount as an object",
    send: () => signedPost("/v1/conversions", sale("X15", { amount: { $gt: 0 } })),
    field: "amount",
  },
  {
    name: "amount exponent text",
    send: () => tokenGet({ order_id: "X16", amount: "1e3", currency: "USD" }),
    field: "amount",
  },
  { name: "amount true", send: () => signedPost("/v1/conversions", sale("X17", { amount: true })), field: "amount" },
  {
    name: "sale_amount huge",
    send: () =>
      signedPost("/v1/conversions", { order_id: "X18", sale_amount: "99999999999999999999.99", currency: "USD" }),
    field: "sale_amount",
  },
  {
    name: "currency not ISO",
    send: () => signedPost("/v1/conversions", sale("X19", { currency: "US" })),
    field: "currency",
  },
  {
    name: "currency emoji",
    send: () => signedPost("/v1/conversions", sale("X20", { currency: "💵" })),
    field: "currency",
  },
  {
    name: "currency as number",
    send: () => signedPost("/v1/conversions", sale("X21", { currency: 840 })),
    field: "currency",
  },
  {
    name: "order_id missing",
    send: () => signedPost("/v1/conversions", { amount: 100, currency: "USD" }),
    field: "order_id",
  },
  { name: "order_id huge", send: () => signedPost("/v1/conversions", sale(long(5_000))), field: "order_id" },
  {
    name: "order_id array",
    send: () => signedPost("/v1/conversions", { ...sale(0), order_id: ["a", "b"] }),
    field: "order_id",
  },
  { name: "order_id NUL byte", send: () => signedPost("/v1/conversions", sale("X\u0000Y")), field: "order_id" },
  {
    name: "click_id huge",
    send: () => signedPost("/v1/conversions", sale("X25", { click_id: long(2_000) })),
    field: "click_id",
  },
  {
    name: "coupon huge",
    send: () => signedPost("/v1/conversions", sale("X26", { coupon_code: long(1_000, "é") })),
    field: "coupon_code",
  },
  { name: "sub1 huge", send: () => signedPost("/v1/conversions", sale("X27", { sub1: long(300) })), field: "sub1" },
  {
    name: "reason huge",
    send: () => signedPost("/v1/conversions", sale("X28", { type: "reject", reason: long(10_000) })),
    field: "reason",
  },
  {
    name: "change_id huge",
    send: () => signedPost("/v1/conversions", sale("X29", { type: "refund", change_id: long(1_000) })),
    field: "change_id",
  },
  {
    name: "merchant_id zero",
    send: () =>
      fetch(`${urls.postbackUrl}/postback?merchant_id=0&order_id=X30&amount=1&currency=USD&token=x`).then(answer),
    field: "merchant_id",
  },
  {
    name: "merchant_id exponent",
    send: () =>
      fetch(`${urls.postbackUrl}/postback?merchant_id=1e3&order_id=X31&amount=1&currency=USD&token=x`).then(answer),
    field: "merchant_id",
  },
  {
    name: "merchant_id negative",
    send: () =>
      fetch(`${urls.postbackUrl}/postback?merchant_id=-1&order_id=X32&amount=1&currency=USD&token=x`).then(answer),
    field: "merchant_id",
  },
  {
    name: "repeated amount",
    send: () =>
      fetch(
        `${urls.postbackUrl}/postback?merchant_id=${seeded.merchant.id}&token=${seeded.merchant.postback_token}&order_id=X33&amount=1&amount=2&currency=USD`,
      ).then(answer),
    field: "amount",
  },
  { name: "body not JSON", send: () => signedPost("/v1/conversions", undefined, { raw: "{not json" }) },
  { name: "body a JSON array", send: () => signedPost("/v1/conversions", undefined, { raw: "[1,2,3]" }) },
  { name: "body too large", send: () => signedPost("/v1/conversions", sale("X36", { sub2: long(100_000) })) },
  {
    name: "unsupported content type",
    send: () =>
      fetch(`${urls.postbackUrl}/v1/conversions`, {
        method: "POST",
        headers: { "content-type": "text/plain" },
        body: "order_id=1",
      }).then(answer),
  },
  {
    name: "signed body, unsigned query approves",
    send: () => signedPost("/v1/conversions", sale("X38"), { query: "?type=approve&coupon_code=FREE" }),
  },
  {
    name: "GET with X-Signature over nothing",
    send: () =>
      fetch(
        `${urls.postbackUrl}/postback?merchant_id=${seeded.merchant.id}&order_id=X39&amount=100&currency=USD&type=approve`,
        { headers: { "x-signature": signBody(seeded.merchant.postback_secret, "", now()) } },
      ).then(answer),
  },
  { name: "token approves", send: () => tokenGet({ order_id: "H-1", type: "approve" }) },
  { name: "token adjusts", send: () => tokenGet({ order_id: "H-1", type: "adjust", amount: "5", currency: "USD" }) },
  {
    name: "bad signature",
    send: () =>
      signedPost("/v1/conversions", sale("X42"), { headers: { "x-signature": `t=${now()},v1=${"0".repeat(64)}` } }),
  },
  {
    name: "stale signature",
    send: () =>
      fetch(`${urls.postbackUrl}/v1/conversions`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-merchant-id": String(seeded.merchant.id),
          "x-signature": signBody(seeded.merchant.postback_secret, JSON.stringify(sale("X43")), now() - 86_400),
        },
        body: JSON.stringify(sale("X43")),
      }).then(answer),
  },
  {
    name: "batch too large",
    send: () => signedPost("/v1/conversions/batch", { events: Array.from({ length: 1_001 }, (_, i) => sale(`B${i}`)) }),
  },
  {
    name: "batch not an array",
    send: () => signedPost("/v1/conversions/batch", { events: { 0: sale("B") } }),
    field: "events",
  },
  {
    name: "prototype key in body",
    send: () =>
      signedPost("/v1/conversions", undefined, {
        raw: `{"__proto__":{"type":"approve"},"order_id":"X46","amount":-1,"currency":"USD"}`,
      }),
    field: "amount",
  },
  { name: "unknown route", send: () => fetch(`${urls.postbackUrl}/v1/conversions/..%2f..%2fetc`).then(answer) },
  {
    name: "shopify webhook without its secret",
    send: () =>
      fetch(`${urls.postbackUrl}/webhooks/shopify/${seeded.merchant.id}`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-shopify-topic": "orders/create",
          "x-shopify-hmac-sha256": "AAAA",
        },
        body: "{}",
      }).then(answer),
  },
  {
    name: "unicode order id with a line break",
    send: () => tokenGet({ order_id: "X49\r\nSet-Cookie: a=b", amount: "100", currency: "USD" }),
    field: "order_id",
  },
];

/** Messages that bypass the postback service: each must end in the dead-letter topic with a reason. */
function topicCases(): { key: string; value: Buffer | null }[] {
  const base = (n: number, over: Record<string, unknown>) => {
    const orderId = `T-${n}`;
    return {
      v: 1,
      event_id: deterministicId("hostile", n),
      conversion_id: conversionId(seeded.merchant.id, orderId),
      merchant_id: seeded.merchant.id,
      order_id: orderId,
      type: "sale",
      click_id: clickIds[1],
      amount_minor: 1000,
      currency: "USD",
      occurred_at_ms: Date.now(),
      received_at_ms: Date.now(),
      ...over,
    };
  };
  const json = (n: number, over: Record<string, unknown>) => Buffer.from(JSON.stringify(base(n, over)));
  const values: (Buffer | null)[] = [
    Buffer.from("\u0000\u0001 not json"),
    null,
    Buffer.from("[]"),
    Buffer.from("null"),
    Buffer.from(`${"[".repeat(5_000)}${"]".repeat(5_000)}`),
    json(1, { occurred_at_ms: 9_000_000_000_000_000 }),
    json(2, { occurred_at_ms: 8.64e15 + 1 }),
    json(3, { type: "constructor" }),
    json(4, { type: "__proto__" }),
    json(5, { amount_minor: 9_007_199_254_740_991 }),
    json(6, { amount_minor: 10.5 }),
    json(7, { amount_minor: -1 }),
    json(8, { event_id: "short" }),
    json(9, { currency: "usd" }),
    json(10, { order_id: long(200_000) }),
    json(11, { v: 2 }),
    json(12, { received_at_ms: -1 }),
    json(13, { occurred_at_ms: Date.now() + 10 * 86_400_000 }),
    json(14, { merchant_id: 0 }),
    Buffer.from(`{"__proto__":{"type":"approve"},"v":1}`),
    json(15, { amount_minor: "1000" }),
    json(16, { reason: long(100_000) }),
  ];
  return values.map((value, i) => ({ key: `hostile-${i}-${randomBytes(3).toString("hex")}`, value }));
}

describe("hostile input never stops the books", () => {
  it("books 1,000 ordinary sales exactly while every hostile event is refused or dead-lettered", async () => {
    const kafka = createKafka({
      brokers: world.env.KAFKA_BROKERS ?? "",
      clientId: `${world.id}-hostile`,
      log: world.log,
    });
    const producer = kafka.producer();
    await producer.connect();
    world.lifecycle.defer("hostile_producer", () => producer.disconnect());
    const hostileTopic = topicCases();
    let expectedMinor = 0;
    const refusals: { name: string; got: Answer; field?: string }[] = [];
    let httpAt = 0;
    let topicAt = 0;

    for (let b = 0; b < SALES / BATCH; b++) {
      const events = Array.from({ length: BATCH }, (_, i) => {
        const n = b * BATCH + i;
        const amount = 10 * (1 + ((n * 7919) % 5000));
        expectedMinor += amount / 10;
        return sale(n, { amount, click_id: clickIds[n % clickIds.length] });
      });
      const ok = await signedPost("/v1/conversions/batch", { events });
      expect(ok.status, JSON.stringify(ok.json).slice(0, 300)).toBe(202);
      // interleave: a few hostile HTTP requests and a few raw topic messages after every batch
      for (let k = 0; k < 3 && httpAt < httpCases.length; k++, httpAt++) {
        const c = httpCases[httpAt];
        if (c) refusals.push({ name: c.name, got: await c.send(), field: c.field });
      }
      const raw = hostileTopic.slice(topicAt, topicAt + 2);
      topicAt += raw.length;
      if (raw.length) await producer.send({ topic: world.env.TOPIC_POSTBACKS ?? "", messages: raw });
    }
    expect(httpAt).toBe(httpCases.length);
    expect(topicAt).toBe(hostileTopic.length);
    expect(httpCases.length + hostileTopic.length).toBeGreaterThanOrEqual(50);

    // every hostile HTTP request: a 4xx JSON error with a code, naming the field where there is one
    const wrong = refusals.filter(
      (r) =>
        r.got.status < 400 ||
        r.got.status >= 500 ||
        typeof r.got.json.error !== "string" ||
        (r.field !== undefined && !(r.got.json.issues ?? []).some((i) => i.path.split(".").includes(r.field ?? ""))),
    );
    expect(wrong.map((r) => `${r.name}: ${r.got.status} ${JSON.stringify(r.got.json).slice(0, 200)}`)).toEqual([]);

    // every hostile topic message: dead-lettered with a reason
    const reasons = await readDeadLetters(hostileTopic.length);
    for (const m of hostileTopic) expect(reasons.get(m.key), `dead letter for ${m.key}`).toMatch(/\S/);

    // the books: every ordinary sale booked once, at 10 %
    const report = await eventually(
      () => commissions("group_by=influencer"),
      (r) => r.status === 200 && (r.json.rows?.[0]?.conversions ?? 0) >= SALES,
      90_000,
    );
    expect(report.json.rows).toHaveLength(1);
    expect(report.json.rows?.[0]).toMatchObject({ conversions: SALES, currency: "USD" });
    // exact whatever the JSON spelling of the sum (number or decimal string)
    expect(String(report.json.rows?.[0]?.pending_minor)).toBe(String(expectedMinor));

    // the consumer caught up: no lag on any partition
    await eventually(
      () => lag(kafka),
      (l) => l === 0,
      60_000,
    );

    // and every report period and grouping answers 200
    for (const q of [
      "group_by=campaign",
      "group_by=merchant",
      "group_by=day&tz=Europe/Berlin",
      "group_by=week&tz=Asia/Kolkata",
      "group_by=month&tz=Australia/Eucla",
      "group_by=influencer&format=csv",
    ])
      expect((await commissions(q)).status, q).toBe(200);
    const from = new Date(Date.now() - 399 * 86_400_000).toISOString().slice(0, 10);
    const to = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    expect((await commissions("group_by=month", `from=${from}&to=${to}`)).status).toBe(200);
  });
});

async function commissions(extra: string, period?: string) {
  const day = (o: number) => new Date(Date.now() + o * 86_400_000).toISOString().slice(0, 10);
  const res = await fetch(
    `${urls.reportsUrl}/v1/reports/commissions?${period ?? `from=${day(-2)}&to=${day(2)}`}&${extra}`,
    { headers: { authorization: `Bearer ${FINANCE_KEY}` } },
  );
  const text = await res.text();
  let json: { rows?: { conversions: number; pending_minor: number | string; currency: string }[] } = {};
  try {
    json = JSON.parse(text);
  } catch {
    // CSV
  }
  return { status: res.status, json };
}

/** Reads the dead-letter topic until `count` letters arrived; returns key -> reason. */
async function readDeadLetters(count: number) {
  const kafka = createKafka({ brokers: world.env.KAFKA_BROKERS ?? "", clientId: `${world.id}-dlq`, log: world.log });
  const consumer = kafka.consumer({ groupId: `${world.id}.hostile-dlq` });
  const reasons = new Map<string, string>();
  await consumer.connect();
  await consumer.subscribe({ topic: world.env.TOPIC_DEAD_LETTERS ?? "", fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      reasons.set(message.key?.toString() ?? "", message.headers?.dlq_reason?.toString() ?? "");
    },
  });
  try {
    await eventually(
      async () => reasons.size,
      (n) => n >= count,
      90_000,
    );
  } finally {
    await consumer.disconnect();
  }
  return reasons;
}

/** Messages on the postbacks topic not yet committed by the worker's consumer group. */
async function lag(kafka: ReturnType<typeof createKafka>) {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const topic = world.env.TOPIC_POSTBACKS ?? "";
    const high = await admin.fetchTopicOffsets(topic);
    const [committed] = await admin.fetchOffsets({ groupId: world.env.GROUP_CONVERSIONS ?? "", topics: [topic] });
    return high.reduce((sum, p) => {
      const c = committed?.partitions.find((x) => x.partition === p.partition)?.offset ?? "-1";
      return sum + Number(p.high) - Math.max(0, Number(c));
    }, 0);
  } finally {
    await admin.disconnect();
  }
}
