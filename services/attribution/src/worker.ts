import {
  type ClickHouse,
  type ClickRow,
  type ConversionEventRow,
  type ConversionFlagsRow,
  type ConversionRow,
  clickRow,
  getBotClicks,
  getConversionEvents,
  type HourlyTouch,
  type Inserter,
  insertClicks,
  insertConversionEvents,
  insertConversionFlags,
  insertConversions,
  insertOutcomes,
  type LedgerRow,
  type OutcomeRow,
  toDateTimeText,
} from "@aff/clickhouse";
import { AppError, errorMessage, type Logger } from "@aff/common";
import { ClickEvent, type ConversionEvent, decodeJson, StoredConversionEvent, splitClickRecord } from "@aff/events";
import { ACKS_ALL, type BatchHandler, type KafkaMessage, type Producer } from "@aff/kafka";
import { aggregateWriter } from "./aggregate-writer";
import {
  createParseStep,
  createResolveStep,
  createValidateStep,
  EVENT_TIME_MAX_MS,
  type ResolveDeps,
} from "./conversion-steps";
import { classifyFailure, clickHouseFailure, guarded, runIsolating } from "./failures";
import {
  type ConversionBooks,
  computeBooks,
  type HistoryEvent,
  isRefusal,
  type Outcome,
  Resolution,
} from "./ledger-rules";
import { deadLetterRow, flagsRow, outcomeRows } from "./outcomes";
import { pipe } from "./pipeline";

export type DeadLetter = { topic: string; partition: number; message: KafkaMessage; reason: string };

export type WorkerCounters = { processed: (n: number) => void; deadLettered: (reasonClass: string) => void };

/** The part of a dead-letter reason that names its class (`schema: ...` -> `schema`), a bounded metric label. */
export const reasonClass = (reason: string) => reason.split(":")[0] ?? reason;

/** Kafka refuses records above the broker's message size; a dead letter near it is chunked alone. */
const DLQ_CHUNK_BYTES = 512 * 1024;

/** kafkajs MESSAGE_TOO_LARGE / RECORD_LIST_TOO_LARGE (their type is lost when the retrier wraps them). */
function isTooLarge(err: unknown): boolean {
  return /larger than the max message size|batch larger than the configured segment size/.test(errorMessage(err));
}

/**
 * Sends unusable messages to the dead-letter topic with their origin and reason in headers (acks from all
 * replicas). Deliveries are at least once: a kill after the send and before the commit sends the same letters
 * again, recognisable by their `dlq_topic`/`dlq_partition`/`dlq_offset`, and replaying them twice is harmless.
 * A letter whose value Kafka refuses as too large goes without its value (`dlq_value_omitted`), so it never
 * blocks the batch. Failures to send are transient: the batch is retried and nothing is committed.
 */
export function createDeadLetterSink(producer: Producer, topic: string, log: Logger, counters: WorkerCounters) {
  const toMessage = (l: DeadLetter, withValue = true) => ({
    key: l.message.key,
    value: withValue ? l.message.value : null,
    headers: {
      dlq_reason: l.reason.slice(0, 1024),
      dlq_topic: l.topic,
      dlq_partition: String(l.partition),
      dlq_offset: l.message.offset,
      ...(withValue ? {} : { dlq_value_omitted: "too_large" }),
    },
  });
  const send = async (chunk: DeadLetter[]) => {
    try {
      await producer.send({ topic, acks: ACKS_ALL, messages: chunk.map((l) => toMessage(l)) });
    } catch (err) {
      if (!isTooLarge(err)) throw err;
      for (const l of chunk)
        await producer.send({ topic, acks: ACKS_ALL, messages: [toMessage(l)] }).catch((e: unknown) => {
          if (!isTooLarge(e)) throw e;
          return producer.send({ topic, acks: ACKS_ALL, messages: [toMessage(l, false)] });
        });
    }
  };
  return async (letters: DeadLetter[]) => {
    let chunk: DeadLetter[] = [];
    let bytes = 0;
    for (const l of letters) {
      const size = (l.message.value?.length ?? 0) + (l.message.key?.length ?? 0) + l.reason.length;
      if (chunk.length > 0 && bytes + size > DLQ_CHUNK_BYTES) {
        await send(chunk);
        chunk = [];
        bytes = 0;
      }
      chunk.push(l);
      bytes += size;
    }
    if (chunk.length > 0) await send(chunk);
    for (const l of letters) {
      counters.deadLettered(reasonClass(l.reason));
      log.warn(
        {
          topic: l.topic,
          partition: l.partition,
          offset: l.message.offset,
          reason: l.reason.slice(0, 1024),
          reason_class: reasonClass(l.reason),
        },
        "message_dead_lettered",
      );
    }
  };
}

export type ConversionCounters = WorkerCounters & {
  outcome: (outcome: Outcome | "unparked" | "stored_unreadable") => void;
};

/** Where the conversion pipeline reads and writes (ClickHouse in production and in tests). */
export type ConversionStore = {
  readHistory: (conversionIds: readonly string[]) => Promise<ConversionEventRow[]>;
  writeEvents: (rows: readonly ConversionEventRow[]) => Promise<void>;
  writeConversions: (rows: readonly ConversionRow[]) => Promise<void>;
  writeLedger: (rows: readonly LedgerRow[]) => Promise<void>;
  /** flags of each booked conversion (conversion_flags_v1) */
  writeFlags: (rows: readonly ConversionFlagsRow[]) => Promise<void>;
  /** what became of each delivery, for the merchant who sent it (conversion_outcomes_v1) */
  writeOutcomes: (rows: readonly OutcomeRow[]) => Promise<void>;
  /** the click ids among these that the redirect flagged as bots' */
  readBotClicks: (clickIds: readonly string[]) => Promise<Set<string>>;
  rebuildHourly: (touched: readonly HourlyTouch[], version: number) => Promise<void>;
};

/**
 * The store on ClickHouse, its failures classified where they enter: ClickHouse refusing rows is not transient,
 * an outage is. The hourly rebuild reads only what is already in the ledger, so its failures are always the server's.
 */
export function clickHouseStore(ch: ClickHouse): ConversionStore {
  const aggregates = aggregateWriter(ch);
  const rows = guarded(
    {
      readHistory: getConversionEvents(ch),
      writeEvents: insertConversionEvents(ch),
      writeConversions: insertConversions(ch),
      writeLedger: aggregates.writeLedger,
      writeFlags: insertConversionFlags(ch),
      writeOutcomes: insertOutcomes(ch),
      readBotClicks: getBotClicks(ch),
    },
    clickHouseFailure,
  );
  const rebuild = guarded(
    { rebuildHourly: aggregates.rebuildHourly },
    (op, err) =>
      new AppError("clickhouse_unavailable", errorMessage(err), { retryable: true, context: { op }, cause: err }),
  );
  return { ...rows, ...rebuild };
}

const HOUR_S = 3600;
/** Stored events are read back leniently: they were accepted under the rules of their day (see StoredConversionEvent). */
const parseStored = pipe(createParseStep(StoredConversionEvent), createValidateStep());

/** A stored event as history, or why it cannot be read (never booked: it could not have been, so it is skipped). */
async function storedToHistory(row: ConversionEventRow): Promise<HistoryEvent | string> {
  const parsed = await parseStored(Buffer.from(row.event));
  if (parsed.kind !== "ok") return parsed.kind === "dlq" ? parsed.reason : "dropped";
  if (!row.resolution) return { event: parsed.value, seq: row.seq };
  let json: unknown;
  try {
    json = JSON.parse(row.resolution);
  } catch {
    return "resolution: invalid_json";
  }
  const resolution = Resolution.safeParse(json);
  return resolution.success ? { event: parsed.value, seq: row.seq, resolution: resolution.data } : "resolution: schema";
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

type ConversionDeps = {
  store: ConversionStore;
  resolve: ResolveDeps;
  deadLetter: (l: DeadLetter[]) => Promise<void>;
  counters: ConversionCounters;
  log: Logger;
  parkedRetentionMs: number;
  /** messages per group of a run (default GROUP_SIZE; tests make it small) */
  groupSize?: number;
  /** ms after which a parked status change is booked once more from a fresh history read (0: never) */
  parkedRecheckMs?: number;
};

type Fresh = { event: ConversionEvent; seq: number; delivery: Delivery };

/** `<class>: <message>` for an exception met while processing one message. */
const failureReason = (err: unknown) => {
  const f = classifyFailure(err);
  return `${f.reasonClass}: ${f.message}`;
};

/**
 * One message of a batch, with the partition it came from (batches of several partitions are processed together).
 * `recheck`: a parked status change booked once more (`createConversionHandler`), not a delivery from Kafka.
 */
type Delivery = { topic: string; partition: number; message: KafkaMessage; recheck?: true };

/** Parked status changes waiting for their recheck, at most (beyond it they wait for their sale, as without it). */
const RECHECKS_MAX = 10_000;

/**
 * Conversions: parse -> validate -> (sales) resolve, then recompute the books of every touched conversion from its
 * full history, store the events, write conversions and ledger, overwrite the touched hourly totals and store dead
 * letters; only then does the consumer commit. A message that cannot be booked is dead-lettered with its reason and
 * the rest of the batch goes on; a failure of a store that is not transient is pinned to its message by splitting the
 * batch (`runIsolating`). See docs/adr/0005-conversion-state.md.
 *
 * Batches of several partitions handed over together (kafkajs runs them concurrently) are processed as one: one
 * history read, one insert per table and one aggregate rebuild for all of them (`combineBatches`).
 */
export function createConversionHandler(deps: ConversionDeps): BatchHandler {
  const process = createConversionBatch(deps);
  const recheck = parkedRechecks(deps, (deliveries) => handler(deliveries));
  const run = async (deliveries: readonly Delivery[]) => {
    const letters: DeadLetter[] = [];
    const parked: Delivery[] = [];
    const isolated = await runIsolating(
      deliveries,
      async (part) => {
        const done = await process(part);
        letters.push(...done.letters);
        parked.push(...done.parked);
      },
      (size, f) =>
        deps.log.warn({ size, reason_class: f.reasonClass, err: f.message }, "batch_split_to_isolate_failure"),
    );
    for (const i of isolated) letters.push({ ...i.item, reason: `${i.failure.reasonClass}: ${i.failure.message}` });
    // the sender sees its dead-lettered events in the postback log, written before the letters and the commit
    const told = letters.flatMap((l) => deadLetterRow(l.message.value, Number(l.message.offset), l.reason) ?? []);
    if (told.length > 0) await deps.store.writeOutcomes(told);
    await deps.deadLetter(letters);
    deps.counters.processed(deliveries.filter((d) => !d.recheck).length);
    recheck(parked.filter((d) => !d.recheck));
  };
  const handler = combineRuns(run);
  return (messages, ctx) => handler(messages.map((message) => ({ ...ctx, message })));
}

/**
 * Books each parked status change once more, `parkedRecheckMs` after it was parked, from a fresh read of its history,
 * through the same runs as Kafka's batches (never beside one) and without a commit. A status change is parked when
 * its history holds no sale; on a cluster that read can miss a sale another worker has just stored (docs/adr/0008):
 * the recheck books it then. Booking is idempotent, so a recheck that finds the sale, still none, or the sale's own
 * run already done changes nothing that a replay would not. A failed recheck is not retried: the event stays parked
 * until its sale arrives, as it would without the recheck.
 */
function parkedRechecks(deps: ConversionDeps, book: (deliveries: Delivery[]) => Promise<void>) {
  const delay = deps.parkedRecheckMs ?? 0;
  let waiting = 0;
  return (parked: readonly Delivery[]) => {
    if (delay <= 0 || parked.length === 0) return;
    const due = parked.slice(0, Math.max(0, RECHECKS_MAX - waiting)).map((d) => ({ ...d, recheck: true as const }));
    if (due.length < parked.length)
      deps.log.warn({ dropped: parked.length - due.length, waiting }, "parked_recheck_queue_full");
    waiting += due.length;
    setTimeout(() => {
      waiting -= due.length;
      book(due).catch((err: unknown) =>
        deps.log.warn({ size: due.length, err: errorMessage(err) }, "parked_recheck_failed"),
      );
    }, delay).unref();
  };
}

/**
 * Batches that arrive while none is being processed, or while one is, are processed together in one run; every
 * caller's promise settles with that run (so each partition commits only once its messages are written). The first
 * batch waits for the current turn of the event loop to end (`setImmediate`, no timer), by which time kafkajs has
 * handed over every batch of its fetch. Runs never overlap: a conversion's history is read after the previous run
 * wrote it. Partitions never share a conversion (the key is the conversion id), so merging them changes no books.
 */
export function combineBatches(run: (deliveries: readonly Delivery[]) => Promise<void>): BatchHandler {
  const handler = combineRuns(run);
  return (messages, ctx) => handler(messages.map((message) => ({ ...ctx, message })));
}

/** `combineBatches` over deliveries. */
function combineRuns(run: (deliveries: readonly Delivery[]) => Promise<void>) {
  type Waiting = { deliveries: Delivery[]; settle: (err?: unknown) => void };
  let waiting: Waiting[] = [];
  let scheduled = false;
  const flush = async () => {
    while (waiting.length > 0) {
      const turn = waiting;
      waiting = [];
      try {
        await run(turn.flatMap((w) => w.deliveries));
        for (const w of turn) w.settle();
      } catch (err) {
        for (const w of turn) w.settle(err);
      }
    }
    scheduled = false;
  };
  return (deliveries: Delivery[]) =>
    new Promise<void>((resolve, reject) => {
      waiting.push({ deliveries, settle: (err) => (err === undefined ? resolve() : reject(err)) });
      if (!scheduled) {
        scheduled = true;
        setImmediate(() => void flush());
      }
    });
}

/** Decodes and validates each message on its own: whatever is wrong with one becomes its dead letter. */
async function decodeAll(deliveries: readonly Delivery[], letter: (d: Delivery, reason: string) => void) {
  const parse = pipe(createParseStep(), createValidateStep());
  const fresh: Fresh[] = [];
  for (const d of deliveries) {
    const m = d.message;
    try {
      const r = await parse(m.value);
      if (r.kind === "dlq") letter(d, r.reason);
      else if (r.kind !== "ok") continue;
      // the key orders a conversion's events on one partition; offsets of two partitions cannot order them
      else if (m.key?.toString("utf8") !== r.value.conversion_id) letter(d, "key_mismatch");
      else fresh.push({ event: r.value, seq: Number(m.offset), delivery: d });
    } catch (err) {
      letter(d, failureReason(err));
    }
  }
  return fresh;
}

/**
 * A run is booked in groups of about this many messages, GROUPS_AT_ONCE at a time: one group's CPU work overlaps
 * another's ClickHouse round trips, and memory holds the rows of two groups, not of the whole run. Smaller groups
 * made more statements than they saved (docs/adr/0005 "Throughput").
 */
const GROUP_SIZE = 5_000;
const GROUPS_AT_ONCE = 2;
/** Sales resolved at once (catalog, FX and first-click reads in flight together). */
const RESOLVE_CONCURRENCY = 64;

/** FNV-1a of the message key: a conversion's events (same key) always fall in the same group. */
function keyHash(key: Buffer | null): number {
  let h = 0x811c9dc5;
  for (const b of key ?? []) h = Math.imul(h ^ b, 0x01000193);
  return h >>> 0;
}

/** Deliveries split by conversion into groups that share no conversion, each in offset order. */
export function groupByConversion(deliveries: readonly Delivery[], size = GROUP_SIZE): Delivery[][] {
  const n = Math.ceil(deliveries.length / size);
  if (n <= 1) return [[...deliveries]];
  const groups: Delivery[][] = Array.from({ length: n }, () => []);
  for (const d of deliveries) groups[keyHash(d.message.key) % n]?.push(d);
  return groups.filter((g) => g.length > 0);
}

/**
 * One run (or part of one, when a failure is being isolated): books it, then rebuilds the aggregates it touched once
 * every entry is written, and returns its dead letters. A large run is booked in groups of disjoint conversions
 * (`groupByConversion`), two at a time; each group's writes are those the whole run would have made for its
 * conversions (books are per conversion), so a kill between groups leaves a replay-safe prefix as any other split does.
 */
function createConversionBatch(deps: ConversionDeps) {
  const rebuild = coalescingRebuild(deps.store.rebuildHourly);
  const book = createBooking(deps);
  return async (deliveries: readonly Delivery[]): Promise<{ letters: DeadLetter[]; parked: Delivery[] }> => {
    const t0 = performance.now();
    const groups = groupByConversion(deliveries, deps.groupSize);
    const done: Awaited<ReturnType<typeof book>>[] = [];
    let next = 0;
    const lane = async () => {
      // letters keep the order of the groups, whichever finishes first
      for (let i = next++; i < groups.length; i = next++) done[i] = await book(groups[i] ?? []);
    };
    await Promise.all(Array.from({ length: Math.min(GROUPS_AT_ONCE, groups.length) }, lane));
    const t1 = performance.now();
    await rebuild(done.flatMap((d) => d.touched));
    deps.log.debug(
      {
        size: deliveries.length,
        groups: groups.length,
        phases_ms: { ...done[0]?.phases, book: Math.round(t1 - t0), rebuild: Math.round(performance.now() - t1) },
      },
      "conversion_batch_phases",
    );
    return { letters: done.flatMap((d) => d.letters), parked: done.flatMap((d) => d.parked) };
  };
}

/** Books a group of deliveries: reads its history, resolves new sales, computes and writes the books. */
function createBooking(deps: ConversionDeps) {
  return async (deliveries: readonly Delivery[]) => {
    const phases: Record<string, number> = {};
    let mark = performance.now();
    const lap = (name: string) => {
      const t = performance.now();
      phases[name] = Math.round(t - mark);
      mark = t;
    };
    const letters: DeadLetter[] = [];
    const letter = (d: Delivery, reason: string) => letters.push({ ...d, reason });
    const fresh = await decodeAll(deliveries, letter);
    lap("parse");
    // the bot clicks of every sale are read beside the history: a sale whose resolution is frozen ignores them
    const clickIds = fresh.flatMap((f) => (f.event.type === "sale" && f.event.click_id ? [f.event.click_id] : []));
    const [{ histories, frozen }, bots] = await Promise.all([
      readHistories(deps, fresh),
      clickIds.length > 0 ? deps.store.readBotClicks(clickIds) : new Set<string>(),
    ]);
    lap("read_history");
    const resolve = createResolveStep({ ...deps.resolve, isBotClick: (id) => bots.has(id) });
    const resolutions = await resolveSales(resolve, frozen, fresh);
    const batchEvents = new Map<string, Fresh[]>();
    const accepted: HistoryEvent[] = [];
    for (const [i, f] of fresh.entries()) {
      const r = resolutions[i];
      if (typeof r === "string") {
        if (r !== "") letter(f.delivery, r);
        continue;
      }
      const h: HistoryEvent = { event: f.event, seq: f.seq, resolution: r };
      accepted.push(h);
      histories.get(f.event.conversion_id)?.push(h);
      batchEvents.set(f.event.event_id, [...(batchEvents.get(f.event.event_id) ?? []), f]);
    }
    lap("resolve");

    const conversions: ConversionRow[] = [];
    const ledger: LedgerRow[] = [];
    const flags: ConversionFlagsRow[] = [];
    const outcomes: OutcomeRow[] = [];
    const refused = new Set<string>();
    const parked: Delivery[] = [];
    for (const [id, history] of histories) {
      const books = computeBooks(history, { parkedRetentionMs: deps.parkedRetentionMs });
      if (books.conversion) conversions.push(books.conversion);
      for (const l of books.ledger) ledger.push(l);
      const f = flagsRow(history, books);
      if (f) flags.push(f);
      for (const o of outcomeRows(history, books)) if (!books.refused.has(o.event_id)) outcomes.push(o);
      for (const [eventId, reason] of books.refused) {
        refused.add(eventId);
        for (const f of batchEvents.get(eventId) ?? []) letter(f.delivery, reason);
      }
      reportOutcomes(deps, id, books, batchEvents);
      for (const [eventId, outcome] of books.outcomes)
        if (outcome === "parked") for (const f of batchEvents.get(eventId) ?? []) parked.push(f.delivery);
    }
    lap("compute");
    // refused events are dead letters, never history: a replay must not find them stored
    await deps.store.writeEvents(accepted.filter((h) => !refused.has(h.event.event_id)).map(historyToRow));
    lap("write_events");
    // the conversion row last: whoever sees a conversion's new state (the outcomes API, a test polling for it)
    // then also sees its entries, flags and outcomes, never a state whose flags are still on their way
    await Promise.all([
      deps.store.writeLedger(ledger),
      deps.store.writeFlags(flags),
      deps.store.writeOutcomes(outcomes),
    ]);
    await deps.store.writeConversions(conversions);
    lap("write_ledger");
    return { letters, parked, touched: touchedHours(ledger), phases };
  };
}

/**
 * The resolution of every fresh sale (undefined for other events, or a dead-letter reason), RESOLVE_CONCURRENCY at a
 * time: each sale is resolved on its own (its catalog and FX reads), so the order of the awaits changes nothing.
 */
async function resolveSales(
  resolve: ReturnType<typeof createResolveStep>,
  frozen: Map<string, Resolution>,
  fresh: readonly Fresh[],
): Promise<(Resolution | string | undefined)[]> {
  const out: (Resolution | string | undefined)[] = [];
  for (let i = 0; i < fresh.length; i += RESOLVE_CONCURRENCY)
    out.push(
      ...(await Promise.all(
        fresh
          .slice(i, i + RESOLVE_CONCURRENCY)
          .map((f) => (f.event.type === "sale" ? resolveSale(resolve, frozen, f.event) : undefined)),
      )),
    );
  return out;
}

/** The stored history of the batch's conversions, and the resolutions frozen with their sales. */
async function readHistories(deps: ConversionDeps, fresh: readonly Fresh[]) {
  const ids = [...new Set(fresh.map((f) => f.event.conversion_id))];
  const histories = new Map<string, HistoryEvent[]>(ids.map((id) => [id, []]));
  const frozen = new Map<string, Resolution>();
  for (const row of ids.length > 0 ? await deps.store.readHistory(ids) : []) {
    const h = await storedToHistory(row);
    if (typeof h === "string") {
      deps.counters.outcome("stored_unreadable");
      deps.log.warn({ conversion_id: row.conversion_id, event_id: row.event_id, reason: h }, "stored_event_unreadable");
      continue;
    }
    histories.get(row.conversion_id)?.push(h);
    if (h.resolution) frozen.set(h.event.event_id, h.resolution);
  }
  return { histories, frozen };
}

/**
 * The resolution of a sale (frozen at its first processing), or the reason to dead-letter it ("" = dropped).
 * A store outage while resolving is rethrown (the batch is retried); any other exception is this sale's.
 */
async function resolveSale(
  resolve: ReturnType<typeof createResolveStep>,
  frozen: Map<string, Resolution>,
  event: ConversionEvent,
): Promise<Resolution | string> {
  const known = frozen.get(event.event_id);
  if (known) return known;
  try {
    const r = await resolve(event);
    return r.kind === "ok" ? r.value : r.kind === "dlq" ? r.reason : "";
  } catch (err) {
    if (classifyFailure(err).transient) throw err;
    return failureReason(err);
  }
}

/** Every (campaign, hour) the entries fall in: those hourly totals are rebuilt. */
function touchedHours(ledger: readonly LedgerRow[]): HourlyTouch[] {
  const touched = new Map<string, HourlyTouch>();
  for (const l of ledger) {
    const hourStartSec = Math.floor(Date.parse(`${l.event_time.replace(" ", "T")}Z`) / 1000 / HOUR_S) * HOUR_S;
    touched.set(`${l.campaign_id}:${hourStartSec}`, { campaignId: l.campaign_id, hourStartSec });
  }
  return [...touched.values()];
}

/** Logs and counts what became of this batch's events, and of parked events that this batch's sale released. */
function reportOutcomes(
  deps: { counters: ConversionCounters; log: Logger },
  conversionId: string,
  books: ConversionBooks,
  batchEvents: Map<string, Fresh[]>,
) {
  const saleIsNew = books.saleEventId !== undefined && batchEvents.has(books.saleEventId);
  for (const [eventId, outcome] of books.outcomes) {
    if (!batchEvents.has(eventId)) {
      // an earlier event whose sale came in this batch: it was parked until now
      if (saleIsNew && outcome !== "parked")
        deps.counters.outcome(outcome === "parked_expired" ? "parked_expired" : "unparked");
      continue;
    }
    // refused events of the batch are dead-lettered, and counted and logged there
    if (isRefusal(outcome)) continue;
    if (batchEvents.get(eventId)?.every((f) => f.delivery.recheck)) {
      // a parked event booked once more: counted when it was parked; say what the fresh history changed
      if (outcome === "parked") continue;
      deps.counters.outcome(outcome === "parked_expired" ? "parked_expired" : "unparked");
      deps.log.warn({ conversion_id: conversionId, event_id: eventId, outcome }, "parked_event_rechecked");
      continue;
    }
    deps.counters.outcome(outcome);
    if (outcome !== "applied")
      deps.log.info({ conversion_id: conversionId, event_id: eventId, outcome }, "conversion_event_not_applied");
  }
}

/**
 * Clicks: one row per click id; replays rewrite identical rows that ClickHouse collapses. A record holds one click
 * per line (see `splitClickRecord`); a line that cannot be read is dead-lettered alone, as a message of its own.
 */
export function createClickHandler(deps: {
  ch: Inserter;
  /** writes click rows; default: clicks_raw_v1 only (the worker passes clickWriter, which also keeps the clicks cube) */
  write?: (rows: readonly ClickRow[]) => Promise<void>;
  deadLetter: (l: DeadLetter[]) => Promise<void>;
  counters: WorkerCounters;
  log: Logger;
}): BatchHandler {
  const { write } = guarded({ write: deps.write ?? insertClicks(deps.ch) }, clickHouseFailure);
  // batches of several partitions handed over together are written as one (one insert per table, one cube rebuild)
  return combineBatches(async (deliveries) => {
    const rows: { row: ClickRow; delivery: Delivery }[] = [];
    const letters: DeadLetter[] = [];
    for (const d of deliveries) {
      const record = d.message;
      const lines = record.value ? splitClickRecord(record.value) : [];
      if (lines.length === 0) letters.push({ ...d, reason: "empty_message" });
      for (const line of lines) {
        const one = lines.length === 1 ? d : { ...d, message: { ...record, value: line } };
        try {
          const r = decodeJson(ClickEvent, line);
          if (!r.ok) letters.push({ ...one, reason: r.reason });
          else if (r.value.clicked_at_ms >= EVENT_TIME_MAX_MS)
            letters.push({ ...one, reason: "time_out_of_range: clicked_at_ms" });
          else rows.push({ row: clickRow(r.value), delivery: one });
        } catch (err) {
          letters.push({ ...one, reason: failureReason(err) });
        }
      }
    }
    const isolated = await runIsolating(
      rows,
      (part) => write(part.map((r) => r.row)),
      (size, f) =>
        deps.log.warn({ size, reason_class: f.reasonClass, err: f.message }, "batch_split_to_isolate_failure"),
    );
    for (const i of isolated)
      letters.push({ ...i.item.delivery, reason: `${i.failure.reasonClass}: ${i.failure.message}` });
    await deps.deadLetter(letters);
    deps.counters.processed(deliveries.length);
  });
}
