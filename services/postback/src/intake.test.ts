import type { ConversionEvent } from "@aff/events";
import { describe, expect, it } from "vitest";
import type { Claim, PostbackGuard, PriorEvent, PriorSale } from "./guard";
import { PostbackInput, toConversionEvent } from "./input";
import { createIntake } from "./intake";

/** The guard's memory as plain maps, with the same contract: markers are read at claim, written after the send. */
function memoryGuard() {
  const sales = new Map<string, PriorSale>();
  const events = new Map<string, PriorEvent>();
  const guard: Pick<PostbackGuard, "claim" | "release" | "recordAcknowledged"> = {
    claim: async (_sig, conversionIds, eventIds = []): Promise<Claim> => ({
      fresh: true,
      sales: conversionIds.map((id) => sales.get(id)),
      events: eventIds.map((id) => events.get(id)),
    }),
    release: async () => undefined,
    recordAcknowledged: async (s, e = []) => {
      for (const x of s) if (!sales.has(x.conversionId)) sales.set(x.conversionId, x.sale);
      for (const x of e) if (!events.has(x.eventId)) events.set(x.eventId, x.event);
    },
  };
  return guard;
}

const NOW = Date.UTC(2026, 10, 27);
const event = (fields: Record<string, unknown>): ConversionEvent =>
  toConversionEvent(PostbackInput.parse({ merchant_id: 1, order_id: "O-1", ...fields }), NOW, "api");

function intake() {
  const published: string[] = [];
  const accept = createIntake({
    guard: memoryGuard(),
    publisher: { publish: async (messages) => void published.push(...messages.map((m) => m.value)) },
  });
  const results = async (...events: ConversionEvent[]) => {
    const r = await accept(events, undefined);
    if (r.kind !== "accepted") throw new Error("replayed");
    return r.results;
  };
  return { results, published };
}

describe("intake", () => {
  it("answers a repeated approval, rejection, refund or adjustment as a duplicate, and does not publish it again", async () => {
    const { results, published } = intake();
    const changes = [
      event({ type: "approve" }),
      event({ type: "reject", reason: "fraud" }),
      event({ type: "refund", amount: 100, currency: "USD", change_id: "R1" }),
      event({ type: "adjust", amount: 900, currency: "USD", change_id: "A1" }),
    ];
    for (const e of changes) expect(await results(e)).toMatchObject([{ event_id: e.event_id, duplicate: false }]);
    for (const e of changes) expect(await results(e)).toMatchObject([{ event_id: e.event_id, duplicate: true }]);
    expect(published).toHaveLength(4);
    // within one request too
    const other = event({ type: "refund", amount: 5, currency: "USD", change_id: "R2" });
    expect((await results(other, other)).map((r) => "duplicate" in r && r.duplicate)).toEqual([false, true]);
  });

  it("refuses a refund or adjustment in another currency than its known sale, naming currency", async () => {
    const { results, published } = intake();
    await results(event({ amount: 1000, currency: "USD" }));
    const eur = await results(event({ type: "refund", amount: 100, currency: "EUR", change_id: "R1" }));
    expect(eur).toMatchObject([{ refused: { path: "currency", code: "currency_mismatch" } }]);
    const adjust = await results(event({ type: "adjust", amount: 100, currency: "GBP" }));
    expect(adjust).toMatchObject([{ refused: { path: "currency" } }]);
    expect(await results(event({ type: "refund", amount: 100, currency: "USD", change_id: "R1" }))).toMatchObject([
      { duplicate: false },
    ]);
    expect(published).toHaveLength(2);
    // a sale and its refund in one batch
    const batch = await results(
      event({ order_id: "O-2", amount: 10, currency: "JPY" }),
      event({ order_id: "O-2", type: "refund", amount: 5, currency: "USD", change_id: "R" }),
    );
    expect(batch[1]).toMatchObject({ refused: { path: "currency" } });
  });

  it("passes on a refund whose sale it does not know (the worker reports the mismatch)", async () => {
    const { results } = intake();
    expect(await results(event({ type: "refund", amount: 100, currency: "EUR", change_id: "R1" }))).toMatchObject([
      { duplicate: false },
    ]);
  });
});
