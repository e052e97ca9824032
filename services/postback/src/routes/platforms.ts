import { acceptedCredentials, type Merchant } from "@aff/catalog";
import { ApiError, validationError } from "@aff/common";
import type { z } from "zod";
import { verifyPlatformHmac } from "../auth";
import type { Authenticator } from "../authenticate";
import { parsePostbackEvent } from "../input";
import { type PlatformResult, parseJsonKeepingIds } from "../platforms/common";
import { fromShopify } from "../platforms/shopify";
import { fromWooCommerce } from "../platforms/woocommerce";
import type { Route, RouteKit } from "../routing";

type Platform = {
  source: "shopify" | "woocommerce";
  /** the header carrying the base64 HMAC of the raw body */
  header: string;
  topicHeader: string;
  secretOf: (m: Merchant) => string | undefined;
  map: (topic: string | undefined, body: unknown, merchantId: number) => PlatformResult | z.ZodError;
};

const SHOPIFY: Platform = {
  source: "shopify",
  header: "x-shopify-hmac-sha256",
  topicHeader: "x-shopify-topic",
  secretOf: (m) => m.shopify_webhook_secret,
  map: fromShopify,
};
const WOOCOMMERCE: Platform = {
  source: "woocommerce",
  header: "x-wc-webhook-signature",
  topicHeader: "x-wc-webhook-topic",
  secretOf: (m) => m.woocommerce_webhook_secret,
  map: fromWooCommerce,
};

/** POST /webhooks/shopify/:merchantId and /webhooks/woocommerce/:merchantId (raw bodies). */
export function platformRoutes(kit: RouteKit, auth: Authenticator) {
  return { shopify: platformRoute(kit, auth, SHOPIFY), woocommerce: platformRoute(kit, auth, WOOCOMMERCE) };
}

/** Order webhooks of a store platform, verified with its base64 HMAC header and mapped onto our events. */
function platformRoute(kit: RouteKit, auth: Authenticator, p: Platform): Route {
  return kit.route(async (req, res) => {
    const raw: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    // WooCommerce checks a new webhook URL with an unsigned form post `webhook_id=<n>`; it carries no order.
    if (p.source === "woocommerce" && !req.get(p.topicHeader) && /^webhook_id=\d+$/.test(raw.toString("utf8")))
      return void res.status(200).json({ pong: true });
    const caller = await auth.authenticate(req, req.params.merchantId ?? "", (m) => {
      const own = p.secretOf(m);
      return verifyPlatformHmac(
        req.get(p.header),
        p.header,
        own ? [own] : acceptedCredentials(m, Date.now()).secrets,
        raw,
      );
    });
    let json: unknown;
    try {
      json = parseJsonKeepingIds(raw.toString("utf8"));
    } catch {
      throw new ApiError("malformed_body", "the body is not JSON");
    }
    const mapped = p.map(req.get(p.topicHeader), json, caller.merchant.id);
    if (!("kind" in mapped)) throw validationError(mapped);
    if (mapped.kind === "unsupported") throw new ApiError("unsupported_topic", mapped.message);
    if (mapped.kind === "ignored") {
      kit.outcomes.inc({ outcome: "ignored" });
      kit.log.info({ source: p.source, merchant_id: caller.merchant.id, reason: mapped.reason }, "webhook_ignored");
      return void res.status(200).json({ accepted: true, events: [], ignored: mapped.reason });
    }
    const now = Date.now();
    const events = mapped.events.map((fields, i) => {
      const parsed = parsePostbackEvent(fields, now, p.source);
      if (!parsed.success) throw validationError(parsed.error, `events.${i}`);
      return parsed.data;
    });
    const results = await kit.accepted(events, caller.signature);
    kit.outcomes.inc({ outcome: "webhook" });
    res.status(results.every((r) => r.duplicate) ? 200 : 202).json({ accepted: true, events: results });
  });
}
