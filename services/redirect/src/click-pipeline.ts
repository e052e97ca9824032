import { errorMessage, type Logger } from "@aff/common";
import { createKafka, createProducer, ensureTopics, topicSpec } from "@aff/kafka";
import { ClickPublisher } from "./click-publisher";
import type { RedirectConfig } from "./config";
import { Journal } from "./journal";
import { Spool } from "./spool";

/**
 * Most bytes of journaled clicks on disk (or the spool's bound, if smaller): ~200k clicks, a few seconds of a Kafka
 * outage at full load; past it clicks wait in memory unjournaled, and the queue's overflow goes to the spool as before.
 */
const JOURNAL_MAX_BYTES = 64 * 1024 * 1024;

export type ClickCounters = { sent: (n: number) => void; spooled: (n: number) => void; dropped: (n: number) => void };

/**
 * The Kafka side of the redirect: producer, bounded queue and spool file, on the main thread. It ran on a worker
 * thread while every click was its own Kafka record (tens of microseconds of client CPU each); packed a few hundred
 * to a record, the client's cost is about a microsecond per click, less than handing events to a thread cost, and
 * the second V8 isolate (tens of MB) is gone. See docs/adr/0003.
 */
export function startClickPipeline(config: RedirectConfig, log: Logger, counters: ClickCounters) {
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: `${config.KAFKA_CLIENT_ID}-redirect`, log });
  const producer = createProducer(kafka, { idempotent: config.KAFKA_IDEMPOTENT });
  const topic = topicSpec(config, config.TOPIC_CLICKS);
  // one name per instance (its port) for the spool and the journal: the next process on this port finds both
  const name = `clicks-${config.PORT}`;
  const spool = new Spool(config.CLICK_SPOOL_DIR, name, config.CLICK_SPOOL_MAX_BYTES);
  const journal = new Journal(config.CLICK_SPOOL_DIR, name, Math.min(JOURNAL_MAX_BYTES, config.CLICK_SPOOL_MAX_BYTES));
  // clicks a killed predecessor answered but never handed to Kafka: replayed with the spool
  const recovered = journal.recover(spool);
  if (recovered.written + recovered.dropped > 0) {
    counters.spooled(recovered.written);
    counters.dropped(recovered.dropped);
    log.warn({ recovered: recovered.written, dropped: recovered.dropped }, "click_journal_recovered");
  }
  const publisher = new ClickPublisher({
    producer,
    topic: config.TOPIC_CLICKS,
    spool,
    journal,
    log,
    batchMax: config.CLICK_BATCH_MAX,
    flushMs: config.CLICK_FLUSH_MS,
    queueMax: config.CLICK_QUEUE_MAX,
    onSent: counters.sent,
    onSpooled: counters.spooled,
    onDropped: counters.dropped,
    prepare: () => ensureTopics(kafka, [topic], 10_000),
  });
  // Topic creation is best effort at boot: the redirect must start and serve while Kafka is away.
  ensureTopics(kafka, [topic]).catch((err) => log.warn({ err: errorMessage(err) }, "topic_setup_deferred"));
  publisher.start();
  return {
    publisher,
    spool,
    /** Flushes or spools within `timeoutMs`, then disconnects (a disconnect from an unreachable broker can hang). */
    stop: async (timeoutMs = 5_000) => {
      await publisher.stop(timeoutMs);
      await Promise.race([
        producer.disconnect().catch((err) => log.warn({ err: errorMessage(err) }, "click_producer_disconnect_failed")),
        new Promise((r) => setTimeout(r, 2_000).unref()),
      ]);
    },
  };
}
