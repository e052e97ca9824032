import type { Merchant } from "@aff/catalog";
import { ApiError, validationError } from "@aff/common";
import type { z } from "zod";
import { verifyPlatformHmac } from "../auth";
import type { Authenticator } from "../authenticate";
import type { PostbackConfig } from "../config";
import type { PostbackGuard } from "../guard";
import { parsePostbackEvent } from "../input";
import { type PlatformResult, parseJsonKeepingIds } from "../platforms/common";
import { fromShopify } from "../platforms/shopify";
import { fromWooCommerce } from "../platforms/woocommerce";
import { type RouteKit, refuseAny } from "../routing";

type Platform = {
  source: "shopify" | "woocommerce";
  /** the header carrying the base64 HMAC of the raw body */
  header: string;
  topicHeader: string;
  /** the platform's id of one delivery, the same on every retry of it */
  deliveryHeader: string;
  /** when the platform triggered the webhook (kept on retries), if it says so */
  triggeredAtHeader?: string;
  secretOf: (m: Merchant) => string | undefined;
  map: (topic: string | undefined, body: unknown, merchantId: number) => PlatformResult | z.ZodError;
};

const SHOPIFY: Platform = {
  source: "shopify",
  header: "x-shopify-hmac-sha256",
  topicHeader: "x-shopify-topic",
  deliveryHeader: "x-shopify-webhook-id",
  triggeredAtHeader: "x-shopify-triggered-at",
  secretOf: (m) => m.shopify_webhook_secret,
  map: fromShopify,
};
const WOOCOMMERCE: Platform = {
  source: "woocommerce",
  header: "x-wc-webhook-signature",
  topicHeader: "x-wc-webhook-topic",
  deliveryHeader: "x-wc-webhook-delivery-id",
  secretOf: (m) => m.woocommerce_webhook_secret,
  map: fromWooCommerce,
};

/** Where handled deliveries are remembered (the postback guard). */
export type Deliveries = Pick<PostbackGuard, "priorDelivery" | "recordDelivery">;
type Limits = Pick<PostbackConfig, "WEBHOOK_REPLAY_WINDOW_S" | "SIGNATURE_TOLERANCE_S">;

/** POST /webhooks/shopify/:merchantId and /webhooks/woocommerce/:merchantId (raw bodies). */
export function platformRoutes(kit: RouteKit, auth: Authenticator, deliveries: Deliveries, limits: Limits) {
  return {
    shopify: platformRoute(kit, auth, { deliveries, limits, p: SHOPIFY }),
    woocommerce: platformRoute(kit, auth, { deliveries, limits, p: WOOCOMMERCE }),
  };
}

/**
 * Order webhooks of a store platform: verified with the merchant's own secret for that platform (never the postback
 * secret: one key, one MAC scheme), inside the replay window where the platform dates its deliveries, answered
 * from memory when its delivery id was handled before, then mapped onto our events.
 */
function platformRoute(kit: RouteKit, auth: Authenticator, o: { deliveries: Deliveries; limits: Limits; p: Platform }) {
  const { p, deliveries } = o;
  return kit.route(async (req, res) => {
    const raw: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    // WooCommerce checks a new webhook URL with an unsigned form post `webhook_id=<n>`; it carries no order.
    if (p.source === "woocommerce" && !req.get(p.topicHeader) && /^webhook_id=\d+$/.test(raw.toString("utf8")))
      return void res.status(200).json({ pong: true });
    const caller = await auth.authenticate(req, req.params.merchantId ?? "", (m) => {
      const own = p.secretOf(m);
      return verifyPlatformHmac(req.get(p.header), p.header, own ? [own] : [], raw);
    });
    if (p.triggeredAtHeader) checkTriggeredAt(p.triggeredAtHeader, req.get(p.triggeredAtHeader), o.limits);
    const delivery = deliveryId(p, req.get(p.deliveryHeader));
    const merchantId = caller.merchant.id;
    if (delivery) {
      const prior = await remembered(() => deliveries.priorDelivery(p.source, merchantId, delivery));
      if (prior && typeof prior === "object") {
        kit.outcomes.inc({ outcome: "duplicate_delivery" });
        return void res.status(200).json({ ...prior, duplicate: true });
      }
    }
    const events = platformEvents(kit, p, req.get(p.topicHeader), raw, merchantId);
    if (!Array.isArray(events)) return void res.status(200).json(events);
    const results = await kit.accepted(events, caller.signature);
    refuseAny(results, (i) => `events.${i}`);
    kit.outcomes.inc({ outcome: "webhook" });
    const answer = { accepted: true, events: results };
    const all = results.every((r) => "duplicate" in r && r.duplicate);
    res.status(all ? 200 : 202).json({ ...answer, duplicate: all });
    // Best effort: without it a redelivery is mapped and published again, with the same event ids.
    if (delivery) await deliveries.recordDelivery(p.source, merchantId, delivery, answer).catch(() => undefined);
  });
}

/** The body as events, or the 200 answer of a webhook that needs none; refusals are ApiErrors. */
function platformEvents(kit: RouteKit, p: Platform, topic: string | undefined, raw: Buffer, merchantId: number) {
  let json: unknown;
  try {
    json = parseJsonKeepingIds(raw.toString("utf8"));
  } catch {
    throw new ApiError("malformed_body", "the body is not JSON");
  }
  const mapped = p.map(topic, json, merchantId);
  if (!("kind" in mapped)) throw validationError(mapped);
  if (mapped.kind === "unsupported") throw new ApiError("unsupported_topic", mapped.message);
  if (mapped.kind === "ignored") {
    kit.outcomes.inc({ outcome: "ignored" });
    kit.log.info({ source: p.source, merchant_id: merchantId, reason: mapped.reason }, "webhook_ignored");
    return { accepted: true, events: [], ignored: mapped.reason };
  }
  const now = Date.now();
  return mapped.events.map((fields, i) => {
    const parsed = parsePostbackEvent(fields, now, p.source);
    if (!parsed.success) throw validationError(parsed.error, `events.${i}`);
    return parsed.data;
  });
}

/**
 * Where the platform dates its deliveries (Shopify), a delivery older than the window is refused as stale, as is one
 * dated ahead of our clock by more than the signature tolerance. The date is not covered by the platform's HMAC:
 * the window stops a captured webhook replayed as it was; one replayed with a new date republishes the same derived
 * event ids, which are answered as duplicates and booked once.
 */
function checkTriggeredAt(header: string, value: string | undefined, limits: Limits): void {
  if (value === undefined || value === "") return;
  const at = /^\d{4}-\d\d-\d\dT[\d:.]+(?:Z|[+-]\d\d:\d\d)$/.test(value.trim()) ? Date.parse(value.trim()) : Number.NaN;
  if (!Number.isFinite(at))
    throw new ApiError("validation_failed", `${header} is not an ISO 8601 date-time`, {
      issues: [{ path: header, message: "must be an ISO 8601 date-time", code: "invalid_format" }],
    });
  const ageS = (Date.now() - at) / 1000;
  if (ageS > limits.WEBHOOK_REPLAY_WINDOW_S || ageS < -limits.SIGNATURE_TOLERANCE_S)
    throw new ApiError(
      "stale_signature",
      `the webhook was triggered at ${value.trim()}, outside the ${limits.WEBHOOK_REPLAY_WINDOW_S} s replay window`,
    );
}

/** The platform's delivery id (a UUID, a number): bounded, printable, or refused naming the header. */
function deliveryId(p: Platform, value: string | undefined): string | undefined {
  const id = value?.trim();
  if (!id) return undefined;
  if (/^[A-Za-z0-9._:-]{1,128}$/.test(id)) return id;
  throw new ApiError("validation_failed", `${p.deliveryHeader} is not a delivery id`, {
    issues: [{ path: p.deliveryHeader, message: "must be 1-128 letters, digits or ._:-", code: "invalid_format" }],
  });
}

/** A read of the delivery memory; Redis away is an outage (503), the platform retries. */
async function remembered<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    throw new ApiError("catalog_unavailable", "retry shortly", { cause: err });
  }
}
