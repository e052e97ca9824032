import type { Merchant } from "@aff/catalog";
import { ApiError, zodIssues } from "@aff/common";
import type { ConversionEvent } from "@aff/events";
import { type Authenticator, claimedMerchant } from "../authenticate";
import type { PostbackConfig } from "../config";
import { parsePostbackEvent } from "../input";
import type { EventRefusal, EventResult } from "../intake";
import { objectBody, type Route, type RouteKit } from "../routing";
import { singleEventRoute } from "./postback";

type ItemResult = Record<string, unknown>;

/** The signed JSON API: POST /v1/conversions (one event) and POST /v1/conversions/batch. */
export function apiRoutes(kit: RouteKit, auth: Authenticator, config: Pick<PostbackConfig, "MAX_BATCH_EVENTS">) {
  return { single: singleEventRoute(kit, auth, "api", false), batch: batchRoute(kit, auth, config.MAX_BATCH_EVENTS) };
}

/** Up to `maxEvents` signed events; each gets its own result, the answer is 202, 207 (mixed) or 400. */
function batchRoute(kit: RouteKit, auth: Authenticator, maxEvents: number): Route {
  return kit.route(async (req, res) => {
    const body = objectBody(req);
    const verify = auth.bodySignature(req) ?? auth.signatureRequired;
    const caller = await auth.authenticate(req, claimedMerchant(req, body), verify);
    const list = body.events;
    if (!Array.isArray(list) || list.length === 0)
      throw new ApiError("validation_failed", "events must be a non-empty array", {
        issues: [{ path: "events", message: "must be a non-empty array", code: "invalid_type" }],
      });
    if (list.length > maxEvents)
      throw new ApiError("batch_too_large", `at most ${maxEvents} events per batch, got ${list.length}`);
    const now = Date.now();
    const results: ItemResult[] = new Array(list.length);
    const events: ConversionEvent[] = [];
    const slots: number[] = [];
    list.forEach((item: unknown, index) => {
      const one = batchItem(item, index, caller.merchant, now);
      if ("refused" in one) results[index] = one.refused;
      else {
        events.push(one.event);
        slots.push(index);
      }
    });
    const done = events.length > 0 ? await kit.accepted(events, caller.signature) : [];
    done.forEach((r, i) => {
      const index = slots[i] ?? -1;
      results[index] = itemResult(r, index);
    });
    const bad = results.filter((r) => r.status === 400).length;
    kit.outcomes.inc({ outcome: "batch" });
    res
      .status(
        bad === list.length ? 400 : bad > 0 ? 207 : done.every((r) => "duplicate" in r && r.duplicate) ? 200 : 202,
      )
      .json({ accepted: list.length - bad, rejected: bad, results });
  });
}

/** The answer for one item the intake took (202, 200 duplicate) or refused (400 naming the field). */
function itemResult(r: EventResult | EventRefusal, index: number): ItemResult {
  if (!("refused" in r)) return { index, status: r.duplicate ? 200 : 202, ...r };
  const issue = { ...r.refused, path: `events.${index}.${r.refused.path}` };
  return { index, status: 400, error: "validation_failed", issues: [issue] };
}

/** One item of a batch: its event, or its 400 result naming the fields under `events.<index>`. */
function batchItem(
  item: unknown,
  index: number,
  merchant: Merchant,
  now: number,
): { event: ConversionEvent } | { refused: ItemResult } {
  const own = item && typeof item === "object" ? (item as Record<string, unknown>).merchant_id : undefined;
  if (own !== undefined && String(own) !== String(merchant.id))
    return {
      refused: {
        index,
        status: 400,
        error: "validation_failed",
        issues: [{ path: `events.${index}.merchant_id`, message: "must be the signing merchant", code: "custom" }],
      },
    };
  const fields = item && typeof item === "object" ? { ...item, merchant_id: merchant.id } : item;
  const parsed = parsePostbackEvent(fields, now, "api");
  if (parsed.success) return { event: parsed.data };
  return {
    refused: { index, status: 400, error: "validation_failed", issues: zodIssues(parsed.error, `events.${index}`) },
  };
}
