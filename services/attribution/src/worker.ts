import type { Campaign } from "@aff/catalog";
import { type ClickHouse, type ClickRow, type ConversionRow, clickRow, insertClicks, insertConversions, insertLedgerEntries, type LedgerRow } from "@aff/clickhouse";
import type { Logger } from "@aff/common";
import { ClickEvent, decodeJson } from "@aff/events";
import { ACKS_ALL, type BatchHandler, type KafkaMessage, type Producer } from "@aff/kafka";
import { createBuildStep, createParseStep, createResolveStep } from "./conversion-steps";
import { pipe } from "./pipeline";

export type DeadLetter = { topic: string; partition: number; message: KafkaMessage; reason: string };

export type WorkerCounters = { processed: (n: number) => void; deadLettered: (reason: string) => void };

/** Sends unusable messages to the dead-letter topic with their origin and reason in headers (acks from all replicas). */
export function createDeadLetterSink(producer: Producer, topic: string, log: Logger, counters: WorkerCounters) {
  return async (letters: DeadLetter[]) => {
    if (letters.length === 0) return;
    await producer.send({
      topic,
      acks: ACKS_ALL,
      messages: letters.map((l) => ({
        key: l.message.key,
        value: l.message.value,
        headers: { dlq_reason: l.reason, dlq_topic: l.topic, dlq_partition: String(l.partition), dlq_offset: l.message.offset },
      })),
    });
    for (const l of letters) {
      counters.deadLettered(l.reason.split(":")[0] ?? l.reason);
      log.warn({ topic: l.topic, partition: l.partition, offset: l.message.offset, reason: l.reason }, "message_dead_lettered");
    }
  };
}

/** Conversions: parse -> resolve -> build, then one write of all rows; dead letters are stored before the commit too. */
export function createConversionHandler(deps: {
  ch: ClickHouse;
  clickIdSecret: string;
  getCampaign: (id: number) => Promise<Campaign | undefined>;
  deadLetter: (l: DeadLetter[]) => Promise<void>;
  counters: WorkerCounters;
}): BatchHandler {
  const run = pipe(createParseStep(), createResolveStep(deps), createBuildStep());
  const writeConversions = insertConversions(deps.ch);
  const writeLedger = insertLedgerEntries(deps.ch);
  return async (messages, ctx) => {
    const conversions: ConversionRow[] = [];
    const ledger: LedgerRow[] = [];
    const letters: DeadLetter[] = [];
    for (const m of messages) {
      const r = await run(m.value);
      if (r.kind === "ok") {
        conversions.push(r.value.conversion);
        ledger.push(...r.value.ledger);
      } else if (r.kind === "dlq") letters.push({ ...ctx, message: m, reason: r.reason });
    }
    await Promise.all([writeConversions(conversions), writeLedger(ledger)]);
    await deps.deadLetter(letters);
    deps.counters.processed(messages.length);
  };
}

/** Clicks: one row per click id; replays rewrite identical rows that ClickHouse collapses. */
export function createClickHandler(deps: { ch: ClickHouse; deadLetter: (l: DeadLetter[]) => Promise<void>; counters: WorkerCounters }): BatchHandler {
  const write = insertClicks(deps.ch);
  return async (messages, ctx) => {
    const rows: ClickRow[] = [];
    const letters: DeadLetter[] = [];
    for (const m of messages) {
      const r = decodeJson(ClickEvent, m.value);
      if (r.ok) rows.push(clickRow(r.value));
      else letters.push({ ...ctx, message: m, reason: r.reason });
    }
    await write(rows);
    await deps.deadLetter(letters);
    deps.counters.processed(messages.length);
  };
}
