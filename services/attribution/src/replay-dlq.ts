import { createLogger, errorMessage, type Logger } from "@aff/common";
import { ACKS_ALL, createKafka, createProducer, type KafkaMessage } from "@aff/kafka";
import { type AttributionConfig, loadConfig } from "./config";

export type Replay = { topic: string; key: Buffer | null; value: Buffer | null; headers: Record<string, string> };

const header = (m: KafkaMessage, name: string) => m.headers?.[name]?.toString();

/** Dead letters to send back to their source topic: reason matching the prefix, source one of ours. */
export function selectReplays(
  messages: KafkaMessage[],
  reasonPrefix: string,
  sourceTopics: readonly string[],
): Replay[] {
  const out: Replay[] = [];
  for (const m of messages) {
    const reason = header(m, "dlq_reason") ?? "";
    const topic = header(m, "dlq_topic") ?? "";
    if (!reason.startsWith(reasonPrefix) || !sourceTopics.includes(topic)) continue;
    out.push({
      topic,
      key: m.key,
      value: m.value,
      headers: { dlq_replayed_reason: reason, dlq_replayed_offset: m.offset },
    });
  }
  return out;
}

/**
 * Sends dead letters back to the topic they came from (after the cause was fixed: a campaign created, an FX rate
 * loaded) and stops once it has read everything that was in the dead-letter topic when it started. Replaying twice
 * is harmless: event ids are deterministic and the books dedupe them.
 */
export async function replayDeadLetters(
  config: AttributionConfig,
  log: Logger,
): Promise<{ read: number; replayed: number }> {
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: `${config.KAFKA_CLIENT_ID}-dlq-replay`, log });
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map(
    (await admin.fetchTopicOffsets(config.TOPIC_DEAD_LETTERS)).map((p) => [p.partition, BigInt(p.high)]),
  );
  await admin.disconnect();
  const producer = createProducer(kafka);
  await producer.connect();
  const consumer = kafka.consumer({ groupId: config.DLQ_REPLAY_GROUP });
  await consumer.connect();
  await consumer.subscribe({ topic: config.TOPIC_DEAD_LETTERS, fromBeginning: true });
  let read = 0;
  let replayed = 0;
  await admin.connect();
  /** done once the group's committed offsets reach the ends seen at start (empty partitions count as done) */
  const caughtUp = async () => {
    const committed = new Map<number, bigint>();
    for (const t of await admin.fetchOffsets({ groupId: config.DLQ_REPLAY_GROUP, topics: [config.TOPIC_DEAD_LETTERS] }))
      for (const p of t.partitions) committed.set(p.partition, BigInt(p.offset));
    return [...ends].every(([p, end]) => end === 0n || (committed.get(p) ?? -1n) >= end);
  };
  const done = (async () => {
    while (!(await caughtUp().catch(() => false))) await new Promise((r) => setTimeout(r, 500));
  })();
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      const replays = selectReplays(batch.messages, config.DLQ_REPLAY_REASON, [
        config.TOPIC_POSTBACKS,
        config.TOPIC_CLICKS,
      ]);
      for (const r of replays)
        await producer.send({
          topic: r.topic,
          acks: ACKS_ALL,
          messages: [{ key: r.key, value: r.value, headers: r.headers }],
        });
      const last = batch.messages[batch.messages.length - 1];
      if (!last) return;
      const next = BigInt(last.offset) + 1n;
      await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: next.toString() }]);
      read += batch.messages.length;
      replayed += replays.length;
      log.info(
        { partition: batch.partition, read: batch.messages.length, replayed: replays.length },
        "dead_letters_replayed",
      );
    },
  });
  await done;
  await consumer.disconnect();
  await producer.disconnect();
  await admin.disconnect();
  return { read, replayed };
}

if (require.main === module) {
  const config = loadConfig();
  const log = createLogger("dlq-replay", config.LOG_LEVEL);
  replayDeadLetters(config, log).then(
    (r) => {
      log.info(r, "dlq_replay_done");
      console.log(JSON.stringify(r));
      process.exit(0);
    },
    (err) => {
      log.error({ err: errorMessage(err) }, "dlq_replay_failed");
      process.exit(1);
    },
  );
}
