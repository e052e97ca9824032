import { checkDestination, type Link } from "@aff/catalog";

const CLICK_ID_SLOT = "__aff_click_id__";

/**
 * A copy of `s` in one piece. Concatenations and slices are kept by V8 as trees of parts that pin their source
 * strings (here the whole destination URL), several times the size of the text itself.
 */
const flat = (s: string): string => Buffer.from(s, "utf8").toString("utf8");

/** What the links of one campaign share (on one origin), held once and referred to by index. */
export type Route = { campaignId: number; merchantId: number; origin: string; fallbackUrl: string | undefined };

/** A link ready to answer, decoded from its record for one request. */
export type RedirectTarget = {
  linkId: number;
  influencerId: number;
  expiresAtMs: number;
  route: Route;
  location: (clickId: string) => string;
};

/**
 * Links are held in memory as one short string each, `linkId;influencerId;expiresAtMs;routeIndex;/path?query&param=`
 * (plus a `#fragment` when the destination has one), so that a million of them fit in the redirect's memory budget:
 * an object per link, with its strings and fields, costs about twice as much. The destination is parsed and
 * checked against the link's allowlist when the record is built (so a link saved before a rule tightened is never
 * emitted); a link that must not redirect (revoked, or no longer allowed) is the empty record.
 */
export class LinkRecords {
  private readonly routes: Route[] = [];
  private readonly routeIndex = new Map<string, number>();

  encode(link: Link): string {
    if (link.status !== "active") return "";
    const dest = checkDestination(link.destination, link.allowed_domains);
    if (!dest.ok) return "";
    for (const [k, v] of Object.entries(link.subs)) if (v !== undefined) dest.url.searchParams.set(k, v);
    dest.url.searchParams.set(link.click_param, CLICK_ID_SLOT);
    const full = dest.url.toString();
    // The slot is the last query parameter, so its last occurrence is the one to cut (a sub value could contain it).
    const at = full.lastIndexOf(CLICK_ID_SLOT);
    const path = full.slice(dest.url.origin.length, at) + full.slice(at + CLICK_ID_SLOT.length);
    const fallback =
      link.fallback_url && checkDestination(link.fallback_url, link.allowed_domains).ok ? link.fallback_url : undefined;
    const route = this.route({
      campaignId: link.campaign_id,
      merchantId: link.merchant_id,
      origin: dest.url.origin,
      fallbackUrl: fallback,
    });
    return flat(`${link.id};${link.influencer_id};${link.expires_at_ms ?? 0};${route};${path}`);
  }

  /** The target of a record, or undefined for the empty record. */
  decode(record: string): RedirectTarget | undefined {
    if (record === "") return undefined;
    const a = record.indexOf(";");
    const b = record.indexOf(";", a + 1);
    const c = record.indexOf(";", b + 1);
    const d = record.indexOf(";", c + 1);
    const route = this.routes[Number(record.slice(c + 1, d))];
    if (route === undefined) return undefined;
    const hash = record.indexOf("#", d + 1);
    const head = route.origin + record.slice(d + 1, hash === -1 ? undefined : hash);
    const tail = hash === -1 ? "" : record.slice(hash);
    return {
      linkId: Number(record.slice(0, a)),
      influencerId: Number(record.slice(a + 1, b)),
      expiresAtMs: Number(record.slice(b + 1, c)),
      route,
      location: (clickId) => head + clickId + tail,
    };
  }

  private route(r: Route): number {
    const key = `${r.campaignId};${r.merchantId};${r.origin};${r.fallbackUrl ?? ""}`;
    let i = this.routeIndex.get(key);
    if (i === undefined) {
      i = this.routes.push(r) - 1;
      this.routeIndex.set(key, i);
    }
    return i;
  }
}
