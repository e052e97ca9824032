// npm run bench:kafka-clients: the producer clients side by side in one run against the single-node stack
// (docs/adr/0009). Each client, in a process of its own, produces BENCH_MESSAGES postback-sized events with
// acks=all, idempotent (the services' settings), in two patterns:
//   direct:    BENCH_CONCURRENCY callers, each awaiting a send of its one event before the next (many small sends
//              in flight);
//   coalesced: the same callers through the postback's own coalescing publisher (services/postback), which turns
//              the sends that queue while one is in flight into the next send.
// Figures: acknowledged messages per second and the producing process's CPU per message (user + system). Then the
// bare kafkajs consumer's read rate over the same topic (no processing), so a later consumer switch is compared
// with the old client's bare figure, not a slower one; and @platformatic/kafka's consumer stream over the same topic,
// for direction only. Last line: one JSON object.
// BENCH_MESSAGES (default 20000), BENCH_CONCURRENCY (64), BENCH_ROUNDS (1: each client once per pattern, alternating),
// BENCH_WARMUP (3000 unmeasured messages per client and pattern first).
import { fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { conversionId, createLogger, deterministicId } from "@aff/common";
import { createKafka, createProducer, ensureTopics } from "@aff/kafka";
import { isolatedEnv, startNativeStack } from "@aff/testing";
import { Consumer as PlatformaticConsumer } from "@platformatic/kafka";
import { createCoalescingPublisher } from "../services/postback/dist/publisher.js";

const N = Number(process.env.BENCH_MESSAGES ?? 20_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);
/** messages each client sends, unmeasured, before the runs: the first writes to a fresh topic are slower */
const WARMUP = Number(process.env.BENCH_WARMUP ?? 3_000);
const CLIENTS = ["platformatic", "kafkajs"];
const PATTERNS = ["direct", "coalesced"];
const say = (msg) => process.stderr.write(`[bench] ${msg}\n`);
const log = createLogger("bench", process.env.BENCH_LOG_LEVEL ?? "warn");

/** A sale as the postback publishes it (the same fields and sizes; ids derived from the order). */
function saleEvent(i) {
  const conv = conversionId(4242, `BENCH-ORDER-${i}`);
  const now = Date.now();
  return {
    key: conv,
    value: JSON.stringify({
      v: 1,
      event_id: deterministicId(conv, "sale"),
      conversion_id: conv,
      merchant_id: 4242,
      order_id: `BENCH-ORDER-${i}`,
      type: "sale",
      click_id: `c1.${randomBytes(24).toString("base64url")}`,
      amount_minor: 1000 + (i % 50_000),
      currency: "USD",
      coupon: null,
      sub1: "newsletter",
      occurred_at_ms: now,
      received_at_ms: now,
    }),
  };
}

/** Child: produce N events with one client and pattern; report rate and CPU per message. */
async function produce({ brokers, topic, client, pattern, n }) {
  const kafka = createKafka({ brokers, clientId: `bench-${client}`, log });
  const producer = createProducer(kafka, { client });
  await producer.connect();
  // warm-up: connections, metadata, producer id, JIT
  await producer.send({ topic, acks: -1, messages: [saleEvent(-1)] });
  const events = Array.from({ length: n }, (_, i) => saleEvent(i));
  const publisher = createCoalescingPublisher(producer, topic, { maxBatchMessages: 2_000, timeoutMs: 60_000 });
  const sendOne =
    pattern === "direct" ? (e) => producer.send({ topic, acks: -1, messages: [e] }) : (e) => publisher.publish([e]);
  let next = 0;
  const caller = async () => {
    while (next < n) await sendOne(events[next++]);
  };
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, caller));
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  await producer.disconnect();
  return {
    msgs_per_s: Math.round((n / ms) * 1000),
    cpu_us_per_msg: Number(((cpu.user + cpu.system) / n).toFixed(1)),
  };
}

/** The bare kafkajs consumer: every message of `topic` read (eachBatch, nothing done with it), per second. */
async function bareConsumerRate(brokers, topic, total) {
  const kafka = createKafka({ brokers, clientId: "bench-reader", log });
  const consumer = kafka.consumer({ groupId: `${topic}.bare`, maxBytesPerPartition: 4 * 1024 * 1024 });
  let read = 0;
  let t0 = 0;
  let done;
  const finished = new Promise((r) => {
    done = r;
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      if (t0 === 0) t0 = performance.now();
      read += batch.messages.length;
      if (read >= total) done(performance.now());
    },
  });
  const t1 = await finished;
  await consumer.disconnect();
  return Math.round((read / (t1 - t0)) * 1000);
}

/** The same read with @platformatic/kafka's consumer stream (direction for a later consumer switch only). */
async function platformaticConsumerRate(brokers, topic, total) {
  const consumer = new PlatformaticConsumer({
    clientId: "bench-reader-platformatic",
    groupId: `${topic}.bare-platformatic`,
    bootstrapBrokers: brokers.split(","),
  });
  const stream = await consumer.consume({
    topics: [topic],
    mode: "earliest",
    autocommit: false,
    maxBytesPerPartition: 4 * 1024 * 1024,
  });
  let read = 0;
  let t0 = 0;
  for await (const _ of stream) {
    if (t0 === 0) t0 = performance.now();
    if (++read >= total) break;
  }
  const t1 = performance.now();
  await stream.close();
  await consumer.close(true);
  return Math.round((read / (t1 - t0)) * 1000);
}

function inChild(args) {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ["--child", JSON.stringify(args)], {
      env: { ...process.env, KAFKAJS_NO_PARTITIONER_WARNING: "1" },
    });
    child.on("message", resolve);
    child.on("exit", (code) => (code === 0 ? undefined : reject(new Error(`child exited ${code}`))));
  });
}

if (process.argv[2] === "--child") {
  process.send(await produce(JSON.parse(process.argv[3])));
  process.exit(0);
}

const stack = startNativeStack();
const id = `bench_kclients_${randomBytes(4).toString("hex")}`;
const env = isolatedEnv(stack, id);
const topic = env.TOPIC_POSTBACKS;
await ensureTopics(createKafka({ brokers: env.KAFKA_BROKERS, clientId: "bench-admin", log }), [
  { topic, numPartitions: 6, replicationFactor: 1 },
]);
say(`${N} events of ~${Buffer.byteLength(saleEvent(0).value)} bytes, ${CONCURRENCY} callers, topic ${topic}`);

for (const client of CLIENTS)
  for (const pattern of PATTERNS) await inChild({ brokers: env.KAFKA_BROKERS, topic, client, pattern, n: WARMUP });
const runs = Object.fromEntries(CLIENTS.map((c) => [c, Object.fromEntries(PATTERNS.map((p) => [p, []]))]));
for (let round = 0; round < ROUNDS; round++)
  for (const pattern of PATTERNS)
    for (const client of round % 2 === 0 ? CLIENTS : [...CLIENTS].reverse()) {
      const r = await inChild({ brokers: env.KAFKA_BROKERS, topic, client, pattern, n: N });
      say(`round ${round + 1} ${client} ${pattern}: ${r.msgs_per_s} msgs/s, ${r.cpu_us_per_msg} µs CPU per message`);
      runs[client][pattern].push(r);
    }
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const summary = (client) =>
  Object.fromEntries(
    PATTERNS.flatMap((p) => [
      [`${p}_msgs_per_s`, median(runs[client][p].map((r) => r.msgs_per_s))],
      [`${p}_cpu_us_per_msg`, median(runs[client][p].map((r) => r.cpu_us_per_msg))],
    ]),
  );

const total = CLIENTS.length * PATTERNS.length * (ROUNDS * (N + 1) + WARMUP + 1);
const consumerRate = await bareConsumerRate(env.KAFKA_BROKERS, topic, total);
say(`bare kafkajs consumer: ${consumerRate} msgs/s over ${total} messages`);
const platformaticRate = await platformaticConsumerRate(env.KAFKA_BROKERS, topic, total);
say(`bare @platformatic/kafka consumer: ${platformaticRate} msgs/s`);
console.log(
  JSON.stringify({
    messages: N,
    concurrency: CONCURRENCY,
    rounds: ROUNDS,
    platformatic: summary("platformatic"),
    kafkajs: summary("kafkajs"),
    kafkajs_bare_consumer_msgs_per_s: consumerRate,
    platformatic_bare_consumer_msgs_per_s: platformaticRate,
  }),
);
process.exit(0);
