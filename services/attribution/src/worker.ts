import {
  type ClickHouse,
  type ClickRow,
  type ConversionEventRow,
  type ConversionRow,
  clickRow,
  getConversionEvents,
  type HourlyTouch,
  insertClicks,
  insertConversionEvents,
  insertConversions,
  type LedgerRow,
  toDateTimeText,
} from "@aff/clickhouse";
import type { Logger } from "@aff/common";
import { ClickEvent, ConversionEvent, decodeJson } from "@aff/events";
import { ACKS_ALL, type BatchHandler, type KafkaMessage, type Producer } from "@aff/kafka";
import { aggregateWriter } from "./aggregate-writer";
import { createParseStep, createResolveStep, createValidateStep, type ResolveDeps } from "./conversion-steps";
import { type ConversionBooks, computeBooks, type HistoryEvent, type Outcome, Resolution } from "./ledger-rules";
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
        headers: {
          dlq_reason: l.reason,
          dlq_topic: l.topic,
          dlq_partition: String(l.partition),
          dlq_offset: l.message.offset,
        },
      })),
    });
    for (const l of letters) {
      counters.deadLettered(l.reason.split(":")[0] ?? l.reason);
      log.warn(
        { topic: l.topic, partition: l.partition, offset: l.message.offset, reason: l.reason },
        "message_dead_lettered",
      );
    }
  };
}

export type ConversionCounters = WorkerCounters & { outcome: (outcome: Outcome | "unparked") => void };

/** Where the conversion pipeline reads and writes (ClickHouse in production and in tests). */
export type ConversionStore = {
  readHistory: (conversionIds: readonly string[]) => Promise<ConversionEventRow[]>;
  writeEvents: (rows: readonly ConversionEventRow[]) => Promise<void>;
  writeConversions: (rows: readonly ConversionRow[]) => Promise<void>;
  writeLedger: (rows: readonly LedgerRow[]) => Promise<void>;
  rebuildHourly: (touched: readonly HourlyTouch[], version: number) => Promise<void>;
};

export function clickHouseStore(ch: ClickHouse): ConversionStore {
  return {
    readHistory: getConversionEvents(ch),
    writeEvents: insertConversionEvents(ch),
    writeConversions: insertConversions(ch),
    ...aggregateWriter(ch),
  };
}

const HOUR_S = 3600;

function storedToHistory(row: ConversionEventRow): HistoryEvent {
  const event = ConversionEvent.parse(JSON.parse(row.event));
  return { event, seq: row.seq, resolution: row.resolution ? Resolution.parse(JSON.parse(row.resolution)) : undefined };
}

function historyToRow(h: HistoryEvent): ConversionEventRow {
  return {
    conversion_id: h.event.conversion_id,
    event_id: h.event.event_id,
    seq: h.seq,
    type: h.event.type,
    event: JSON.stringify(h.event),
    resolution: h.resolution ? JSON.stringify(h.resolution) : "",
    settlement_amount_minor: h.resolution?.settlement_amount_minor ?? 0,
    fx_rate: h.resolution?.fx_rate ?? "",
    received_at: toDateTimeText(h.event.received_at_ms),
  };
}

/**
 * Rebuilds of hourly totals run one at a time with increasing versions, so the latest rebuild (which saw the most)
 * wins. Batches that finish while a rebuild runs share the next one (their keys merged): fewer full reads of the ledger.
 */
export function coalescingRebuild(rebuild: ConversionStore["rebuildHourly"]) {
  let pending = new Map<string, HourlyTouch>();
  let next: Promise<void> | undefined;
  let active: Promise<void> = Promise.resolve();
  let lastVersion = 0;
  return (touched: readonly HourlyTouch[]): Promise<void> => {
    for (const t of touched) pending.set(`${t.campaignId}:${t.hourStartSec}`, t);
    if (!next) {
      next = active
        .catch(() => undefined)
        .then(() => {
          const keys = [...pending.values()];
          pending = new Map();
          next = undefined;
          lastVersion = Math.max(Date.now(), lastVersion + 1);
          return rebuild(keys, lastVersion);
        });
      active = next;
    }
    return next;
  };
}

/**
 * Conversions: parse -> validate -> (sales) resolve, then store the events, recompute the books of every touched
 * conversion from its full history, write conversions and ledger, overwrite the touched hourly totals and store
 * dead letters; only then does the consumer commit. See docs/adr/0005-conversion-state.md.
 */
export function createConversionHandler(deps: {
  store: ConversionStore;
  resolve: ResolveDeps;
  deadLetter: (l: DeadLetter[]) => Promise<void>;
  counters: ConversionCounters;
  log: Logger;
  parkedRetentionMs: number;
}): BatchHandler {
  const parse = pipe(createParseStep(), createValidateStep());
  const resolve = createResolveStep(deps.resolve);
  const rebuild = coalescingRebuild(deps.store.rebuildHourly);
  return async (messages, ctx) => {
    const phases: Record<string, number> = {};
    let mark = performance.now();
    const lap = (name: string) => {
      const t = performance.now();
      phases[name] = Math.round(t - mark);
      mark = t;
    };
    const letters: DeadLetter[] = [];
    const fresh: { event: ConversionEvent; seq: number; message: KafkaMessage }[] = [];
    for (const m of messages) {
      const r = await parse(m.value);
      if (r.kind === "ok") fresh.push({ event: r.value, seq: Number(m.offset), message: m });
      else if (r.kind === "dlq") letters.push({ ...ctx, message: m, reason: r.reason });
    }
    lap("parse");
    const ids = [...new Set(fresh.map((f) => f.event.conversion_id))];
    const histories = new Map<string, HistoryEvent[]>(ids.map((id) => [id, []]));
    const frozen = new Map<string, Resolution>();
    for (const row of ids.length > 0 ? await deps.store.readHistory(ids) : []) {
      const h = storedToHistory(row);
      histories.get(row.conversion_id)?.push(h);
      if (h.resolution) frozen.set(h.event.event_id, h.resolution);
    }
    lap("read_history");
    const batchEvents = new Set<string>();
    const toStore: HistoryEvent[] = [];
    for (const f of fresh) {
      let resolution: Resolution | undefined;
      if (f.event.type === "sale") {
        const r = frozen.get(f.event.event_id) ?? (await resolve(f.event));
        if ("kind" in r) {
          if (r.kind !== "ok") {
            if (r.kind === "dlq") letters.push({ ...ctx, message: f.message, reason: r.reason });
            continue;
          }
          resolution = r.value;
        } else resolution = r;
      }
      const h: HistoryEvent = { event: f.event, seq: f.seq, resolution };
      toStore.push(h);
      batchEvents.add(f.event.event_id);
      histories.get(f.event.conversion_id)?.push(h);
    }
    lap("resolve");
    await deps.store.writeEvents(toStore.map(historyToRow));
    lap("write_events");

    const conversions: ConversionRow[] = [];
    const ledger: LedgerRow[] = [];
    for (const [id, history] of histories) {
      const books = computeBooks(history, { parkedRetentionMs: deps.parkedRetentionMs });
      if (books.conversion) conversions.push(books.conversion);
      ledger.push(...books.ledger);
      reportOutcomes(deps, id, books, batchEvents);
    }
    lap("compute");
    await Promise.all([deps.store.writeConversions(conversions), deps.store.writeLedger(ledger)]);
    lap("write_ledger");
    const touched = new Map<string, HourlyTouch>();
    for (const l of ledger) {
      const hourStartSec = Math.floor(Date.parse(`${l.event_time.replace(" ", "T")}Z`) / 1000 / HOUR_S) * HOUR_S;
      touched.set(`${l.campaign_id}:${hourStartSec}`, { campaignId: l.campaign_id, hourStartSec });
    }
    await rebuild([...touched.values()]);
    lap("rebuild_hourly");
    await deps.deadLetter(letters);
    deps.counters.processed(messages.length);
    deps.log.debug({ ...ctx, size: messages.length, phases_ms: phases }, "conversion_batch_phases");
  };
}

/** Logs and counts what became of this batch's events, and of parked events that this batch's sale released. */
function reportOutcomes(
  deps: { counters: ConversionCounters; log: Logger },
  conversionId: string,
  books: ConversionBooks,
  batchEvents: Set<string>,
) {
  const saleIsNew = books.saleEventId !== undefined && batchEvents.has(books.saleEventId);
  for (const [eventId, outcome] of books.outcomes) {
    if (!batchEvents.has(eventId)) {
      // an earlier event whose sale came in this batch: it was parked until now
      if (saleIsNew && outcome !== "parked")
        deps.counters.outcome(outcome === "parked_expired" ? "parked_expired" : "unparked");
      continue;
    }
    deps.counters.outcome(outcome);
    if (outcome !== "applied")
      deps.log.info({ conversion_id: conversionId, event_id: eventId, outcome }, "conversion_event_not_applied");
  }
}

/** Clicks: one row per click id; replays rewrite identical rows that ClickHouse collapses. */
export function createClickHandler(deps: {
  ch: ClickHouse;
  deadLetter: (l: DeadLetter[]) => Promise<void>;
  counters: WorkerCounters;
}): BatchHandler {
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
