import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createTestWorld, type TestWorld } from "../../packages/testing/src";
import { signBody } from "../../services/postback/src/auth";
import { readPostbacks } from "../fixtures/postback/topic";
import { ADMIN_KEY, api, startServices, type Urls } from "./helpers";

type Merchant = { id: number; postback_secret: string; postback_token: string };
type Answer = { status: number; json: Record<string, unknown> & { issues?: { path: string }[] } };

let world: TestWorld;
let urls: Urls;
let topic: Awaited<ReturnType<typeof readPostbacks>>;
let merchant: Merchant;

beforeAll(async () => {
  world = await createTestWorld(inject("stack"), "postback_intake");
  // Credential changes apply at once (no merchant cache), and oversize bodies stay small.
  Object.assign(world.env, { MERCHANT_CACHE_TTL_MS: "0", MAX_BODY_BYTES: "65536", MAX_BATCH_EVENTS: "1000" });
  urls = await startServices(world, { attribution: false });
  topic = await readPostbacks(world);
  merchant = await newMerchant();
});
afterAll(() => world?.close());

const newMerchant = async () => (await api<Merchant>(urls.redirectUrl, "/api/merchants", { name: "Intake Shop" })).json;

async function send(path: string, body: string, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(`${urls.postbackUrl}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });
  return { status: res.status, json: (await res.json()) as Answer["json"] };
}
/** A signed JSON request as a merchant's server makes it. */
function signed(m: Merchant, payload: unknown, opts: { secret?: string; at?: number; path?: string } = {}) {
  const body = typeof payload === "string" ? payload : JSON.stringify(payload);
  const header = signBody(opts.secret ?? m.postback_secret, body, opts.at ?? Math.floor(Date.now() / 1000));
  return {
    path: opts.path ?? "/v1/conversions",
    body,
    headers: { "x-signature": header, "x-merchant-id": String(m.id) },
  };
}
const sendSigned = (m: Merchant, payload: unknown, opts: Parameters<typeof signed>[2] = {}) => {
  const r = signed(m, payload, opts);
  return send(r.path, r.body, r.headers);
};
const paths = (a: Answer) => [...new Set((a.json.issues ?? []).map((i) => i.path))].sort();

describe("signed JSON API", () => {
  it("answers 202 once the event is on the topic, keyed by the conversion id", async () => {
    const a = await sendSigned(merchant, {
      order_id: "S-1",
      amount: 12345,
      currency: "USD",
      click_id: "clk",
      coupon_code: "SPRING",
      sub1: "ig",
    });
    expect(a).toMatchObject({ status: 202, json: { accepted: true, duplicate: false, type: "sale" } });
    const [got] = await topic.forOrder(merchant.id, "S-1", 1);
    expect(got?.key).toBe(a.json.conversion_id);
    expect(got?.event).toMatchObject({
      event_id: a.json.event_id,
      type: "sale",
      amount_minor: 12345,
      currency: "USD",
      click_id: "clk",
      coupon_code: "SPRING",
      source: "api",
      subs: { sub1: "ig" },
    });
  });

  it("answers a repeated sale 200 with duplicate: true and the original ids, and refuses a replayed signature", async () => {
    const first = signed(merchant, { order_id: "S-2", amount: 500, currency: "EUR" });
    expect((await send(first.path, first.body, first.headers)).status).toBe(202);
    const again = await sendSigned(merchant, {
      order_id: "S-2",
      amount: 999,
      currency: "EUR",
      occurred_at: Date.now(),
    });
    const firstIds = (await topic.forOrder(merchant.id, "S-2", 1))[0]?.event;
    expect(again).toMatchObject({
      status: 200,
      json: { duplicate: true, conversion_id: firstIds?.conversion_id, event_id: firstIds?.event_id },
    });
    expect(await send(first.path, first.body, first.headers)).toMatchObject({
      status: 401,
      json: { error: "replayed_signature" },
    });
  });

  it("keeps each concurrent request's own answer: fresh sales, one copy of a signature, resends of a stored sale", async () => {
    const stored = signed(merchant, { order_id: "S-C0", amount: 700, currency: "USD" });
    expect((await send(stored.path, stored.body, stored.headers)).status).toBe(202);
    const twice = signed(merchant, { order_id: "S-C1", amount: 100, currency: "USD" });
    const fresh = Array.from({ length: 20 }, (_, i) => ({ order_id: `S-C${i + 2}`, amount: 100 + i, currency: "USD" }));
    // sent at once, so that the service reads many of them in one event-loop turn and claims them together
    const answers = await Promise.all([
      ...fresh.map((p) => sendSigned(merchant, p)),
      ...Array.from({ length: 5 }, () => send(twice.path, twice.body, twice.headers)),
      ...Array.from({ length: 3 }, (_, i) => sendSigned(merchant, { order_id: "S-C0", amount: i, currency: "USD" })),
    ]);
    expect(answers.slice(0, 20).map((a) => [a.status, a.json.duplicate])).toEqual(fresh.map(() => [202, false]));
    expect(
      answers
        .slice(20, 25)
        .map((a) => a.status)
        .sort(),
    ).toEqual([202, 401, 401, 401, 401]);
    expect(answers.slice(20, 25).filter((a) => a.status === 401)).toMatchObject(
      Array.from({ length: 4 }, () => ({ json: { error: "replayed_signature" } })),
    );
    expect(answers.slice(25).map((a) => [a.status, a.json.duplicate])).toEqual([
      [200, true],
      [200, true],
      [200, true],
    ]);
    for (const [i, p] of fresh.entries()) {
      const [got] = await topic.forOrder(merchant.id, p.order_id, 1);
      expect(got?.event).toMatchObject({ event_id: answers[i]?.json.event_id, amount_minor: p.amount });
    }
    expect(await topic.forOrder(merchant.id, "S-C1", 1)).toHaveLength(1);
    expect(await topic.forOrder(merchant.id, "S-C0", 1)).toHaveLength(1);
  });

  it("refuses bad, stale, missing and wrong-merchant signatures", async () => {
    const payload = { order_id: "S-3", amount: 1, currency: "USD" };
    expect(await sendSigned(merchant, payload, { secret: "not-the-secret" })).toMatchObject({
      status: 401,
      json: { error: "bad_signature" },
    });
    expect(await sendSigned(merchant, payload, { at: Math.floor(Date.now() / 1000) - 301 })).toMatchObject({
      status: 401,
      json: { error: "stale_signature" },
    });
    expect(
      await send("/v1/conversions", JSON.stringify(payload), { "x-merchant-id": String(merchant.id) }),
    ).toMatchObject({ status: 401, json: { error: "missing_signature" } });
    const r = signed(merchant, payload);
    expect(await send(r.path, r.body, { ...r.headers, "x-merchant-id": "999999" })).toMatchObject({
      status: 401,
      json: { error: "unknown_merchant" },
    });
    const other = await newMerchant();
    expect(await send(r.path, r.body, { ...r.headers, "x-merchant-id": String(other.id) })).toMatchObject({
      status: 401,
      json: { error: "bad_signature" },
    });
  });

  it("publishes every kind of status change in the shape of the event contract", async () => {
    const order = "S-4";
    for (const p of [
      { order_id: order, amount: 10000, currency: "USD" },
      { order_id: order, type: "refund", amount: 2500, currency: "USD", refund_id: "RF-1" },
      { order_id: order, type: "adjust", amount: 9000, currency: "USD", change_id: "AD-1" },
      { order_id: order, status: "approved" },
      { order_id: order, type: "reject", reason: "fraud review" },
    ])
      expect((await sendSigned(merchant, p)).status).toBe(202);
    const events = (await topic.forOrder(merchant.id, order, 5)).map((r) => r.event);
    expect(events.map((e) => [e.type, e.amount_minor, e.change_id, e.reason])).toEqual([
      ["sale", 10000, undefined, undefined],
      ["refund", 2500, "RF-1", undefined],
      ["adjust", 9000, "AD-1", undefined],
      ["approve", undefined, undefined, undefined],
      ["reject", undefined, undefined, "fraud review"],
    ]);
    expect(new Set(events.map((e) => e.conversion_id)).size).toBe(1);
    expect(new Set(events.map((e) => e.event_id)).size).toBe(5);
  });
});

describe("postbacks in merchant conventions", () => {
  it("takes a GET pixel with the token and converts sale_amount exactly by the currency exponent", async () => {
    const q = (o: Record<string, string>) =>
      new URLSearchParams({ merchant_id: String(merchant.id), token: merchant.postback_token, ...o }).toString();
    const jpy = await fetch(
      `${urls.postbackUrl}/postback?${q({ transaction_id: "clk-9", order_id: "G-1", sale_amount: "1999", currency: "jpy" })}`,
    );
    const bhd = await fetch(
      `${urls.postbackUrl}/postback?${q({ order_id: "G-2", sale_amount: "1.234", currency: "BHD", status: "pending" })}`,
    );
    expect([jpy.status, bhd.status]).toEqual([202, 202]);
    expect((await topic.forOrder(merchant.id, "G-1", 1))[0]?.event).toMatchObject({
      amount_minor: 1999,
      currency: "JPY",
      click_id: "clk-9",
      source: "postback",
    });
    expect((await topic.forOrder(merchant.id, "G-2", 1))[0]?.event).toMatchObject({
      amount_minor: 1234,
      currency: "BHD",
      type: "sale",
    });
    const badToken = await fetch(
      `${urls.postbackUrl}/postback?${q({ token: "nope", order_id: "G-3", amount: "1", currency: "USD" })}`,
    );
    expect(badToken.status).toBe(401);
  });

  it("takes a signed form POST", async () => {
    const body = new URLSearchParams({ order_id: "F-1", amount: "700", currency: "GBP" }).toString();
    const header = signBody(merchant.postback_secret, body, Math.floor(Date.now() / 1000));
    const a = await send("/postback", body, {
      "content-type": "application/x-www-form-urlencoded",
      "x-signature": header,
      "x-merchant-id": String(merchant.id),
    });
    expect(a.status).toBe(202);
  });
});

describe("bad input: a 4xx with a code and the field paths, and the service stays up", () => {
  const post = (body: Record<string, unknown>) =>
    sendSigned(merchant, { order_id: "B-1", currency: "USD", amount: 1, ...body });
  it.each([
    ["a negative amount", { amount: -5 }, ["amount"]],
    ["a non-integer amount", { amount: 12.5 }, ["amount"]],
    ["an amount beyond the safe integer range", { amount: 2 ** 53 }, ["amount"]],
    ["an amount of the wrong type", { amount: true }, ["amount"]],
    ["an unknown currency", { currency: "XQZ" }, ["currency"]],
    ["a sale_amount with too many decimals", { amount: undefined, sale_amount: "1.999" }, ["sale_amount"]],
    ["a reject without a reason", { type: "reject" }, ["reason"]],
    ["an order id of the wrong type", { order_id: { $ne: 1 } }, ["order_id"]],
  ])("%s", async (_name, body, expected) => {
    const a = await post(body);
    expect(a.status).toBe(400);
    expect(a.json.error).toBe("validation_failed");
    expect(paths(a)).toEqual(expected);
  });

  it("malformed, non-object, unsupported and oversize bodies", async () => {
    expect(await sendSigned(merchant, "{")).toMatchObject({ status: 400, json: { error: "malformed_body" } });
    expect(await sendSigned(merchant, "[1,2]")).toMatchObject({ status: 400, json: { error: "malformed_body" } });
    expect(await send("/postback", "order_id=1", { "content-type": "text/plain" })).toMatchObject({
      status: 415,
      json: { error: "unsupported_media_type" },
    });
    expect(
      await sendSigned(merchant, { order_id: "B-2", amount: 1, currency: "USD", sub1: "x".repeat(70_000) }),
    ).toMatchObject({ status: 413, json: { error: "body_too_large" } });
    expect(await send("/postback", JSON.stringify({ merchant_id: "abc", order_id: "B-3" }))).toMatchObject({
      status: 400,
      json: { error: "validation_failed" },
    });
    expect((await fetch(`${urls.postbackUrl}/healthz`)).status).toBe(200);
  });
});

describe("batch endpoint", () => {
  it("answers each event: accepted, duplicate (also within the batch) or refused with its path", async () => {
    const a = await sendSigned(
      merchant,
      {
        events: [
          { order_id: "BA-1", amount: 100, currency: "USD" },
          { order_id: "BA-2", amount: -1, currency: "USD" },
          { order_id: "BA-1", amount: 100, currency: "USD" },
          { order_id: "BA-3", status: "approved" },
          42,
        ],
      },
      { path: "/v1/conversions/batch" },
    );
    expect(a.status).toBe(207);
    const results = a.json.results as {
      index: number;
      status: number;
      duplicate?: boolean;
      issues?: { path: string }[];
    }[];
    expect(results.map((r) => r.status)).toEqual([202, 400, 200, 202, 400]);
    expect(results[1]?.issues?.map((i) => i.path)).toEqual(["events.1.amount"]);
    expect(results[4]?.issues?.map((i) => i.path)).toEqual(["events.4"]);
    expect(results[2]?.duplicate).toBe(true);
    expect(await topic.forOrder(merchant.id, "BA-1", 1)).toHaveLength(1);
  });

  it("answers 202 for an all-good batch of 1,000 events and refuses 1,001", async () => {
    const events = Array.from({ length: 1000 }, (_, i) => ({ order_id: `BB-${i}`, amount: i + 1, currency: "USD" }));
    const ok = await sendSigned(merchant, { events }, { path: "/v1/conversions/batch" });
    expect(ok).toMatchObject({ status: 202, json: { accepted: 1000, rejected: 0 } });
    await topic.forOrder(merchant.id, "BB-999", 1);
    const tooMany = await sendSigned(
      merchant,
      { events: [...events, { order_id: "BB-x", amount: 1, currency: "USD" }] },
      { path: "/v1/conversions/batch" },
    );
    expect(tooMany).toMatchObject({ status: 413, json: { error: "batch_too_large" } });
    expect(await sendSigned(merchant, { events: [] }, { path: "/v1/conversions/batch" })).toMatchObject({
      status: 400,
    });
  });
});

describe("merchant credentials", () => {
  const admin = (path: string, body: unknown) =>
    api<Merchant & { ip_allowlist: string[] }>(urls.redirectUrl, `/api/merchants${path}`, body, ADMIN_KEY);

  it("keeps the old secret and token valid during the overlap after a rotation, and not after", async () => {
    const m = await newMerchant();
    const rotated = (await admin(`/${m.id}/rotate-credentials`, { overlap_s: 3600 })).json;
    expect(rotated.postback_secret).not.toBe(m.postback_secret);
    expect(
      (await sendSigned(rotated, { order_id: "R-1", amount: 1, currency: "USD" }, { secret: m.postback_secret }))
        .status,
    ).toBe(202);
    expect((await sendSigned(rotated, { order_id: "R-2", amount: 1, currency: "USD" })).status).toBe(202);
    const again = (await admin(`/${m.id}/rotate-credentials`, { overlap_s: 0 })).json;
    expect(
      await sendSigned(again, { order_id: "R-3", amount: 1, currency: "USD" }, { secret: rotated.postback_secret }),
    ).toMatchObject({ status: 401, json: { error: "bad_signature" } });
    // The first secret's own overlap (an hour) still runs.
    expect(
      (await sendSigned(again, { order_id: "R-4", amount: 1, currency: "USD" }, { secret: m.postback_secret })).status,
    ).toBe(202);
    const oldToken = await fetch(
      `${urls.postbackUrl}/postback?merchant_id=${m.id}&token=${rotated.postback_token}&order_id=R-5&amount=1&currency=USD`,
    );
    expect(oldToken.status).toBe(401);
    expect((await admin(`/${m.id}/rotate-credentials`, { overlap_s: -1 })).status).toBe(400);
    expect((await admin("/999999/rotate-credentials", {})).status).toBe(404);
  });

  it("refuses addresses outside the merchant's IP allowlist", async () => {
    const m = await newMerchant();
    expect((await admin(`/${m.id}/postback-settings`, { ip_allowlist: ["not-an-ip"] })).status).toBe(400);
    expect((await admin(`/${m.id}/postback-settings`, { ip_allowlist: ["203.0.113.0/24"] })).json.ip_allowlist).toEqual(
      ["203.0.113.0/24"],
    );
    expect(await sendSigned(m, { order_id: "IP-1", amount: 1, currency: "USD" })).toMatchObject({
      status: 403,
      json: { error: "ip_not_allowed" },
    });
    await admin(`/${m.id}/postback-settings`, { ip_allowlist: ["127.0.0.1", "::1"] });
    expect((await sendSigned(m, { order_id: "IP-2", amount: 1, currency: "USD" })).status).toBe(202);
  });
});
