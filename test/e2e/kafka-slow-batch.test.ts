// A batch that takes longer than the consumer group's session timeout must still commit once: the member keeps
// heartbeating while its handler works, so it is not evicted and the batch is not handed out again.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ACKS_ALL, createBatchConsumer, createKafka, createProducer, ensureTopics } from "../../packages/kafka/src";
import { createTestWorld, eventually, type TestWorld } from "../../packages/testing/src";
import { consumerLag } from "./consumer-group";

let world: TestWorld;
beforeAll(async () => {
  world = await createTestWorld(inject("stack"), "kafka_slow_batch");
});
afterAll(() => world?.close());

describe("a batch slower than the session timeout", () => {
  it("is handled once and committed, without the member being evicted", async () => {
    const kafka = createKafka({ brokers: world.env.KAFKA_BROKERS ?? "", clientId: world.id, log: world.log });
    const topic = `${world.id}.slow`;
    const groupId = `${world.id}.slow.group`;
    await ensureTopics(kafka, [{ topic, numPartitions: 1, replicationFactor: 1 }]);
    const producer = createProducer(kafka);
    await producer.connect();
    await producer.send({ topic, acks: ACKS_ALL, messages: [{ key: "k", value: "slow" }] });
    await producer.disconnect();

    const SESSION_MS = 6_000;
    let calls = 0;
    const consumer = createBatchConsumer({
      kafka,
      groupId,
      topic,
      log: world.log,
      sessionTimeoutMs: SESSION_MS,
      // three session timeouts of work, as a ClickHouse write on a saturated host can take
      handle: async () => {
        calls++;
        await new Promise((r) => setTimeout(r, 3 * SESSION_MS));
      },
    });
    await consumer.start();
    const admin = kafka.admin();
    await admin.connect();
    try {
      await eventually(
        () => consumerLag(admin, groupId, topic),
        (lag) => lag === 0,
        60_000,
        500,
      );
      // a member evicted mid-batch would have its commit refused and be handed the batch again
      await new Promise((r) => setTimeout(r, 2 * SESSION_MS));
      expect(calls).toBe(1);
    } finally {
      await admin.disconnect();
      await consumer.stop();
    }
  });
});
