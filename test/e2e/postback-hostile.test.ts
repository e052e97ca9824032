import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ConversionEvent, MAX_AMOUNT_MINOR } from "../../packages/events/src";
import { createTestWorld, eventually, type TestWorld } from "../../packages/testing/src";
import { signBody, signQuery } from "../../services/postback/src/auth";
import { readPostbacks } from "../fixtures/postback/topic";
import { ADMIN_KEY, api, startServices, type Urls } from "./helpers";

/** What an attacker or a careless merchant sends, and what the postback service must answer (issue 8). */

type Merchant = { id: number; postback_secret: string; postback_token: string };
type Answer = { status: number; json: Record<string, unknown> & { issues?: { path: string }[] } };

let world: TestWorld;
let urls: Urls;
let topic: Awaited<ReturnType<typeof readPostbacks>>;
let merchant: Merchant;

beforeAll(async () => {
  world = await createTestWorld(inject("stack"), "postback_hostile");
  Object.assign(world.env, { MERCHANT_CACHE_TTL_MS: "0" });
  urls = await startServices(world, { attribution: false });
  topic = await readPostbacks(world);
  merchant = await newMerchant();
});
afterAll(() => world?.close());

const newMerchant = async () => (await api<Merchant>(urls.redirectUrl, "/api/merchants", { name: "Hostile" })).json;
const now = () => Math.floor(Date.now() / 1000);

async function send(method: "GET" | "POST", path: string, body?: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${urls.postbackUrl}${path}`, {
    method,
    headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
    body,
  });
  const text = await res.text();
  let json: Answer["json"];
  try {
    json = JSON.parse(text) as Answer["json"];
  } catch {
    throw new Error(`${method} ${path} answered ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
  return { status: res.status, json };
}
/** A JSON body signed by the merchant, as a merchant's server sends it. */
const signedPost = (m: Merchant, payload: unknown, path = "/v1/conversions", at = now()) => {
  const body = typeof payload === "string" ? payload : JSON.stringify(payload);
  const headers = { "x-signature": signBody(m.postback_secret, body, at), "x-merchant-id": String(m.id) };
  return send("POST", path, body, headers);
};
const tokenGet = (m: Merchant, fields: Record<string, string>) =>
  send("GET", `/postback?${new URLSearchParams({ merchant_id: String(m.id), token: m.postback_token, ...fields })}`);
const paths = (a: Answer) => [...new Set((a.json.issues ?? []).map((i) => i.path))].sort();

describe("finding 3: what is accepted is bookable (400 naming the field, never 202-then-dead-letter)", () => {
  it.each([
    ["type=constructor", { type: "constructor" }, ["type"]],
    ["type=__proto__", { type: "__proto__" }, ["type"]],
    ["status=toString", { status: "toString" }, ["status"]],
    ["a fractional occurred_at", { occurred_at: 1_764_244_800.5 }, ["occurred_at"]],
    ["an occurred_at in year 285,000 (finding 1)", { occurred_at: 9_000_000_000_000_000 }, ["occurred_at"]],
    ["an occurred_at two years back", { occurred_at: now() - 2 * 365 * 86_400 }, ["occurred_at"]],
    ["an occurred_at an hour ahead", { occurred_at: now() + 3600 }, ["occurred_at"]],
    ["an amount of 2^53 - 1 (finding 2)", { amount: 9_007_199_254_740_991 }, ["amount"]],
    ["an amount past the bound", { amount: MAX_AMOUNT_MINOR + 1 }, ["amount"]],
    ["a sale_amount past the bound", { amount: undefined, sale_amount: "9999999999999999" }, ["sale_amount"]],
    ["a NUL in the order id", { order_id: "H\u0000-1" }, ["order_id"]],
    ["a bidi override in a sub id", { sub2: "abc\u202Edef" }, ["sub2"]],
    ["a 10,000-character reason", { type: "reject", reason: "r".repeat(10_000) }, ["reason"]],
    ["a refund of zero", { type: "refund", amount: 0, change_id: "z" }, ["amount"]],
  ])("%s", async (_name, fields, expected) => {
    const a = await signedPost(merchant, { order_id: "H-1", amount: 100, currency: "USD", ...fields });
    expect(a.status).toBe(400);
    expect(a.json.error).toBe("validation_failed");
    expect(paths(a)).toEqual(expected);
  });

  it("refuses prototype words in a form body and in a pixel's query string too", async () => {
    for (const type of ["constructor", "__proto__", "hasOwnProperty"]) {
      const a = await tokenGet(merchant, { order_id: "H-2", amount: "1", currency: "USD", type });
      expect([a.status, paths(a)]).toEqual([400, ["type"]]);
    }
    const form = "order_id=H-3&amount=1&currency=USD&__proto__=x&constructor=y&type=constructor";
    const a = await send("POST", `/postback?merchant_id=${merchant.id}&token=${merchant.postback_token}`, form, {
      "content-type": "application/x-www-form-urlencoded",
    });
    expect([a.status, paths(a)]).toEqual([400, ["type"]]);
  });

  it("never answers 5xx to random field values, and every event it accepts fits the worker's schema", async () => {
    const value = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.string({ unit: "binary", maxLength: 200 }),
      fc.string({ minLength: 200, maxLength: 2000 }),
      fc.integer(),
      fc.double(),
      fc.constantFrom(2 ** 53, -1, 1e21, 0.5, 9_000_000_000_000_000, "1e3", "-5", "", "constructor", "__proto__"),
      fc.constantFrom("sale", "approve", "refund", "reject", "adjust", "USD", "JPY", "toString", "valueOf"),
      fc.boolean(),
      fc.constant(null),
      fc.array(fc.integer(), { maxLength: 2 }),
      fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 2 }),
    );
    const keys = ["type", "amount", "sale_amount", "currency", "click_id", "coupon_code", "reason", "change_id"];
    const more = ["occurred_at", "sub1", "merchant_id"];
    // mostly absent, so that a fair share of requests is valid and gets on the topic
    const sometimes = fc.oneof({ weight: 5, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: value });
    const fields = fc.record(Object.fromEntries([...keys, ...more].map((k) => [k, sometimes])));
    const accepted: string[] = [];
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fields, async (f) => {
        const order = `P-${n++}`;
        const sent = Object.fromEntries(Object.entries(f).filter(([, v]) => v !== undefined));
        const a = await signedPost(merchant, { order_id: order, amount: 1, currency: "USD", ...sent });
        expect(a.status, JSON.stringify(a.json)).toBeLessThan(500);
        if (a.status < 300) accepted.push(String(a.json.event_id));
      }),
      { numRuns: 200 },
    );
    expect(accepted.length).toBeGreaterThan(0);
    const onTopic = await eventually(
      async () => topic.seen.filter((r) => accepted.includes(r.event.event_id)),
      (list) => list.length >= accepted.length,
    );
    for (const r of onTopic) expect(ConversionEvent.safeParse(r.event).success).toBe(true);
  });

  it("never answers 5xx to random query strings on a token pixel", async () => {
    const text = fc.oneof(
      fc.string({ maxLength: 30 }),
      fc.string({ unit: "binary", maxLength: 100 }),
      fc.constantFrom("constructor", "__proto__", "toString", "1.5", "-1", "9000000000000000", "%ZZ", "approve"),
    );
    const keys = fc.constantFrom(
      "type",
      "status",
      "amount",
      "sale_amount",
      "currency",
      "occurred_at",
      "sub1",
      "__proto__",
    );
    await fc.assert(
      fc.asyncProperty(fc.dictionary(keys, text, { maxKeys: 4 }), async (f) => {
        const a = await tokenGet(merchant, { order_id: "Q-1", amount: "1", currency: "USD", ...f });
        expect(a.status, JSON.stringify(a.json)).toBeLessThan(500);
      }),
      { numRuns: 100 },
    );
  });
});

describe("finding 4: the signature covers the event", () => {
  it("refuses query-string fields on a signed POST, naming them", async () => {
    const sale = { order_id: "SG-1", amount: 100, currency: "USD" };
    for (const path of ["/v1/conversions", "/postback", "/v1/conversions/batch"]) {
      const a = await signedPost(
        merchant,
        path.endsWith("batch") ? { events: [sale] } : sale,
        `${path}?type=approve&coupon_code=X`,
      );
      expect([a.status, a.json.error, paths(a)]).toEqual([400, "validation_failed", ["coupon_code", "type"]]);
    }
    expect(topic.seen.some((r) => r.event.order_id === "SG-1")).toBe(false);
  });

  it("refuses an X-Merchant-Id that disagrees with the signed merchant_id", async () => {
    const other = await newMerchant();
    const a = await signedPost(other, { merchant_id: merchant.id, order_id: "SG-2", amount: 1, currency: "USD" });
    expect([a.status, paths(a)]).toEqual([400, ["merchant_id"]]);
    const same = await signedPost(merchant, { merchant_id: merchant.id, order_id: "SG-2", amount: 1, currency: "USD" });
    expect(same.status).toBe(202);
  });

  it("takes a GET signed over its canonical query, and refuses one signed over anything else", async () => {
    const search = new URLSearchParams({
      merchant_id: String(merchant.id),
      order_id: "SG-3",
      amount: "250",
      currency: "EUR",
      sub1: "ig story",
    }).toString();
    // the old flaw: X-Signature over the empty body of a GET
    const overEmpty = await send("GET", `/postback?${search}`, undefined, {
      "x-signature": signBody(merchant.postback_secret, "", now()),
    });
    expect([overEmpty.status, overEmpty.json.error]).toEqual([401, "bad_signature"]);
    const header = signQuery(merchant.postback_secret, search, now());
    const tampered = await send("GET", `/postback?${search}&type=approve`, undefined, { "x-signature": header });
    expect([tampered.status, tampered.json.error]).toEqual([401, "bad_signature"]);
    const ok = await send("GET", `/postback?${search}`, undefined, { "x-signature": header });
    expect(ok.status).toBe(202);
    // the same signature as a query parameter (for a pixel URL built by the merchant's server), fields reordered
    const reordered = `currency=EUR&sub1=ig+story&amount=250&order_id=SG-4&merchant_id=${merchant.id}`;
    const inUrl = `${reordered}&signature=${encodeURIComponent(signQuery(merchant.postback_secret, reordered, now()))}`;
    expect((await send("GET", `/postback?${inUrl}`)).status).toBe(202);
    const [event] = await topic.forOrder(merchant.id, "SG-4", 1);
    expect(event?.event).toMatchObject({ amount_minor: 250, currency: "EUR", subs: { sub1: "ig story" } });
  });
});

describe("finding 5: token postbacks create sales only, unless the merchant allows more", () => {
  it("refuses status changes by token with 403, and takes them once token_status_changes is on", async () => {
    const m = await newMerchant();
    expect((await tokenGet(m, { order_id: "TK-1", amount: "1000", currency: "USD" })).status).toBe(202);
    for (const f of [
      { type: "approve" },
      { status: "approved" },
      { type: "reject", reason: "x" },
      { type: "refund", amount: "10", currency: "USD", change_id: "r1" },
      { type: "adjust", amount: "10", currency: "USD" },
    ]) {
      const a = await tokenGet(m, { order_id: "TK-1", ...f });
      expect([a.status, a.json.error, paths(a)]).toEqual([403, "forbidden", ["type"]]);
    }
    // a signature may still change the status
    expect((await signedPost(m, { order_id: "TK-1", type: "approve" })).status).toBe(202);
    const settings = await api(
      urls.redirectUrl,
      `/api/merchants/${m.id}/postback-settings`,
      { token_status_changes: true },
      ADMIN_KEY,
    );
    expect(settings).toMatchObject({ status: 200, json: { token_status_changes: true } });
    expect((await tokenGet(m, { order_id: "TK-2", amount: "1000", currency: "USD" })).status).toBe(202);
    expect((await tokenGet(m, { order_id: "TK-2", type: "approve" })).status).toBe(202);
  });
});

describe("finding 10: a refund in the wrong currency, and retried status changes", () => {
  it("refuses a refund or adjustment in another currency than its sale's, naming currency", async () => {
    expect((await signedPost(merchant, { order_id: "CUR-1", amount: 5000, currency: "USD" })).status).toBe(202);
    const refund = await signedPost(merchant, {
      order_id: "CUR-1",
      type: "refund",
      amount: 100,
      currency: "EUR",
      change_id: "R1",
    });
    expect([refund.status, refund.json.error, paths(refund)]).toEqual([400, "validation_failed", ["currency"]]);
    const batch = await signedPost(
      merchant,
      { events: [{ order_id: "CUR-1", type: "adjust", amount: 100, currency: "GBP" }] },
      "/v1/conversions/batch",
    );
    expect(batch.status).toBe(400);
    expect((batch.json.results as { issues: { path: string }[] }[])[0]?.issues[0]?.path).toBe("events.0.currency");
    const ok = { order_id: "CUR-1", type: "refund", amount: 100, currency: "USD", change_id: "R1" };
    expect((await signedPost(merchant, ok)).status).toBe(202);
  });

  it("answers a retried approval, rejection or refund 200 duplicate: true, counted once", async () => {
    expect((await signedPost(merchant, { order_id: "DUP-1", amount: 5000, currency: "USD" })).status).toBe(202);
    for (const change of [
      { type: "approve" },
      { type: "refund", amount: 100, currency: "USD", change_id: "R1" },
      { type: "reject", reason: "chargeback" },
    ]) {
      const first = await signedPost(merchant, { order_id: "DUP-1", ...change });
      // a retry is signed again (a new timestamp); the same signature twice is a replay, refused
      const retry = await signedPost(merchant, { order_id: "DUP-1", ...change }, undefined, now() - 1);
      expect([first.status, first.json.duplicate]).toEqual([202, false]);
      expect([retry.status, retry.json.duplicate, retry.json.event_id]).toEqual([200, true, first.json.event_id]);
    }
    await topic.forOrder(merchant.id, "DUP-1", 4);
    expect(topic.seen.filter((r) => r.event.order_id === "DUP-1")).toHaveLength(4);
  });
});
