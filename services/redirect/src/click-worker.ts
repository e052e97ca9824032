import { parentPort, workerData } from "node:worker_threads";
import { createLogger, errorMessage } from "@aff/common";
import { createKafka, createProducer, ensureTopics } from "@aff/kafka";
import { ClickPublisher } from "./click-publisher";
import type { ClickWorkerData, FromClickWorker, ToClickWorker } from "./click-sink";
import { Spool } from "./spool";

/**
 * The Kafka side of the redirect, on its own thread: kafkajs spends tens of microseconds of CPU per message, and
 * encoding a batch on the main thread would stall every redirect waiting behind it. This thread owns the producer,
 * the bounded queue and the spool file; the main thread only hands it serialized events.
 */
function run(port: NonNullable<typeof parentPort>, d: ClickWorkerData): void {
  const log = createLogger("redirect", d.logLevel).child({ thread: "clicks" });
  const kafka = createKafka({ brokers: d.brokers, clientId: d.clientId, log });
  const producer = createProducer(kafka, { idempotent: d.idempotent });
  const topic = {
    topic: d.topic,
    numPartitions: d.partitions,
    replicationFactor: d.replicationFactor,
    minInsyncReplicas: d.minInsyncReplicas,
  };
  let sent = 0;
  let spooled = 0;
  let dropped = 0;
  const spool = new Spool(d.spoolDir, d.spoolName, d.spoolMaxBytes);
  const publisher = new ClickPublisher({
    producer,
    topic: d.topic,
    spool,
    log,
    batchMax: d.batchMax,
    flushMs: d.flushMs,
    queueMax: d.queueMax,
    onSent: (n) => {
      sent += n;
    },
    onSpooled: (n) => {
      spooled += n;
    },
    onDropped: (n) => {
      dropped += n;
    },
    prepare: () => ensureTopics(kafka, [topic], 10_000),
  });
  // Topic creation is best effort at boot: the redirect must start and serve while Kafka is away.
  ensureTopics(kafka, [topic]).catch((err) => log.warn({ err: errorMessage(err) }, "topic_setup_deferred"));
  publisher.start();

  const stats = (): FromClickWorker => ({
    type: "stats",
    sent,
    spooled,
    dropped,
    spoolBytes: spool.size,
    depth: publisher.depth,
    healthy: publisher.healthy,
  });
  const timer = setInterval(() => port.postMessage(stats()), 500);
  port.on("message", (m: ToClickWorker) => {
    if (m.type === "clicks") return publisher.publishSerialized(m.pairs);
    clearInterval(timer);
    void publisher
      .stop(m.timeoutMs)
      // A disconnect from an unreachable broker can hang; the spool already holds what was not acknowledged.
      .then(() => Promise.race([producer.disconnect(), new Promise((r) => setTimeout(r, 2_000).unref())]))
      .catch((err) => log.warn({ err: errorMessage(err) }, "click_producer_disconnect_failed"))
      .finally(() => {
        port.postMessage(stats());
        port.postMessage({ type: "stopped" } satisfies FromClickWorker);
      });
  });
}

if (parentPort) run(parentPort, workerData as ClickWorkerData);
