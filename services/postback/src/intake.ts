import { AppError, wrapError } from "@aff/common";
import type { ConversionEvent } from "@aff/events";
import type { PostbackGuard } from "./guard";
import type { CoalescingPublisher } from "./publisher";

export type EventResult = {
  conversion_id: string;
  event_id: string;
  type: ConversionEvent["type"];
  duplicate: boolean;
};
export type IntakeResult = { kind: "replayed" } | { kind: "accepted"; results: EventResult[] };
export type Signature = { merchantId: number; mac: string };

/**
 * The last step of every route: claim the signature (replay protection), answer sales seen before as duplicates,
 * publish the rest and resolve only once Kafka acknowledged them. Throws AppError `not_durable` (retryable) when
 * the acknowledgement did not come: nothing was promised, and a retry of the same request is accepted.
 */
export function createIntake(deps: { guard: PostbackGuard; publisher: CoalescingPublisher; publishTimeoutMs: number }) {
  const { guard, publisher } = deps;

  const publishWithin = async (messages: { key: string; value: string }[]) => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no acknowledgement within ${deps.publishTimeoutMs} ms`)),
        deps.publishTimeoutMs,
      );
    });
    try {
      await Promise.race([publisher.publish(messages), timeout]);
    } finally {
      clearTimeout(timer);
    }
  };

  return async function accept(events: ConversionEvent[], signature: Signature | undefined): Promise<IntakeResult> {
    const saleIds = [...new Set(events.filter((e) => e.type === "sale").map((e) => e.conversion_id))];
    let claim: Awaited<ReturnType<PostbackGuard["claim"]>>;
    try {
      claim = await guard.claim(signature, saleIds);
    } catch (err) {
      throw wrapError("guard_unavailable", err, true);
    }
    if (!claim.fresh) return { kind: "replayed" };
    const original = new Map<string, string>();
    saleIds.forEach((id, i) => {
      const prior = claim.prior[i];
      if (prior) original.set(id, prior.event_id);
    });

    const results: EventResult[] = [];
    const fresh: ConversionEvent[] = [];
    for (const e of events) {
      const seen = e.type === "sale" ? original.get(e.conversion_id) : undefined;
      if (seen) {
        results.push({ conversion_id: e.conversion_id, event_id: seen, type: e.type, duplicate: true });
        continue;
      }
      if (e.type === "sale") original.set(e.conversion_id, e.event_id);
      fresh.push(e);
      results.push({ conversion_id: e.conversion_id, event_id: e.event_id, type: e.type, duplicate: false });
    }

    try {
      await publishWithin(fresh.map((e) => ({ key: e.conversion_id, value: JSON.stringify(e) })));
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
        sale: { event_id: e.event_id, received_at_ms: e.received_at_ms },
      }));
    // Best effort: without the marker a resend is published again with the same event id, which the worker ignores.
    await guard.recordSales(sales).catch(() => undefined);
    return { kind: "accepted", results };
  };
}
export type Intake = ReturnType<typeof createIntake>;
