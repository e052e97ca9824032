import { AppError, type FieldIssue, wrapError } from "@aff/common";
import type { ConversionEvent } from "@aff/events";
import type { Claim, PostbackGuard, PriorSale } from "./guard";
import type { CoalescingPublisher } from "./publisher";

export type EventResult = {
  conversion_id: string;
  event_id: string;
  type: ConversionEvent["type"];
  duplicate: boolean;
};
/** An event refused because of what the service remembers (a refund in another currency than its sale). */
export type EventRefusal = Omit<EventResult, "duplicate"> & { refused: FieldIssue };
export type IntakeResult = { kind: "replayed" } | { kind: "accepted"; results: (EventResult | EventRefusal)[] };
export type Signature = { merchantId: number; mac: string };

/**
 * The last step of every route: claim the signature (replay protection), answer events acknowledged before as
 * duplicates (a sale by its order, a status change by its derived event id), refuse a refund or adjustment in
 * another currency than its known sale, publish the rest and resolve only once Kafka acknowledged them. Throws
 * AppError `not_durable` (retryable) when the acknowledgement did not come: nothing was promised, and a retry of the
 * same request is accepted.
 */
export function createIntake(deps: {
  guard: Pick<PostbackGuard, "claim" | "release" | "recordAcknowledged">;
  publisher: Pick<CoalescingPublisher, "publish">;
}) {
  const { guard, publisher } = deps;

  return async function accept(events: ConversionEvent[], signature: Signature | undefined): Promise<IntakeResult> {
    const saleIds = unique(
      events.filter((e) => e.type !== "approve" && e.type !== "reject").map((e) => e.conversion_id),
    );
    const changeIds = unique(events.filter((e) => e.type !== "sale").map((e) => e.event_id));
    let claim: Claim;
    try {
      claim = await guard.claim(signature, saleIds, changeIds);
    } catch (err) {
      throw wrapError("guard_unavailable", err, true);
    }
    if (!claim.fresh) return { kind: "replayed" };
    const memory = {
      sales: new Map(saleIds.flatMap((id, i) => (claim.sales[i] ? [[id, claim.sales[i]] as const] : []))),
      events: new Set(changeIds.filter((_, i) => claim.events[i])),
    };
    const results = events.map((e) => classify(e, memory));
    const fresh = events.filter((_, i) => isFresh(results[i]));

    try {
      await publisher.publish(fresh.map((e) => ({ key: e.conversion_id, value: JSON.stringify(e) })));
    } catch (err) {
      if (signature) await guard.release(signature).catch(() => undefined);
      throw new AppError("not_durable", "the event could not be stored; it was not accepted, retry", {
        retryable: true,
        cause: err,
      });
    }
    const sales = fresh
      .filter((e) => e.type === "sale")
      .map((e) => ({
        conversionId: e.conversion_id,
        sale: { event_id: e.event_id, received_at_ms: e.received_at_ms, currency: e.currency },
      }));
    const changes = fresh
      .filter((e) => e.type !== "sale")
      .map((e) => ({ eventId: e.event_id, event: { received_at_ms: e.received_at_ms } }));
    // Best effort: without a marker a resend is published again with the same event id, which the worker ignores.
    await guard.recordAcknowledged(sales, changes).catch(() => undefined);
    return { kind: "accepted", results };
  };
}

type Memory = { sales: Map<string, PriorSale>; events: Set<string> };
const unique = (ids: string[]) => [...new Set(ids)];
const isFresh = (r: EventResult | EventRefusal | undefined) => r !== undefined && "duplicate" in r && !r.duplicate;

/** Duplicate, refused or fresh, given what was acknowledged before and what came earlier in the same request. */
function classify(e: ConversionEvent, memory: Memory): EventResult | EventRefusal {
  const ids = { conversion_id: e.conversion_id, event_id: e.event_id, type: e.type };
  const sale = memory.sales.get(e.conversion_id);
  if (e.type === "sale") {
    if (sale) return { ...ids, event_id: sale.event_id, duplicate: true };
    memory.sales.set(e.conversion_id, { event_id: e.event_id, received_at_ms: e.received_at_ms, currency: e.currency });
    return { ...ids, duplicate: false };
  }
  if (memory.events.has(e.event_id)) return { ...ids, duplicate: true };
  if ((e.type === "refund" || e.type === "adjust") && sale?.currency && e.currency && e.currency !== sale.currency)
    return {
      ...ids,
      refused: {
        path: "currency",
        message: `must be the order's currency, ${sale.currency}`,
        code: "currency_mismatch",
      },
    };
  memory.events.add(e.event_id);
  return { ...ids, duplicate: false };
}
export type Intake = ReturnType<typeof createIntake>;
