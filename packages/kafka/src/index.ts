import { errorMessage, type Logger } from "@aff/common";
import { type Consumer, type EachBatchPayload, Kafka, type KafkaMessage, logLevel } from "kafkajs";
import { rememberSettings } from "./producer";

export type { Consumer, KafkaMessage } from "kafkajs";
export {
  ACKS_ALL,
  createProducer,
  type KafkaClientName,
  KafkaSendError,
  type OutgoingMessage,
  type ProducedBatch,
  type ProduceRequest,
  type Producer,
} from "./producer";

/**
 * A kafkajs client (admin, consumers) whose own logs go through our pino logger; `createProducer` builds its
 * producer from the same settings, with the client KAFKA_CLIENT names.
 */
export function createKafka(opts: { brokers: string; clientId: string; log: Logger }): Kafka {
  const brokers = opts.brokers.split(",").map((b) => b.trim());
  const toPino = (level: logLevel) =>
    level === logLevel.ERROR ? "error" : level === logLevel.WARN ? "warn" : level === logLevel.INFO ? "info" : "debug";
  const kafka = new Kafka({
    clientId: opts.clientId,
    brokers,
    connectionTimeout: 3_000,
    requestTimeout: 30_000,
    retry: { initialRetryTime: 300, maxRetryTime: 5_000, retries: 10 },
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log }) => {
        const { message, ...rest } = log;
        opts.log[toPino(level)](
          { kafkajs: rest },
          `kafkajs_${String(message)
            .toLowerCase()
            .replace(/[^a-z0-9]+/g, "_")
            .slice(0, 60)}`,
        );
      },
  });
  rememberSettings(kafka, { brokers, clientId: opts.clientId, log: opts.log });
  return kafka;
}

export type TopicSpec = {
  topic: string;
  numPartitions: number;
  replicationFactor: number;
  /** acks=all then needs this many in-sync replicas (undefined: the broker's default) */
  minInsyncReplicas?: number;
};

/** The spec of a topic a service creates at boot, from the shared Kafka variables (`kafkaEnv`). */
export function topicSpec(
  config: {
    KAFKA_PARTITIONS: number;
    KAFKA_REPLICATION_FACTOR: number;
    KAFKA_MIN_INSYNC_REPLICAS?: number | undefined;
  },
  topic: string,
): TopicSpec {
  return {
    topic,
    numPartitions: config.KAFKA_PARTITIONS,
    replicationFactor: config.KAFKA_REPLICATION_FACTOR,
    minInsyncReplicas: config.KAFKA_MIN_INSYNC_REPLICAS,
  };
}

const createRequest = ({ minInsyncReplicas, ...t }: TopicSpec) => ({
  ...t,
  configEntries:
    minInsyncReplicas === undefined ? [] : [{ name: "min.insync.replicas", value: String(minInsyncReplicas) }],
});

/**
 * Creates missing topics and waits until every partition has a leader. A fresh broker may briefly answer
 * "does not host this topic-partition" for a topic it just created, and two services may race to create the
 * same topic: both are retried here rather than failing the boot.
 */
export async function ensureTopics(kafka: Kafka, topics: TopicSpec[], timeoutMs = 60_000): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  const deadline = Date.now() + timeoutMs;
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        const existing = new Set(await admin.listTopics());
        const missing = topics.filter((t) => !existing.has(t.topic));
        if (missing.length > 0) await admin.createTopics({ topics: missing.map(createRequest), waitForLeaders: false });
        const meta = await admin.fetchTopicMetadata({ topics: topics.map((t) => t.topic) });
        const ready = meta.topics.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0));
        if (ready) return;
      } catch (err) {
        if (Date.now() > deadline) throw err;
      }
      if (Date.now() > deadline)
        throw new Error(`topics not ready after ${timeoutMs} ms: ${topics.map((t) => t.topic).join(", ")}`);
      await new Promise((r) => setTimeout(r, Math.min(2_000, 100 * 2 ** attempt)));
    }
  } finally {
    await admin.disconnect();
  }
}

/**
 * Runs `work` while heartbeating the group every `intervalMs`. kafkajs heartbeats only when asked to inside eachBatch:
 * a batch slower than the session timeout (a loaded host, ClickHouse slow to answer) got its member evicted, its
 * commit refused with UNKNOWN_MEMBER_ID, and the rejoined consumer took the same slow batch again, forever. A failed
 * heartbeat (a rebalance under way) is left to the commit, which then fails and restarts the consumer.
 */
export async function whileBeating<T>(
  heartbeat: () => Promise<void>,
  intervalMs: number,
  work: () => Promise<T>,
): Promise<T> {
  const beat = setInterval(() => void heartbeat().catch(() => undefined), intervalMs);
  try {
    return await work();
  } finally {
    clearInterval(beat);
  }
}

export type BatchHandler = (messages: KafkaMessage[], ctx: { topic: string; partition: number }) => Promise<void>;

export type BatchConsumerOptions = {
  kafka: Kafka;
  groupId: string;
  topic: string;
  log: Logger;
  handle: BatchHandler;
  /** called after each committed batch with its size and duration */
  onBatch?: (info: { topic: string; partition: number; size: number; ms: number }) => void;
  /** names the class of a failure for the retry log line and `onRetry` (default: the error's name) */
  classifyError?: (err: unknown) => string;
  /** called before each retry of a failed batch */
  onRetry?: (info: { topic: string; partition: number; attempt: number; reasonClass: string }) => void;
  /** batches slower than this log a warning */
  slowBatchMs?: number;
  partitionsConsumedConcurrently?: number;
  /** test-only fault injection: runs after the write, before the commit */
  afterWriteBeforeCommit?: () => void;
  fromBeginning?: boolean;
  /** ms without a heartbeat before the group drops a member (a killed worker's partitions wait this long) */
  sessionTimeoutMs?: number;
};

export type BatchConsumer = {
  consumer: Consumer;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** false when no fetch completed, or a batch has been retried, for `stallMs` (a stuck loop) */
  healthy(stallMs?: number): boolean;
};

/**
 * eachBatch consumption where offsets are committed only after `handle` resolved (the write was acknowledged).
 * A failing handler is retried with backoff, heartbeating, until it succeeds or we shut down; the batch is then
 * abandoned uncommitted and will be delivered again. Handlers throw only what retrying can cure (an outage): a
 * message that can never be written is theirs to set aside, or it would hold its partition here forever.
 */
export function createBatchConsumer(o: BatchConsumerOptions): BatchConsumer {
  const sessionTimeout = o.sessionTimeoutMs ?? 10_000;
  const heartbeatInterval = Math.max(500, Math.floor(sessionTimeout / 5));
  const consumer = o.kafka.consumer({
    groupId: o.groupId,
    sessionTimeout,
    rebalanceTimeout: Math.max(sessionTimeout, 10_000),
    heartbeatInterval,
    maxBytesPerPartition: 4 * 1024 * 1024,
  });
  let stopping = false;
  let lastFetchAt = Date.now();
  consumer.on(consumer.events.FETCH, () => {
    lastFetchAt = Date.now();
  });
  /** since when each partition's current batch has been failing (a retrying batch holds its partition) */
  const failingSince = new Map<string, number>();
  const classify = o.classifyError ?? ((err: unknown) => (err instanceof Error ? err.name : "thrown_value"));

  const eachBatch = async ({ batch, heartbeat, isRunning, isStale, resolveOffset }: EachBatchPayload) => {
    if (batch.messages.length === 0) return;
    const t0 = performance.now();
    const ctx = { topic: batch.topic, partition: batch.partition };
    const key = `${batch.topic}:${batch.partition}`;
    try {
      for (let attempt = 0; ; attempt++) {
        if (!isRunning() || isStale() || stopping) return;
        try {
          await whileBeating(heartbeat, heartbeatInterval, () => o.handle(batch.messages, ctx));
          break;
        } catch (err) {
          const delay = Math.min(5_000, 200 * 2 ** attempt);
          const reasonClass = classify(err);
          if (!failingSince.has(key)) failingSince.set(key, Date.now());
          o.log.warn(
            { ...ctx, attempt, delay_ms: delay, reason_class: reasonClass, err: errorMessage(err) },
            "batch_retry",
          );
          o.onRetry?.({ ...ctx, attempt, reasonClass });
          await new Promise((r) => setTimeout(r, delay));
          await heartbeat().catch(() => undefined);
        }
      }
    } finally {
      failingSince.delete(key);
    }
    o.afterWriteBeforeCommit?.();
    const last = batch.messages[batch.messages.length - 1];
    if (!last) return;
    const next = (BigInt(last.offset) + 1n).toString();
    await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: next }]);
    // without this kafkajs fetches the same batch again (eachBatchAutoResolve is off): committed is not resolved
    resolveOffset(last.offset);
    const ms = performance.now() - t0;
    o.onBatch?.({ ...ctx, size: batch.messages.length, ms });
    if (ms > (o.slowBatchMs ?? 5_000)) o.log.warn({ ...ctx, size: batch.messages.length, ms }, "slow_batch");
    await heartbeat();
  };

  const run = async () => {
    await consumer.connect();
    await consumer.subscribe({ topic: o.topic, fromBeginning: o.fromBeginning ?? true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: o.partitionsConsumedConcurrently ?? 3,
      eachBatch,
    });
  };
  // kafkajs gives up for good on errors it calls non-retriable (a commit refused with UNKNOWN_MEMBER_ID after a
  // rebalance fenced a slow member): the process lives on with a dead consumer. Start it again from the committed
  // offsets; the batch whose commit was refused is written again, which the books absorb (idempotent writes).
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    if (payload.restart || stopping) return;
    o.log.error({ topic: o.topic, err: errorMessage(payload.error) }, "consumer_crashed_restarting");
    const again = (delayMs: number) =>
      setTimeout(() => {
        if (stopping) return;
        consumer
          .disconnect()
          .then(run)
          .catch((err) => {
            o.log.error({ topic: o.topic, err: errorMessage(err) }, "consumer_restart_failed");
            again(Math.min(30_000, delayMs * 2));
          });
      }, delayMs);
    again(1_000);
  });

  return {
    consumer,
    start: run,
    async stop() {
      stopping = true;
      await consumer.disconnect();
    },
    healthy(stallMs = 60_000) {
      const now = Date.now();
      for (const since of failingSince.values()) if (now - since >= stallMs) return false;
      return !stopping && now - lastFetchAt < stallMs;
    },
  };
}
