import type { createKafka } from "../../packages/kafka/src";
import { eventually } from "../../packages/testing/src";

export type KafkaAdmin = ReturnType<ReturnType<typeof createKafka>["admin"]>;

/** Messages of `topic` the group has not committed yet, summed over partitions (0: caught up). */
export async function consumerLag(admin: KafkaAdmin, groupId: string, topic: string): Promise<number> {
  const ends = await admin.fetchTopicOffsets(topic);
  const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
  let total = 0;
  for (const p of ends) {
    const at = committed?.partitions.find((c) => c.partition === p.partition)?.offset ?? "-1";
    total += Number(p.high) - Math.max(0, Number(at));
  }
  return total;
}

/**
 * Forces a replay of the whole topic by the group: waits until the group has no member (Kafka refuses to move the
 * offsets of an active group), then sets every partition's committed offset to the earliest one still stored.
 * Returns the number of messages the group will read again.
 */
export async function rewindGroup(admin: KafkaAdmin, groupId: string, topic: string): Promise<number> {
  await eventually(
    async () => (await admin.describeGroups([groupId])).groups[0]?.state,
    (state) => state === "Empty" || state === "Dead",
    60_000,
    500,
  );
  await admin.resetOffsets({ groupId, topic, earliest: true });
  return consumerLag(admin, groupId, topic);
}
