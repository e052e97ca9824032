import { checkDestination, type LinkFacts } from "@aff/catalog";
import type { LinkEntry } from "./link-table";

const CLICK_ID_SLOT = "__aff_click_id__";

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
 * A link in the form the link table holds (`LinkTable`): its ids, its expiry, the index of its route (campaign,
 * merchant, origin and fallback, shared by the links of a campaign) and the rest of its destination,
 * `/path?query&param=` (plus a `#fragment` when it has one), to which the click id is appended per request. The
 * destination is parsed and checked against the link's allowlist when the entry is built (so a link saved before
 * a rule tightened is never emitted); a link that must not redirect (revoked, or no longer allowed) is null.
 */
export class LinkRecords {
  private readonly routes: Route[] = [];
  private readonly routeIndex = new Map<string, number>();

  encode(link: LinkFacts): LinkEntry {
    if (link.status !== "active") return null;
    const dest = checkDestination(link.destination, link.allowed_domains);
    if (!dest.ok) return null;
    for (const [k, v] of Object.entries(link.subs)) if (v !== undefined) dest.url.searchParams.set(k, v);
    dest.url.searchParams.set(link.click_param, CLICK_ID_SLOT);
    const full = dest.url.toString();
    // The slot is the last query parameter, so its last occurrence is the one to cut (a sub value could contain it).
    const at = full.lastIndexOf(CLICK_ID_SLOT);
    const fallback =
      link.fallback_url && checkDestination(link.fallback_url, link.allowed_domains).ok ? link.fallback_url : undefined;
    return {
      linkId: link.id,
      influencerId: link.influencer_id,
      expiresAtMs: link.expires_at_ms ?? 0,
      routeIndex: this.route({
        campaignId: link.campaign_id,
        merchantId: link.merchant_id,
        origin: dest.url.origin,
        fallbackUrl: fallback,
      }),
      path: full.slice(dest.url.origin.length, at) + full.slice(at + CLICK_ID_SLOT.length),
    };
  }

  /** The target of an entry, or undefined for a link that must not redirect. */
  decode(entry: LinkEntry): RedirectTarget | undefined {
    if (entry === null) return undefined;
    const route = this.routes[entry.routeIndex];
    if (route === undefined) return undefined;
    const hash = entry.path.indexOf("#");
    const head = route.origin + (hash === -1 ? entry.path : entry.path.slice(0, hash));
    const tail = hash === -1 ? "" : entry.path.slice(hash);
    return {
      linkId: entry.linkId,
      influencerId: entry.influencerId,
      expiresAtMs: entry.expiresAtMs,
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
