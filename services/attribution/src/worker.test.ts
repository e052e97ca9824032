import type { Campaign } from "@aff/catalog";
import {
  ConversionEventRow,
  ConversionFlagsRow,
  ConversionRow,
  type ConversionRow as ConversionRowT,
  type HourlyTouch,
  LedgerRow,
  type LedgerRow as LedgerRowT,
  OutcomeRow,
} from "@aff/clickhouse";
import { conversionId, createLogger, deterministicId, signClickId } from "@aff/common";
import { type ConversionEvent, packClickLines } from "@aff/events";
import type { KafkaMessage } from "@aff/kafka";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ResolveDeps } from "./conversion-steps";
import { clickHouseFailure } from "./failures";
import { MAX_AMOUNT_MINOR } from "./ledger-rules";
import {
  type ConversionStore,
  coalescingRebuild,
  createClickHandler,
  createConversionHandler,
  type DeadLetter,
  groupByConversion,
  reasonClass,
} from "./worker";

const SECRET = "unit-test-click-secret-0123456789";
const NOW = Date.UTC(2026, 5, 1, 12);
const DAY_MS = 86_400_000;
const campaign: Campaign = {
  id: 7,
  merchant_id: 1,
  name: "C",
  commission: { type: "bps", bps: 1000 },
  currency: "USD",
  allowed_domains: ["shop.example.com"],
  default_destination: "https://shop.example.com/",
  attribution_window_days: 30,
  click_param: "click_id",
  attribution_model: "last_click",
  min_click_to_conversion_seconds: 0,
  coupon_policy: "click_wins",
  holding_days: 30,
  influencer_overrides: [],
  created_at_ms: 0,
};
const CLICK = signClickId(SECRET, { linkId: 5, influencerId: 3, campaignId: 7, clickedAtMs: NOW - DAY_MS });
/** GBP converts at a rate that pushes large amounts past the bound */
const RATES: Record<string, string> = { USD: "1", EUR: "1.1", GBP: "999999999999.9999999999" };
const resolveDeps: ResolveDeps = {
  clickIdSecret: SECRET,
  getCampaign: async (id) => (id === 7 ? campaign : undefined),
  getCoupon: async () => undefined,
  rateAt: async (from) => RATES[from],
};

/** A clickhouse error as @clickhouse/client raises it against 18.16 */
const cannotParse = () =>
  clickHouseFailure("insert", new Error("Code: 27, e.displayText() = DB::Exception: Cannot parse input, e.what()"));
const DATETIME = /^(19[7-9]\d|20\d\d|210[0-5])-\d\d-\d\d \d\d:\d\d:\d\d$/;

/**
 * The worker's store as ClickHouse behaves for it: ReplacingMergeTree tables (the highest version wins, the later
 * insert on a tie), and an insert refused as a whole when a row would not parse (a number that is not a safe
 * integer would be sent as 1e+21; a time outside DateTime). `refuse` simulates a refusal nobody foresaw.
 */
class MemoryStore implements ConversionStore {
  events = new Map<string, ConversionEventRow>();
  ledger = new Map<string, LedgerRowT>();
  conversions = new Map<string, ConversionRowT>();
  refuse: (orderId: string) => boolean = () => false;
  outage = false;

  private check(rows: readonly object[], times: string[], ints: string[]) {
    if (this.outage) throw clickHouseFailure("insert", Object.assign(new Error("refused"), { code: "ECONNREFUSED" }));
    for (const row of rows) {
      const r = row as Record<string, unknown>;
      for (const t of times) if (!DATETIME.test(String(r[t]))) throw cannotParse();
      for (const n of ints) if (!Number.isSafeInteger(r[n])) throw cannotParse();
      if (typeof r.order_id === "string" && this.refuse(r.order_id)) throw cannotParse();
    }
  }
  readHistory = async (ids: readonly string[]) => {
    if (this.outage) throw clickHouseFailure("read", Object.assign(new Error("refused"), { code: "ECONNREFUSED" }));
    const wanted = new Set(ids);
    return [...this.events.values()].filter((r) => wanted.has(r.conversion_id));
  };
  writeEvents = async (rows: readonly ConversionEventRow[]) => {
    const parsed = rows.map((r) => ConversionEventRow.parse(r));
    this.check(parsed, ["received_at"], ["seq", "settlement_amount_minor"]);
    for (const r of parsed) this.events.set(`${r.conversion_id}|${r.event_id}|${r.seq}`, r);
  };
  writeConversions = async (rows: readonly ConversionRowT[]) => {
    const parsed = rows.map((r) => ConversionRow.parse(r));
    this.check(parsed, ["occurred_at"], ["order_amount_minor", "commission_minor", "version"]);
    for (const r of parsed) {
      const seen = this.conversions.get(r.conversion_id);
      if (!seen || r.version >= seen.version) this.conversions.set(r.conversion_id, r);
    }
  };
  writeLedger = async (rows: readonly LedgerRowT[]) => {
    const parsed = rows.map((r) => LedgerRow.parse(r));
    this.check(parsed, ["event_time", "payable_at", "recorded_at"], ["order_amount_minor", "commission_minor"]);
    for (const r of parsed) {
      const seen = this.ledger.get(r.entry_id);
      if (!seen || r.version >= seen.version) this.ledger.set(r.entry_id, r);
    }
  };
  rebuildHourly = async () => undefined;
  flags = new Map<string, ConversionFlagsRow>();
  outcomes = new Map<string, OutcomeRow>();
  bots = new Set<string>();
  writeFlags = async (rows: readonly ConversionFlagsRow[]) => {
    for (const r of rows) this.flags.set(r.conversion_id, ConversionFlagsRow.parse(r));
  };
  writeOutcomes = async (rows: readonly OutcomeRow[]) => {
    for (const r of rows) {
      const key = `${r.merchant_id}|${r.received_at}|${r.event_id}|${r.seq}`;
      const seen = this.outcomes.get(key);
      if (!seen || r.version >= seen.version) this.outcomes.set(key, OutcomeRow.parse(r));
    }
  };
  readBotClicks = async (ids: readonly string[]) => new Set(ids.filter((id) => this.bots.has(id)));

  snapshot() {
    const sorted = <T>(m: Map<string, T>) => [...m.entries()].sort(([a], [b]) => a.localeCompare(b));
    return { ledger: sorted(this.ledger), conversions: sorted(this.conversions) };
  }
}

function setup(store = new MemoryStore(), groupSize?: number, parkedRecheckMs?: number) {
  const letters: DeadLetter[] = [];
  const handle = createConversionHandler({
    groupSize,
    parkedRecheckMs,
    store,
    resolve: resolveDeps,
    deadLetter: async (l) => {
      letters.push(...l);
    },
    counters: { processed: () => undefined, deadLettered: () => undefined, outcome: () => undefined },
    log: createLogger("test", "silent"),
    parkedRetentionMs: 90 * DAY_MS,
  });
  const run = (messages: KafkaMessage[]) => handle(messages, { topic: "postbacks", partition: 0 });
  return { store, letters, run };
}

const message = (offset: number, key: string | null, value: string | Buffer | null): KafkaMessage => ({
  key: key === null ? null : Buffer.from(key),
  value: typeof value === "string" ? Buffer.from(value) : value,
  timestamp: "0",
  attributes: 0,
  offset: String(offset),
  headers: {},
});

function event(order: string, type: ConversionEvent["type"], over: Partial<ConversionEvent> = {}): ConversionEvent {
  return {
    v: 1,
    event_id: deterministicId("ev", order, type, JSON.stringify(over)),
    conversion_id: conversionId(1, order),
    merchant_id: 1,
    order_id: order,
    type,
    occurred_at_ms: NOW,
    received_at_ms: NOW,
    ...(type === "sale" ? { amount_minor: 10_000, currency: "USD", click_id: CLICK } : {}),
    ...over,
  };
}
const eventMessage = (offset: number, e: object & { conversion_id?: unknown }) =>
  message(offset, String(e.conversion_id), JSON.stringify(e));

describe("conversion handler", () => {
  it("dead-letters a postback with occurred_at 9000000000000000 and books the rest of its batch", async () => {
    const { store, letters, run } = setup();
    await run([
      eventMessage(0, event("A", "sale")),
      eventMessage(1, event("B", "sale", { occurred_at_ms: 9_000_000_000_000_000 })),
      eventMessage(2, event("C", "sale")),
      eventMessage(3, event("A", "approve", { occurred_at_ms: 9_000_000_000_000_000 })),
    ]);
    // refused by the event schema's window around receipt (packages/events), before any step runs
    expect(letters.map((l) => [l.message.offset, l.reason])).toEqual([
      ["1", expect.stringMatching(/^schema: occurred_at_ms /)],
      ["3", expect.stringMatching(/^schema: occurred_at_ms /)],
    ]);
    expect([...store.conversions.values()].map((c) => [c.order_id, c.commission_minor])).toEqual(
      expect.arrayContaining([
        ["A", 1000],
        ["C", 1000],
      ]),
    );
    expect(store.conversions.size).toBe(2);
  });

  it("pins a row ClickHouse refuses to its message by splitting the batch; the others are booked", async () => {
    const { store, letters, run } = setup();
    store.refuse = (order) => order === "POISON";
    const orders = ["A", "B", "POISON", "C", "D"];
    await run(orders.map((o, i) => eventMessage(i, event(o, "sale"))));
    expect(letters.map((l) => [l.message.offset, reasonClass(l.reason)])).toEqual([["2", "clickhouse_rejected"]]);
    expect([...store.conversions.values()].map((c) => c.order_id).sort()).toEqual(["A", "B", "C", "D"]);
  });

  it("throws on an outage so the whole batch is retried, and dead-letters nothing", async () => {
    const { store, letters, run } = setup();
    store.outage = true;
    await expect(run([eventMessage(0, event("A", "sale"))])).rejects.toMatchObject({ retryable: true });
    expect(letters).toEqual([]);
  });

  it("books a status change parked on a history read that missed its sale once more, parkedRecheckMs later", async () => {
    const statuses: Record<number, string | undefined> = {};
    for (const recheckMs of [0, 30]) {
      const store = new MemoryStore();
      const { run } = setup(store, undefined, recheckMs);
      await run([eventMessage(0, event("A", "sale"))]);
      // the next history read misses the sale (a replica that has not fetched it yet), the reads after it do not
      const readHistory = store.readHistory.bind(store);
      let stale = true;
      store.readHistory = async (ids) => {
        const rows = await readHistory(ids);
        const out = stale ? rows.filter((r) => r.type !== "sale") : rows;
        stale = false;
        return out;
      };
      await run([eventMessage(1, event("A", "approve"))]);
      expect([...store.conversions.values()].map((c) => c.status)).toEqual(["pending"]);
      await new Promise((r) => setTimeout(r, 200));
      statuses[recheckMs] = [...store.conversions.values()][0]?.status;
    }
    expect(statuses).toEqual({ 0: "pending", 30: "approved" });
  });

  it("dead-letters an event whose key is not its conversion id (offsets of two partitions cannot order it)", async () => {
    const { letters, run } = setup();
    await run([message(0, "another-key", JSON.stringify(event("A", "sale")))]);
    expect(letters.map((l) => l.reason)).toEqual(["key_mismatch"]);
  });

  it("processes batches of several partitions handed over together as one run; a dead letter keeps its partition", async () => {
    const store = new MemoryStore();
    let reads = 0;
    const readHistory = store.readHistory.bind(store);
    store.readHistory = (ids) => {
      reads++;
      return readHistory(ids);
    };
    store.refuse = (order) => order === "POISON";
    const { letters } = setup(store);
    const handle = createConversionHandler({
      store,
      resolve: resolveDeps,
      deadLetter: async (l) => {
        letters.push(...l);
      },
      counters: { processed: () => undefined, deadLettered: () => undefined, outcome: () => undefined },
      log: createLogger("test", "silent"),
      parkedRetentionMs: 90 * DAY_MS,
    });
    const batch = (partition: number, orders: string[]) =>
      handle(
        orders.map((o, i) => eventMessage(i, event(o, "sale"))),
        { topic: "postbacks", partition },
      );
    await Promise.all([batch(0, ["A", "B"]), batch(1, ["C", "POISON"]), batch(2, ["D"])]);
    expect(letters.map((l) => [l.partition, l.message.offset, reasonClass(l.reason)])).toEqual([
      [1, "1", "clickhouse_rejected"],
    ]);
    expect([...store.conversions.values()].map((c) => c.order_id).sort()).toEqual(["A", "B", "C", "D"]);
    // one read for the three batches, then the reads of the halves that pinned the refused row
    const firstRunReads = reads;
    await Promise.all([batch(0, ["E"]), batch(1, ["F"])]);
    expect(reads).toBe(firstRunReads + 1);
  });

  it("fails every batch of a run on an outage; batches that arrive during a run share the next one, never overlapping it", async () => {
    const store = new MemoryStore();
    const { run } = setup(store);
    store.outage = true;
    const failed = await Promise.allSettled([
      run([eventMessage(0, event("A", "sale"))]),
      run([eventMessage(1, event("B", "sale"))]),
    ]);
    expect(failed.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    store.outage = false;
    const reads: string[][] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    let open: () => void = () => undefined;
    const gate = new Promise<void>((r) => {
      open = r;
    });
    const readHistory = store.readHistory.bind(store);
    store.readHistory = async (ids) => {
      reads.push([...ids]);
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      await gate;
      inFlight--;
      return readHistory(ids);
    };
    const first = run([eventMessage(0, event("C", "sale"))]);
    while (reads.length === 0) await new Promise((r) => setImmediate(r));
    const later = [run([eventMessage(1, event("D", "sale"))]), run([eventMessage(2, event("E", "sale"))])];
    open();
    await Promise.all([first, ...later]);
    expect(reads.map((ids) => ids.length)).toEqual([1, 2]);
    expect(maxInFlight).toBe(1);
    expect([...store.conversions.values()].map((c) => c.order_id).sort()).toEqual(["C", "D", "E"]);
  });

  // 3,000 messages through the whole handler twice: seconds of CPU on a shared CI core, hence the timeout
  it("books a run large enough to be split into concurrent groups as it books the same messages in small batches", async () => {
    const messages: KafkaMessage[] = [];
    for (let i = 0; i < 3_000; i++) {
      const order = `G-${i % 1_500}`;
      const e = i < 1_500 ? event(order, "sale") : event(order, i % 2 ? "approve" : "reject");
      messages.push(eventMessage(i, e));
    }
    const groups = groupByConversion(
      messages.map((message) => ({ topic: "postbacks", partition: 0, message })),
      2_000,
    );
    expect(groups.length).toBe(2);
    const keysOf = (g: { message: KafkaMessage }[]) => new Set(g.map((d) => String(d.message.key)));
    const [a, b] = groups.map(keysOf);
    expect([...(a ?? [])].filter((k) => b?.has(k))).toEqual([]);
    for (const g of groups) {
      const offsets = g.map((d) => Number(d.message.offset));
      expect(offsets).toEqual([...offsets].sort((x, y) => x - y));
    }
    const whole = setup(new MemoryStore(), 2_000);
    await whole.run(messages);
    const small = setup();
    for (let i = 0; i < messages.length; i += 100) await small.run(messages.slice(i, i + 100));
    expect(whole.store.snapshot()).toEqual(small.store.snapshot());
    expect(whole.store.ledger.size).toBeGreaterThan(1_500);
  }, 60_000);

  it("dead-letters an adjustment that would push the commission past the amount bound, and not stores it", async () => {
    const { store, letters, run } = setup();
    const sale = event("A", "sale", { currency: "GBP", amount_minor: 1 });
    const adjust = event("A", "adjust", { amount_minor: MAX_AMOUNT_MINOR, change_id: "x" });
    await run([eventMessage(0, sale), eventMessage(1, adjust)]);
    // the event schema bounds amounts (MAX_AMOUNT_MINOR of packages/events) before the books see them
    expect(letters.map((l) => [l.message.offset, l.reason])).toEqual([
      ["1", expect.stringMatching(/^schema: amount_minor /)],
    ]);
    expect([...store.events.values()].map((r) => r.event_id)).toEqual([sale.event_id]);
  });
});

describe("payouts and outcomes through the handler", () => {
  const payout = (amount: number, receivedAtMs: number) =>
    event("P", "payout", {
      event_id: deterministicId("payout", "P"),
      source: "payout",
      payout: { run_id: "r".repeat(32), line_id: "l".repeat(32), amount_minor: amount },
      occurred_at_ms: receivedAtMs,
      received_at_ms: receivedAtMs,
    });
  const paidOf = (store: MemoryStore) =>
    [...store.ledger.values()].filter((l) => l.status === "paid").reduce((s, l) => s + l.commission_minor, 0);

  it("books a payout once, whatever is redelivered or replayed, and records each delivery's outcome", async () => {
    const { store, run } = setup();
    const batch = [
      eventMessage(0, event("P", "sale")),
      eventMessage(1, event("P", "approve", { occurred_at_ms: NOW - 40 * DAY_MS, received_at_ms: NOW })),
      eventMessage(2, payout(1000, NOW + 1000)),
      eventMessage(3, payout(1000, NOW + 2000)), // marked paid twice: the same event id again
    ];
    await run(batch);
    const first = store.snapshot();
    expect(paidOf(store)).toBe(1000);
    await run(batch); // a replay after a kill before the commit
    await run(batch.slice(2)); // and a redelivery of the tail
    expect(store.snapshot()).toEqual(first);
    expect(paidOf(store)).toBe(1000);
    // payout events are finance's, not the merchant's: only the sale and the approval are in the postback log
    expect([...store.outcomes.values()].map((o) => [o.type, o.outcome]).sort()).toEqual([
      ["approve", "booked"],
      ["sale", "booked"],
    ]);
  });

  it("tells the merchant about a dead-lettered event it can name", async () => {
    const { store, run } = setup();
    await run([eventMessage(0, event("Q", "sale", { currency: "JPY" }))]);
    expect([...store.outcomes.values()]).toMatchObject([
      { order_id: "Q", outcome: "dead_lettered", reason: expect.stringMatching(/^no_fx_rate/) },
    ]);
  });
});

// ------------------------------------------------------------------ property: nothing stalls, nothing is lost

const ORDERS = ["A", "B", "C", "D"];
const FIELDS = [
  "v",
  "event_id",
  "conversion_id",
  "merchant_id",
  "order_id",
  "type",
  "click_id",
  "coupon_code",
  "amount_minor",
  "currency",
  "reason",
  "change_id",
  "subs",
  "source",
  "occurred_at_ms",
  "received_at_ms",
  "__proto__",
  "constructor",
];
const extremeNumber = fc.oneof(
  fc.constantFrom(9_000_000_000_000_000, 1e21, -1, 0, Number.MAX_SAFE_INTEGER, 2 ** 53, 8.64e15, 4_294_967_296_000),
  fc.double({ noNaN: true }),
  fc.integer(),
);
const hostileValue = fc.oneof(
  extremeNumber,
  fc.anything(),
  fc.string(),
  fc.string({ unit: "grapheme" }),
  fc.constantFrom("__proto__", "constructor", "toString", "x".repeat(100_000), "\ud800", "1e21", "USD\u0000"),
);
/** A plausible event of one of four orders, with amounts and currencies that reach the edges of the bounds. */
const plausible = fc
  .record({
    order: fc.constantFrom(...ORDERS),
    type: fc.constantFrom("sale", "sale", "approve", "reject", "refund", "adjust"),
    amount: fc.oneof(
      { weight: 8, arbitrary: fc.integer({ min: 0, max: 100_000 }) },
      { weight: 1, arbitrary: fc.constant(MAX_AMOUNT_MINOR) },
      { weight: 1, arbitrary: fc.constant(undefined) },
    ),
    currency: fc.constantFrom("USD", "USD", "USD", "EUR", "GBP", "JPY", undefined),
    occurredOffsetMs: fc.oneof(
      { weight: 8, arbitrary: fc.integer({ min: -20 * DAY_MS, max: DAY_MS }) },
      { weight: 1, arbitrary: extremeNumber },
    ),
    receivedOffsetMs: fc.integer({ min: 0, max: 60_000 }),
    change: fc.option(fc.string({ maxLength: 4 }), { nil: undefined }),
  })
  .map((r): ConversionEvent => {
    const over: Partial<ConversionEvent> = {
      occurred_at_ms: NOW + r.occurredOffsetMs,
      received_at_ms: NOW + r.receivedOffsetMs,
    };
    if (r.amount !== undefined) over.amount_minor = r.amount;
    if (r.currency !== undefined) over.currency = r.currency;
    if (r.change !== undefined) over.change_id = r.change;
    return event(r.order, r.type as ConversionEvent["type"], over);
  });
type Shape = { key: string | null; value: string | Buffer | null };
const shapes: fc.Arbitrary<Shape> = fc.oneof(
  { weight: 6, arbitrary: plausible.map((e) => ({ key: e.conversion_id, value: JSON.stringify(e) })) },
  {
    weight: 3,
    arbitrary: fc
      .tuple(plausible, fc.constantFrom(...FIELDS), hostileValue)
      .map(([e, field, v]) => ({ key: e.conversion_id, value: JSON.stringify({ ...e, [field]: v }) ?? "" })),
  },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => ({ key: null, value: Buffer.from(b) })) },
  { weight: 1, arbitrary: fc.json().map((j) => ({ key: "k", value: j })) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<Shape>(
      { key: null, value: null },
      { key: "k", value: '{"__proto__":{"type":"sale"},"constructor":{"prototype":{}}}' },
      { key: "k", value: `"${"x".repeat(200_000)}"` },
      { key: "k", value: "[".repeat(5_000) },
    ),
  },
  { weight: 1, arbitrary: plausible.map((e) => ({ key: "not-the-conversion-id", value: JSON.stringify(e) })) },
);

/** Cuts the messages into consecutive batches, as a consumer receives them. */
function batches<T>(items: readonly T[], sizes: readonly number[]): T[][] {
  const out: T[][] = [];
  let i = 0;
  for (let b = 0; i < items.length; b++) {
    const size = sizes[b % Math.max(1, sizes.length)] ?? items.length;
    out.push(items.slice(i, i + size));
    i += size;
  }
  return out;
}

describe("conversion handler, fed arbitrary messages", () => {
  it("never stalls: every message is booked or dead-lettered, and a replay changes nothing", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(shapes, { minLength: 1, maxLength: 40 }),
        fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 5 }),
        fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 5 }),
        async (shapesGiven, firstCut, replayCut) => {
          const messages = shapesGiven.map((s, i) => message(1000 + i, s.key, s.value));
          const { store, letters, run } = setup();
          // a rejection here would hold the partition: the consumer retries a batch until its handler resolves
          for (const b of batches(messages, firstCut)) await run(b);

          const stored = new Set([...store.events.values()].map((r) => String(r.seq)));
          const dead = letters.map((l) => l.message.offset);
          expect(new Set(dead).size).toBe(dead.length);
          for (const m of messages) expect([stored.has(m.offset), dead.includes(m.offset)]).toContainEqual(true);
          for (const m of messages) expect(stored.has(m.offset) && dead.includes(m.offset)).toBe(false);
          for (const l of letters) expect(l.reason.length).toBeGreaterThan(0);

          // replaying the range (cut differently) rewrites the same books
          const before = store.snapshot();
          const replay = setup(store);
          for (const b of batches(messages, replayCut)) await replay.run(b);
          expect(store.snapshot()).toEqual(before);
          const again = new Set(replay.letters.map((l) => l.message.offset));
          for (const m of messages) expect(stored.has(m.offset) || again.has(m.offset)).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe("click handler", () => {
  const clickEvent = (id: string, clickedAtMs: number) => ({
    v: 1,
    click_id: id,
    link_id: 5,
    link_code: "abc",
    campaign_id: 7,
    influencer_id: 3,
    merchant_id: 1,
    clicked_at_ms: clickedAtMs,
    ip: "203.0.113.0",
    user_agent: "UA",
    referer: "",
    is_bot: false,
    is_unique: true,
  });

  it("dead-letters a click whose time no DateTime holds and writes the others; a refused row is pinned to its click", async () => {
    const written: string[] = [];
    const letters: DeadLetter[] = [];
    const handle = createClickHandler({
      ch: {
        insert: async (_name, _table, rows) => {
          const ids = rows.map((r) => (r as { click_id: string }).click_id);
          if (ids.includes("refused")) throw cannotParse();
          written.push(...ids);
        },
      },
      deadLetter: async (l) => {
        letters.push(...l);
      },
      counters: { processed: () => undefined, deadLettered: () => undefined },
      log: createLogger("test", "silent"),
    });
    const msgs = [
      clickEvent("a", NOW),
      clickEvent("far", 9_000_000_000_000_000),
      clickEvent("b", NOW),
      clickEvent("refused", NOW),
      clickEvent("c", NOW),
    ].map((e, i) => message(i, e.click_id, JSON.stringify(e)));
    await handle(msgs, { topic: "clicks", partition: 0 });
    expect(written).toEqual(["a", "b", "c"]);
    expect(letters.map((l) => [l.message.offset, reasonClass(l.reason)])).toEqual([
      ["1", "time_out_of_range"],
      ["3", "clickhouse_rejected"],
    ]);
  });
});

describe("click handler, records of many clicks", () => {
  it("writes every click of a packed record and dead-letters a bad line alone, as a message of its own", async () => {
    const written: string[] = [];
    const letters: DeadLetter[] = [];
    const handle = createClickHandler({
      ch: {
        insert: async (_name, _table, rows) => {
          written.push(...rows.map((r) => (r as { click_id: string }).click_id));
        },
      },
      deadLetter: async (l) => {
        letters.push(...l);
      },
      counters: { processed: () => undefined, deadLettered: () => undefined },
      log: createLogger("test", "silent"),
    });
    const event = (id: string) =>
      JSON.stringify({
        v: 1,
        click_id: id,
        link_id: 5,
        link_code: "abc",
        campaign_id: 7,
        influencer_id: 3,
        merchant_id: 1,
        clicked_at_ms: NOW,
        ip: "203.0.113.0",
        user_agent: "UA",
        referer: "",
        is_bot: id.startsWith("bot"),
        is_unique: false,
      });
    const [packed, ...rest] = packClickLines([event("a"), event("bot-b"), "{not json", event("c")], 10_000);
    expect(rest).toEqual([]);
    await handle([message(0, null, packed ?? ""), message(1, "d", event("d"))], { topic: "clicks", partition: 0 });
    expect(written).toEqual(["a", "bot-b", "c", "d"]);
    expect(letters.map((l) => [l.message.offset, l.message.value?.toString(), l.reason])).toEqual([
      ["0", "{not json", "invalid_json"],
    ]);
  });
});

describe("coalescingRebuild", () => {
  it("runs one rebuild at a time with increasing versions, merging the keys of batches that wait", async () => {
    const calls: { keys: number[]; version: number }[] = [];
    let release: () => void = () => undefined;
    const rebuild = coalescingRebuild(async (touched: readonly HourlyTouch[], version: number) => {
      calls.push({ keys: touched.map((t) => t.campaignId), version });
      if (calls.length === 1) await new Promise<void>((r) => (release = r));
    });
    const first = rebuild([{ campaignId: 1, hourStartSec: 0 }]);
    await new Promise((r) => setTimeout(r, 0));
    const second = rebuild([{ campaignId: 2, hourStartSec: 0 }]);
    const third = rebuild([{ campaignId: 3, hourStartSec: 0 }]);
    expect(calls).toHaveLength(1);
    release();
    await Promise.all([first, second, third]);
    expect(calls.map((c) => c.keys)).toEqual([[1], [2, 3]]);
    expect(calls[1]?.version).toBeGreaterThan(calls[0]?.version ?? 0);
  });
});
