import type { IncomingMessage } from "node:http";
import { isIPv4, isIPv6 } from "node:net";
import { isbot } from "isbot";

/** IPv4 with the last octet zeroed, IPv6 with the last 80 bits zeroed; anything else becomes "". */
export function truncateIp(ip: string): string {
  const v4 = ip.startsWith("::ffff:") && isIPv4(ip.slice(7)) ? ip.slice(7) : ip;
  if (isIPv4(v4)) return v4.replace(/\.\d+$/, ".0");
  if (!isIPv6(ip)) return "";
  const [head = "", tail = ""] = ip.split("::");
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = ip.includes("::") ? [...h, ...Array(8 - h.length - t.length).fill("0"), ...t] : h;
  return `${groups
    .slice(0, 3)
    .map((g) => Number.parseInt(g || "0", 16).toString(16))
    .join(":")}::`;
}

/**
 * In-app browsers of the social apps influencers post on: a follower tapping a link there is a person, whatever a
 * crawler list says (some lists name them). Their crawlers carry other names (facebookexternalhit, Pinterestbot,
 * Bytespider, LinkedInBot, Twitterbot) and stay bots.
 */
const IN_APP_BROWSER =
  /\b(?:FBAN\/|FBAV\/|FB_IAB\/|MetaIAB |Instagram \d|Barcelona \d|musical_ly_|trill_\d|BytedanceWebview\/|Snapchat\/\d|\[Pinterest\/|\[LinkedInApp\]|Twitter for |MicroMessenger\/|Line\/\d)/;
export const isInAppBrowser = (ua: string): boolean => IN_APP_BROWSER.test(ua);

const PREFETCH_HEADERS = ["purpose", "sec-purpose", "x-purpose", "x-moz"] as const;

/** Why a request is not a person clicking, or undefined when it looks like one. */
export function botReason(req: IncomingMessage): string | undefined {
  if (req.method === "HEAD") return "head";
  for (const h of PREFETCH_HEADERS) {
    const v = req.headers[h];
    if (typeof v === "string" && /prefetch|preview|prerender/i.test(v)) return "prefetch";
  }
  const ua = req.headers["user-agent"];
  if (!ua) return "no_user_agent";
  return isCrawler(ua) ? "crawler" : undefined;
}

const CRAWLER_VERDICTS_MAX = 10_000;
const crawlerVerdicts = new Map<string, boolean>();

/**
 * The crawler verdict per user agent, remembered: the crawler list is one large regex (microseconds per test, as
 * much as signing the click id) and real traffic repeats a few thousand user agents. Forgotten all at once when full.
 */
function isCrawler(ua: string): boolean {
  let verdict = crawlerVerdicts.get(ua);
  if (verdict === undefined) {
    verdict = !isInAppBrowser(ua) && isbot(ua);
    if (crawlerVerdicts.size >= CRAWLER_VERDICTS_MAX) crawlerVerdicts.clear();
    crawlerVerdicts.set(ua, verdict);
  }
  return verdict;
}
