import { errorMessage, kafkaEnv, type Logger } from "@aff/common";
import {
  murmur2,
  type Partitioner as PlatformaticPartitioner,
  Producer as PlatformaticProducer,
  type ProduceResult,
} from "@platformatic/kafka";
import { type Kafka, type Producer as KafkajsProducer, Partitioners } from "kafkajs";

/** One record to produce; the shape the services have always sent (kafkajs's), so no call site changed. */
export type OutgoingMessage = {
  key?: string | Buffer | null;
  value: string | Buffer | null;
  headers?: Record<string, string | Buffer | undefined>;
};
export type ProduceRequest = { topic: string; acks?: number; messages: OutgoingMessage[] };
/** Where the records of one partition landed. */
export type ProducedBatch = { topic: string; partition: number; baseOffset: string };

/**
 * The producer every service uses. `send` resolves only once the broker acknowledged every message with `acks`
 * (ACKS_ALL: every in-sync replica), and rejects otherwise: the caller decides what a failure means (a 503, a
 * spool, a retried batch).
 */
export interface Producer {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  send(request: ProduceRequest): Promise<ProducedBatch[]>;
}

export type KafkaClientName = "kafkajs" | "platformatic";

export const ACKS_ALL = -1;

/** Connection settings of a `createKafka` client, kept so a producer of the other client can be built from it. */
export type KafkaSettings = { brokers: string[]; clientId: string; log: Logger };
const settingsOf = new WeakMap<Kafka, KafkaSettings>();
export const rememberSettings = (kafka: Kafka, settings: KafkaSettings) => settingsOf.set(kafka, settings);

/** The producer client chosen by KAFKA_CLIENT (docs/adr/0009); validated by the same schema the services use. */
export const defaultClient = (): KafkaClientName => kafkaEnv.KAFKA_CLIENT.parse(process.env.KAFKA_CLIENT);

/**
 * A producer with acks from all in-sync replicas, idempotent unless `idempotent` is false (KAFKA_IDEMPOTENT=false).
 * `@platformatic/kafka` by default; kafkajs 2.2.4 stays selectable (`client: "kafkajs"`, KAFKA_CLIENT=kafkajs) for
 * side-by-side runs. Neither kafkajs mode survives a partition leader's SIGKILL cleanly (docs/adr/0008, 0009).
 */
export function createProducer(kafka: Kafka, opts: { idempotent?: boolean; client?: KafkaClientName } = {}): Producer {
  const idempotent = opts.idempotent ?? true;
  const client = opts.client ?? defaultClient();
  if (client === "kafkajs") return kafkajsProducer(kafka, idempotent);
  const settings = settingsOf.get(kafka);
  if (!settings) throw new Error("createProducer needs a client made by createKafka");
  return platformaticProducer(settings, idempotent);
}

function kafkajsProducer(kafka: Kafka, idempotent: boolean): Producer {
  const p: KafkajsProducer = kafka.producer({
    idempotent,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  return {
    connect: () => p.connect(),
    disconnect: () => p.disconnect(),
    async send({ topic, acks, messages }) {
      const meta = await p.send({ topic, acks: acks ?? ACKS_ALL, messages });
      return meta.map((m) => ({ topic: m.topicName, partition: m.partition, baseOffset: m.baseOffset ?? "-1" }));
    },
  };
}

/** The Java client's (and kafkajs's DefaultPartitioner's) choice: keyed records land where they always did. */
function javaCompatiblePartitioner(): PlatformaticPartitioner<Buffer, Buffer, Buffer, Buffer> {
  let next = 0;
  return (_message, key) => (key && key.length > 0 ? murmur2(key) & 0x7fffffff : next++ & 0x7fffffff);
}

const toBuffer = (v: string | Buffer | null | undefined) => (typeof v === "string" ? Buffer.from(v) : (v ?? undefined));

function toHeaders(headers: OutgoingMessage["headers"]): Map<Buffer, Buffer> | undefined {
  if (!headers) return undefined;
  const out = new Map<Buffer, Buffer>();
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) out.set(Buffer.from(k), toBuffer(v) as Buffer);
  return out;
}

/** 300 ms doubling to 5 s, 10 retries: about 35 s, the budget kafkajs was given (covers a broker restart). */
const RETRIES = 10;
const retryDelay = (_client: unknown, _op: string, attempt: number) => Math.min(5_000, 300 * 2 ** (attempt - 1));

/**
 * A closed @platformatic/kafka client never reopens, while callers reconnect after a disconnect (the redirect drops
 * its producer after a failed send, for a fresh producer id): each connect after a disconnect builds a new client.
 */
function platformaticProducer(s: KafkaSettings, idempotent: boolean): Producer {
  let client: PlatformaticProducer<Buffer, Buffer, Buffer, Buffer> | undefined;
  const open = () => {
    client ??= newPlatformaticClient(s, idempotent);
    return client;
  };
  return {
    async connect() {
      await open()
        .metadata({ topics: [] })
        .catch((err: unknown) => Promise.reject(sendError(err)));
    },
    async disconnect() {
      const closing = client;
      client = undefined;
      await closing?.close();
    },
    async send({ topic, acks, messages }) {
      let result: ProduceResult;
      try {
        result = await open().send({
          acks: acks ?? ACKS_ALL,
          messages: messages.map((m) => ({
            topic,
            key: toBuffer(m.key),
            value: toBuffer(m.value),
            headers: toHeaders(m.headers),
          })),
        });
      } catch (err) {
        throw sendError(err);
      }
      return (result.offsets ?? []).map((o) => ({
        topic: o.topic,
        partition: o.partition,
        baseOffset: o.offset.toString(),
      }));
    },
  };
}

function newPlatformaticClient(s: KafkaSettings, idempotent: boolean) {
  const p = new PlatformaticProducer<Buffer, Buffer, Buffer, Buffer>({
    clientId: s.clientId,
    bootstrapBrokers: s.brokers,
    idempotent,
    acks: ACKS_ALL,
    retries: RETRIES,
    retryDelay,
    connectTimeout: 3_000,
    timeout: 30_000,
    autocreateTopics: false,
    partitioner: javaCompatiblePartitioner(),
  });
  let warnedDown = false;
  p.on("client:broker:failed", ({ broker }) => {
    if (!warnedDown) s.log.warn({ broker }, "kafka_producer_broker_failed");
    warnedDown = true;
  });
  p.on("client:broker:connect", () => {
    warnedDown = false;
  });
  return p;
}

/** The innermost messages of a nested client error ("Producing messages failed." says nothing by itself). */
function leafMessages(err: unknown, out: string[] = []): string[] {
  if (err instanceof AggregateError && err.errors.length > 0) for (const e of err.errors) leafMessages(e, out);
  else if (err instanceof Error && err.cause) leafMessages(err.cause, out);
  else out.push(errorMessage(err));
  return out;
}

/**
 * A send failure whose message names the broker's reasons, so callers that read them (the dead-letter sink's
 * "larger than the max message size") see the same words from either client.
 */
export class KafkaSendError extends Error {
  override name = "KafkaSendError";
}
function sendError(err: unknown): KafkaSendError {
  const reasons = [...new Set(leafMessages(err))].slice(0, 5).join("; ");
  return new KafkaSendError(`${errorMessage(err)} ${reasons}`.trim(), { cause: err });
}
