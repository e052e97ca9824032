import { randomFillSync } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { LINK_CODE_PATTERN } from "@aff/catalog";
import { clientAddress, signClickId } from "@aff/common";
import type { ClickEvent } from "@aff/events";
import { botReason, truncateIp } from "./client-info";
import type { LinkCache } from "./link-cache";
import type { RedirectTarget } from "./link-record";
import { UniqueVisitors } from "./unique-visitors";

export const REDIRECT_OUTCOMES = [
  "redirect",
  "bot_redirect",
  "not_found",
  "expired",
  "bad_request",
  "unavailable",
] as const;
export type RedirectOutcome = (typeof REDIRECT_OUTCOMES)[number];

export type RedirectDeps = {
  links: LinkCache;
  /** `persist` makes the clicks published so far survive a kill: called before their answers are written */
  publisher: { publish(event: ClickEvent): void; persist(): void };
  clickIdSecret: string;
  /** which hops may set X-Forwarded-For (see `proxyEnv`) */
  trustProxy: (addr: string, i: number) => boolean;
  notFoundUrl?: string;
  count: (outcome: RedirectOutcome) => void;
};

const MAX_URL_LENGTH = 4096;
const CLICK_COOKIE_MAX_AGE_S = 30 * 24 * 3600;
const NOT_FOUND_PAGE = "<!doctype html><title>Link not found</title><p>This link does not exist or has expired.</p>\n";

function plain(res: ServerResponse, status: number, body: string, type = "text/plain; charset=utf-8"): void {
  res.writeHead(status, {
    "Content-Type": type,
    "Cache-Control": "no-store",
    "Content-Length": Buffer.byteLength(body),
  });
  res.end(body);
}

const HOUR_MS = 3_600_000;
const RANDOM_POOL_BYTES = 6 * 1024;

/** The click id's 6 random bytes, cut from a pool refilled 1024 ids at a time (one call per id costs more than the HMAC). */
function randomSource(): () => Buffer {
  const pool = Buffer.alloc(RANDOM_POOL_BYTES);
  let offset = RANDOM_POOL_BYTES;
  return () => {
    if (offset === RANDOM_POOL_BYTES) {
      randomFillSync(pool);
      offset = 0;
    }
    offset += 6;
    return pool.subarray(offset - 6, offset);
  };
}

/**
 * Under load, the 302s of one event-loop turn (every request read in one poll phase) are written together right after
 * it, in the check phase (`setImmediate`): back to back, they reach a client that is already awake, where one write
 * per request between the requests' own work woke it each time, which on a VM costs more than the redirect's own work
 * (docs/adr/0003, "Answers written per turn"). A turn that follows a turn of fewer than four answers writes each at
 * once: at a low rate there is little to write together, and an answer does not wait for the rest of its turn.
 * `beforeWrite` runs before any answer is written (the clicks of the answers are journaled there).
 */
function redirectsPerTurn(beforeWrite: () => void) {
  /** answers in the previous turn from which this turn's are written together */
  const TOGETHER_FROM = 4;
  let pending: { res: ServerResponse; headers: string[] }[] = [];
  let inTurn = 0;
  let together = false;
  const write = (res: ServerResponse, headers: string[]) => {
    try {
      res.writeHead(302, headers);
      res.end();
    } catch {
      // a socket that cannot take its answer any more (gone since) is closed; the others are still answered
      res.destroy();
    }
  };
  const endTurn = () => {
    together = inTurn >= TOGETHER_FROM;
    inTurn = 0;
    const turn = pending;
    pending = [];
    if (turn.length > 0) beforeWrite();
    for (const { res, headers } of turn) write(res, headers);
  };
  return {
    add(res: ServerResponse, headers: string[]): void {
      if (inTurn++ === 0) setImmediate(endTurn);
      if (together) pending.push({ res, headers });
      else {
        beforeWrite();
        write(res, headers);
      }
    },
  };
}

/**
 * The hot path, on bare node:http: GET or HEAD /{code} -> 302 to the link's destination with a signed click id.
 * A cached link is answered in the turn it was read in (`redirectsPerTurn`); only a code never seen waits for Redis.
 * The click event is queued for Kafka, and journaled, before its answer is written.
 */
export function createRedirectHandler(d: RedirectDeps) {
  // Approximate per instance; the exact unique count is defined over clicks_raw_v1 (see docs/adr/0003).
  const random = randomSource();
  const uniques = new UniqueVisitors(100_000);
  const answers = redirectsPerTurn(() => d.publisher.persist());

  const serve = (req: IncomingMessage, res: ServerResponse, code: string, link: RedirectTarget | null): void => {
    const now = Date.now();
    if (link === null) {
      d.count("not_found");
      return void notFound(res, d.notFoundUrl);
    }
    if (link.expiresAtMs !== 0 && now >= link.expiresAtMs) {
      d.count("expired");
      return void notFound(res, link.route.fallbackUrl ?? d.notFoundUrl);
    }
    const bot = botReason(req);
    const ip = truncateIp(clientAddress(req, d.trustProxy));
    const ua = (req.headers["user-agent"] ?? "").slice(0, 1024);
    const clickId = signClickId(
      d.clickIdSecret,
      { linkId: link.linkId, influencerId: link.influencerId, campaignId: link.route.campaignId, clickedAtMs: now },
      random(),
    );
    const isUnique =
      bot === undefined && uniques.firstVisit(link.linkId, ip, ua.slice(0, 256), Math.floor(now / HOUR_MS));
    const event: ClickEvent = {
      v: 1,
      click_id: clickId,
      link_id: link.linkId,
      link_code: code,
      campaign_id: link.route.campaignId,
      influencer_id: link.influencerId,
      merchant_id: link.route.merchantId,
      clicked_at_ms: now,
      ip,
      user_agent: ua,
      referer: (req.headers.referer ?? "").slice(0, 2048),
      is_bot: bot !== undefined,
      is_unique: isUnique,
    };
    // the click first: its answer is written only once the click is journaled (`redirectsPerTurn`)
    d.publisher.publish(event);
    // headers as one flat [name, value, ...] list: node:http takes it without walking an object's keys (~1 µs less)
    answers.add(res, [
      "Location",
      link.location(clickId),
      "Cache-Control",
      "no-store",
      "Set-Cookie",
      `aff_click=${clickId}; Max-Age=${CLICK_COOKIE_MAX_AGE_S}; Path=/; HttpOnly; Secure; SameSite=Lax`,
      "Content-Length",
      "0",
    ]);
    d.count(bot ? "bot_redirect" : "redirect");
  };

  return (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? "/";
    if (url.length > MAX_URL_LENGTH) {
      d.count("bad_request");
      return void plain(res, 414, "URI too long\n");
    }
    const q = url.indexOf("?");
    const code = url.slice(1, q === -1 ? undefined : q);
    if (!LINK_CODE_PATTERN.test(code)) {
      d.count("not_found");
      return void notFound(res, d.notFoundUrl);
    }
    const cached = d.links.peek(code);
    if (cached !== undefined) return void serve(req, res, code, cached);
    d.links.get(code).then(
      (link) => serve(req, res, code, link),
      () => {
        d.count("unavailable");
        plain(res, 503, "Temporarily unavailable, please retry\n");
      },
    );
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
