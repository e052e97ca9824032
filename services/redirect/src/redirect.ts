import type { IncomingMessage, ServerResponse } from "node:http";
import { checkDestination, LinkCode } from "@aff/catalog";
import { signClickId } from "@aff/common";
import type { ClickEvent } from "@aff/events";
import { LRUCache } from "lru-cache";
import type { ClickPublisher } from "./click-publisher";
import { botReason, clientIp, truncateIp } from "./client-info";
import type { LinkCache } from "./link-cache";

export type RedirectDeps = {
  links: LinkCache;
  publisher: ClickPublisher;
  clickIdSecret: string;
  trustProxy: boolean;
  notFoundUrl?: string;
  count: (outcome: "redirect" | "bot_redirect" | "not_found" | "bad_request" | "unavailable") => void;
};

const MAX_URL_LENGTH = 4096;
const CLICK_COOKIE_MAX_AGE_S = 30 * 24 * 3600;
const NOT_FOUND_PAGE = "<!doctype html><title>Link not found</title><p>This link does not exist or has expired.</p>\n";

function plain(res: ServerResponse, status: number, body: string, type = "text/plain; charset=utf-8"): void {
  res.writeHead(status, { "Content-Type": type, "Cache-Control": "no-store", "Content-Length": Buffer.byteLength(body) });
  res.end(body);
}

/**
 * The hot path, on bare node:http: GET or HEAD /{code} -> 302 to the link's destination with a signed click id.
 * It waits on nothing but the in-process link cache; the click event is queued for Kafka after the answer is written.
 */
export function createRedirectHandler(d: RedirectDeps) {
  const uniques = new LRUCache<string, true>({ max: 200_000, ttl: 3_600_000 });

  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = req.url ?? "/";
    if (url.length > MAX_URL_LENGTH) {
      d.count("bad_request");
      return plain(res, 414, "URI too long\n");
    }
    const q = url.indexOf("?");
    const code = url.slice(1, q === -1 ? undefined : q);
    if (!LinkCode.safeParse(code).success) {
      d.count("not_found");
      return notFound(res, d.notFoundUrl);
    }
    let link: Awaited<ReturnType<LinkCache["get"]>>;
    try {
      link = await d.links.get(code);
    } catch {
      d.count("unavailable");
      return plain(res, 503, "Temporarily unavailable, please retry\n");
    }
    if (link?.status !== "active") {
      d.count("not_found");
      return notFound(res, d.notFoundUrl);
    }
    // Checked at creation; checked again here so a link saved before a rule tightened can never become an open redirect.
    const dest = checkDestination(link.destination, link.allowed_domains);
    if (!dest.ok) {
      d.count("not_found");
      return notFound(res, d.notFoundUrl);
    }
    const now = Date.now();
    const clickId = signClickId(d.clickIdSecret, { linkId: link.id, influencerId: link.influencer_id, campaignId: link.campaign_id, clickedAtMs: now });
    dest.url.searchParams.set(link.click_param, clickId);
    res.writeHead(302, {
      Location: dest.url.toString(),
      "Cache-Control": "no-store",
      "Set-Cookie": `aff_click=${clickId}; Max-Age=${CLICK_COOKIE_MAX_AGE_S}; Path=/; HttpOnly; SameSite=Lax`,
      "Content-Length": 0,
    });
    res.end();

    const bot = botReason(req);
    const ip = truncateIp(clientIp(req, d.trustProxy));
    const ua = (req.headers["user-agent"] ?? "").slice(0, 1024);
    const uniqueKey = `${link.id}|${ip}|${ua}|${Math.floor(now / 3_600_000)}`;
    const isUnique = !bot && !uniques.has(uniqueKey);
    if (isUnique) uniques.set(uniqueKey, true);
    const event: ClickEvent = {
      v: 1,
      click_id: clickId,
      link_id: link.id,
      link_code: link.code,
      campaign_id: link.campaign_id,
      influencer_id: link.influencer_id,
      merchant_id: link.merchant_id,
      clicked_at_ms: now,
      ip,
      user_agent: ua,
      referer: (req.headers.referer ?? "").slice(0, 2048),
      is_bot: bot !== undefined,
      is_unique: isUnique,
    };
    d.publisher.publish(event);
    d.count(bot ? "bot_redirect" : "redirect");
  };
}

function notFound(res: ServerResponse, fallback: string | undefined): void {
  if (fallback) {
    res.writeHead(302, { Location: fallback, "Cache-Control": "no-store", "Content-Length": 0 });
    res.end();
    return;
  }
  plain(res, 404, NOT_FOUND_PAGE, "text/html; charset=utf-8");
}
