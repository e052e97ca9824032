import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { z } from "zod";
import { Int64Text, sql } from "../../packages/clickhouse/src";
import { conversionId, deterministicId } from "../../packages/common/src";
import { ACKS_ALL, createKafka, createProducer } from "../../packages/kafka/src";
import { createTestWorld, eventually, type TestWorld } from "../../packages/testing/src";
import { startAttribution } from "../../services/attribution/src/app";
import { loadConfig as attributionConfig } from "../../services/attribution/src/config";
import { consumerLag } from "./consumer-group";
import { AROUND_TODAY, api, click, FINANCE_KEY, seedCampaign, startServices, type Urls } from "./helpers";

let world: TestWorld;
let urls: Urls;

beforeAll(async () => {
  world = await createTestWorld(inject("stack"), "poison");
  // the worker starts once the whole backlog is on the topic, so hostile messages share batches with sales
  urls = await startServices(world, { attribution: false });
});
afterAll(async () => {
  await world?.close();
});

const ORDINARY = 240;
/** ordinary sale i: 10% of 10000 + 10 i minor units */
const commissionOf = (i: number) => 1000 + i;

type Case = { name: string; key: string | null; value: Buffer | string | null; reasons: RegExp };

/** Messages that bypassed the postback service: each must end in the dead-letter topic with a reason. */
function hostileCases(sale: (over: Record<string, unknown>) => Record<string, unknown>): Case[] {
  const keyed = (name: string, over: Record<string, unknown>, reasons: RegExp): Case => {
    const e = sale(over);
    return { name, key: String(e.conversion_id), value: JSON.stringify(e), reasons };
  };
  const raw = (name: string, value: Buffer | string | null, reasons: RegExp): Case => ({
    name,
    key: "raw",
    value,
    reasons,
  });
  const base = sale({});
  const withoutType = { ...base, type: undefined };
  return [
    keyed("occurred_at far out of range", { occurred_at_ms: 9_000_000_000_000_000 }, /^(schema|time_out_of_range)/),
    keyed("received_at far out of range", { received_at_ms: 9_000_000_000_000_000 }, /^(schema|time_out_of_range)/),
    keyed("occurred_at in 2200", { occurred_at_ms: Date.UTC(2200, 0, 1) }, /^(schema|time_out_of_range)/),
    keyed("fractional occurred_at", { occurred_at_ms: Date.now() + 0.5 }, /^schema/),
    keyed("negative occurred_at", { occurred_at_ms: -1 }, /^schema/),
    keyed("amount 1e21", { amount_minor: 1e21 }, /^schema/),
    keyed("negative amount", { amount_minor: -100 }, /^schema/),
    keyed("amount as a string", { amount_minor: "100" }, /^schema/),
    keyed("type constructor", { type: "constructor" }, /^schema/),
    keyed("type __proto__", { type: "__proto__" }, /^schema/),
    keyed("type toString", { type: "toString" }, /^schema/),
    keyed("lower-case currency", { currency: "usd" }, /^schema/),
    keyed("merchant id 0", { merchant_id: 0 }, /^schema/),
    keyed("merchant id 2^40", { merchant_id: 2 ** 40 }, /^schema/),
    keyed("version 2", { v: 2 }, /^schema/),
    keyed("order id of 200k characters", { order_id: "x".repeat(200_000) }, /^schema/),
    // the event schema requires what the books need (packages/events); the worker's validate step is the backstop
    keyed("sale without amount", { amount_minor: undefined }, /^(schema|sale_without_amount)/),
    keyed("refund of zero", { type: "refund", amount_minor: 0, change_id: "r0" }, /^(schema|refund_of_zero)/),
    keyed("FX result past the bound", { currency: "GBP", amount_minor: 10 ** 12 }, /^(schema|amount_out_of_range)/),
    {
      name: "key is not the conversion id",
      key: "someone-else",
      value: JSON.stringify(base),
      reasons: /^key_mismatch/,
    },
    {
      name: "prototype pollution",
      key: String(base.conversion_id),
      value: JSON.stringify(withoutType).replace("{", '{"__proto__":{"type":"sale"},'),
      reasons: /^schema/,
    },
    raw("raw bytes", Buffer.from([0xff, 0xfe, 0x00, 0x7b]), /^invalid_json/),
    raw("tombstone", null, /^empty_message/),
    raw("empty value", "", /^(invalid_json|empty_message)/),
    raw("unterminated nesting", "[".repeat(100_000), /^invalid_json/),
    raw("deep nesting", `${"[".repeat(50_000)}${"]".repeat(50_000)}`, /^(schema|invalid_json)/),
    raw("an array", "[1,2,3]", /^schema/),
    raw("a string", '"sale"', /^schema/),
    raw("a number", "9000000000000000", /^schema/),
    raw("unicode garbage", "\ud800\u0000\uffff{}", /^invalid_json/),
  ];
}

const Count = z.object({ n: Int64Text, c: Int64Text });

describe("attribution worker fed hostile messages straight onto the postbacks topic", () => {
  it("books every ordinary sale exactly, dead-letters each hostile one with its reason, and catches up", async () => {
    const { merchant, link } = await seedCampaign(urls);
    const { clickId } = await click(urls, link.code);
    const fx = await api(urls.redirectUrl, "/api/fx-rates", {
      rates: [{ from: "GBP", to: "USD", rate: "999999999999.9999999999", effective_from_ms: 0 }],
    });
    expect(fx.status).toBe(201);
    const now = Date.now();
    const sale = (over: Record<string, unknown>) => {
      const order = String(over.order_id ?? `HOSTILE-${deterministicId(JSON.stringify(over))}`);
      return {
        v: 1,
        event_id: deterministicId("poison-test", order, JSON.stringify(over)),
        conversion_id: conversionId(merchant.id, order),
        merchant_id: merchant.id,
        order_id: order,
        type: "sale",
        click_id: clickId,
        amount_minor: 10_000,
        currency: "USD",
        occurred_at_ms: now - 60_000,
        received_at_ms: now,
        ...over,
      };
    };
    const cases = hostileCases(sale);

    const env = world.env;
    const topic = env.TOPIC_POSTBACKS ?? "";
    const kafka = createKafka({ brokers: env.KAFKA_BROKERS ?? "", clientId: "t-poison", log: world.log });
    const producer = createProducer(kafka);
    await producer.connect();
    const where = new Map<string, Case>();
    const perChunk = Math.ceil(ORDINARY / cases.length);
    for (let c = 0; c < cases.length; c++) {
      const ordinary = [];
      for (let i = c * perChunk; i < Math.min(ORDINARY, (c + 1) * perChunk); i++) {
        const e = sale({ order_id: `ORD-${i}`, amount_minor: 10_000 + 10 * i });
        ordinary.push({ key: e.conversion_id, value: JSON.stringify(e) });
      }
      if (ordinary.length > 0) await producer.send({ topic, acks: ACKS_ALL, messages: ordinary });
      const hostile = cases[c] as Case;
      const [meta] = await producer.send({
        topic,
        acks: ACKS_ALL,
        messages: [{ key: hostile.key, value: hostile.value }],
      });
      where.set(`${meta?.partition}:${meta?.baseOffset}`, hostile);
    }
    await producer.disconnect();
    expect(where.size).toBe(cases.length);
    expect(new Set([...where.keys()].map((k) => k.split(":")[0])).size).toBeGreaterThan(3);

    await startAttribution(attributionConfig(env), {
      log: world.log,
      lifecycle: world.lifecycle,
    });

    // every ordinary sale booked exactly once, with its exact commission
    const booked = await eventually(
      () =>
        world.ch.query(
          "t_ordinary",
          sql`SELECT count() AS n, sum(commission_minor) AS c FROM commission_ledger_v1 FINAL
            WHERE conversion_id IN (SELECT conversion_id FROM conversions_v1 WHERE order_id LIKE 'ORD-%')`,
          Count,
        ),
      (r) => r[0]?.n === ORDINARY,
      120_000,
    );
    let expected = 0;
    for (let i = 0; i < ORDINARY; i++) expected += commissionOf(i);
    expect(booked[0]?.c).toBe(expected);

    // each hostile message is in the dead-letter topic, with a reason that names what is wrong with it
    const letters = await readDeadLetters(kafka, env.TOPIC_DEAD_LETTERS ?? "", cases.length);
    for (const [at, c] of where) {
      const reason = letters.get(at);
      expect({ case: c.name, reason }).toEqual({ case: c.name, reason: expect.stringMatching(c.reasons) });
    }
    expect(letters.size).toBe(cases.length);

    // the consumer group catches up with every partition: nothing holds a partition
    const admin = kafka.admin();
    await admin.connect();
    await eventually(
      async () => consumerLag(admin, env.GROUP_CONVERSIONS ?? "", topic),
      (l) => l === 0,
      60_000,
    );
    await admin.disconnect();

    const report = await fetch(`${urls.reportsUrl}/v1/reports/commissions?${AROUND_TODAY}`, {
      headers: { authorization: `Bearer ${FINANCE_KEY}` },
    });
    expect(report.status).toBe(200);
  });
});

/** `partition:offset` of the source message -> reason, for every dead letter (duplicates collapse). */
async function readDeadLetters(kafka: ReturnType<typeof createKafka>, topic: string, atLeast: number) {
  const letters = new Map<string, string>();
  const consumer = kafka.consumer({ groupId: `${world.id}.t-dead-letters` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const h = (name: string) => message.headers?.[name]?.toString() ?? "";
      letters.set(`${h("dlq_partition")}:${h("dlq_offset")}`, h("dlq_reason"));
    },
  });
  await eventually(
    async () => letters.size,
    (n) => n >= atLeast,
    60_000,
  );
  await consumer.disconnect();
  return letters;
}
