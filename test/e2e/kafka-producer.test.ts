import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  ACKS_ALL,
  createKafka,
  createProducer,
  ensureTopics,
  type KafkaClientName,
  type KafkaMessage,
} from "../../packages/kafka/src";
import { createTestWorld, eventually, type TestWorld } from "../../packages/testing/src";

let world: TestWorld;
beforeAll(async () => {
  world = await createTestWorld(inject("stack"), "kafka_producer");
});
afterAll(() => world?.close());

const kafkaOf = (name: string) =>
  createKafka({ brokers: world.env.KAFKA_BROKERS ?? "", clientId: `${world.id}-${name}`, log: world.log });

/** Every message of `topic` with its partition, read from the beginning until `count` arrived. */
async function readTopic(topic: string, count: number) {
  const consumer = kafkaOf("reader").consumer({ groupId: `${world.id}.${topic}.reader` });
  const seen: (KafkaMessage & { partition: number })[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message, partition }) => {
      seen.push({ ...message, partition });
    },
  });
  try {
    return await eventually(
      async () => seen,
      (s) => s.length >= count,
      30_000,
    );
  } finally {
    await consumer.disconnect();
  }
}

const clients: KafkaClientName[] = ["platformatic", "kafkajs"];
const keys = Array.from({ length: 40 }, (_, i) => `conv-${i}`);
/** partition of each key, per client: both must place a key where the other (and the Java client) does */
const placement = new Map<KafkaClientName, Map<string, number>>();

describe.each(clients)("the %s producer", (client) => {
  it("writes keys, values, headers and null values, and says where each batch landed", async () => {
    const topic = `${world.id}.${client}`;
    const kafka = kafkaOf(client);
    await ensureTopics(kafka, [{ topic, numPartitions: 6, replicationFactor: 1 }]);
    const producer = createProducer(kafka, { client });
    await producer.connect();
    const batches = await producer.send({
      topic,
      acks: ACKS_ALL,
      messages: keys.map((key, i) => ({ key, value: `v${i}`, headers: { origin: "test", n: String(i) } })),
    });
    const [tombstone] = await producer.send({ topic, messages: [{ key: "gone", value: null }] });
    await producer.send({ topic, acks: ACKS_ALL, messages: [{ key: null, value: Buffer.from("unkeyed") }] });
    await producer.disconnect();

    const seen = await readTopic(topic, keys.length + 2);
    expect(seen).toHaveLength(keys.length + 2);
    const byKey = new Map(seen.map((m) => [m.key?.toString() ?? "", m]));
    placement.set(client, new Map(keys.map((k) => [k, byKey.get(k)?.partition ?? -1])));
    keys.forEach((key, i) => {
      const m = byKey.get(key);
      expect(m?.value?.toString()).toBe(`v${i}`);
      expect(m?.headers?.origin?.toString()).toBe("test");
      expect(m?.headers?.n?.toString()).toBe(String(i));
    });
    expect(byKey.get("gone")?.value).toBeNull();
    expect(byKey.get("")?.value?.toString()).toBe("unkeyed");
    // each partition's batch starts at its first message there (the offsets callers record, e.g. dead letters)
    for (const b of batches) {
      const first = seen.find((m) => m.partition === b.partition && m.offset === b.baseOffset);
      expect(first?.headers?.origin?.toString()).toBe("test");
    }
    expect(new Set(batches.map((b) => b.partition)).size).toBeGreaterThan(3);
    expect(
      seen.find((m) => m.partition === tombstone?.partition && m.offset === tombstone?.baseOffset)?.key?.toString(),
    ).toBe("gone");
  });

  it("rejects a record the broker refuses, naming the reason in the kafkajs words callers match", async () => {
    const topic = `${world.id}.${client}`;
    const producer = createProducer(kafkaOf(`${client}-large`), { client });
    await producer.connect();
    const tooLarge = producer.send({ topic, acks: ACKS_ALL, messages: [{ key: "k", value: "x".repeat(2_000_000) }] });
    await expect(tooLarge).rejects.toThrow(/larger than the max message size|batch larger than the configured segment/);
    // the producer is still usable after a refusal
    await expect(
      producer.send({ topic, acks: ACKS_ALL, messages: [{ key: "k", value: "small" }] }),
    ).resolves.toHaveLength(1);
    await producer.disconnect();
  });

  it("connects again after a disconnect (the redirect drops its producer after a failed send)", async () => {
    const topic = `${world.id}.${client}`;
    const producer = createProducer(kafkaOf(`${client}-again`), { client });
    await producer.connect();
    await producer.send({ topic, acks: ACKS_ALL, messages: [{ key: "k", value: "first" }] });
    await producer.disconnect();
    await producer.connect();
    await expect(
      producer.send({ topic, acks: ACKS_ALL, messages: [{ key: "k", value: "again" }] }),
    ).resolves.toHaveLength(1);
    await producer.disconnect();
  });
});

describe("both clients", () => {
  it("place every key on the same partition (murmur2 as the Java client), so a switch keeps each key's order", () => {
    expect(placement.get("platformatic")?.size).toBe(keys.length);
    expect(placement.get("platformatic")).toEqual(placement.get("kafkajs"));
  });
});
