import { type Catalog, checkDestination, type Link } from "@aff/catalog";
import { errorMessage, type Logger } from "@aff/common";
import type { Redis } from "ioredis";
import { LRUCache } from "lru-cache";

const CLICK_ID_SLOT = "__aff_click_id__";

/**
 * A link as the hot path needs it, built once when it enters the cache: the destination is parsed and checked
 * against the link's allowlist here (so a link saved before a rule tightened can never be emitted), the sub values
 * are appended, and the Location header is pre-split around the click id. Kept small: a million of these must fit
 * in the redirect's memory budget.
 */
export class CachedLink {
  constructor(
    readonly linkId: number,
    readonly influencerId: number,
    readonly campaignId: number,
    readonly merchantId: number,
    readonly code: string,
    /** 0 when the link never expires */
    readonly expiresAtMs: number,
    /** Location up to the click id's value; empty when the link must not redirect (revoked, or no longer allowed) */
    readonly locationHead: string,
    /** what follows the click id (a #fragment, usually empty) */
    readonly locationTail: string,
    /** where an expired link goes, or undefined for the 404 page */
    readonly fallbackUrl: string | undefined,
  ) {}

  get redirects(): boolean {
    return this.locationHead !== "";
  }

  location(clickId: string): string {
    return this.locationHead + clickId + this.locationTail;
  }
}

/** Repeated strings (fallback URLs, empty tails) are shared between entries instead of held once per link. */
const interned = new Map<string, string>();
function intern(s: string): string {
  const hit = interned.get(s);
  if (hit !== undefined) return hit;
  if (interned.size < 100_000) interned.set(s, s);
  return s;
}

export function compileLink(link: Link): CachedLink {
  let head = "";
  let tail = "";
  const dest = link.status === "active" ? checkDestination(link.destination, link.allowed_domains) : undefined;
  if (dest?.ok) {
    for (const [k, v] of Object.entries(link.subs)) if (v !== undefined) dest.url.searchParams.set(k, v);
    dest.url.searchParams.set(link.click_param, CLICK_ID_SLOT);
    const full = dest.url.toString();
    const at = full.lastIndexOf(CLICK_ID_SLOT);
    head = full.slice(0, at);
    tail = intern(full.slice(at + CLICK_ID_SLOT.length));
  }
  const fallback = link.fallback_url && checkDestination(link.fallback_url, link.allowed_domains).ok ? intern(link.fallback_url) : undefined;
  return new CachedLink(link.id, link.influencer_id, link.campaign_id, link.merchant_id, link.code, link.expires_at_ms ?? 0, head, tail, fallback);
}

type Entry = CachedLink | null;
const MISSING = { link: null as Entry };

/**
 * Links served from memory. A miss or an expired entry is fetched from Redis; while Redis is down the stale entry
 * keeps being served. Changes announced on the catalog's channel are re-read at once on every instance.
 */
export class LinkCache {
  private readonly cache: LRUCache<string, { link: Entry }>;

  constructor(
    private readonly catalog: Catalog,
    private readonly log: Logger,
    opts: { max: number; ttlMs: number },
  ) {
    this.cache = new LRUCache<string, { link: Entry }>({
      max: opts.max,
      ttl: opts.ttlMs,
      allowStale: true,
      allowStaleOnFetchRejection: true,
      noDeleteOnFetchRejection: true,
      noDeleteOnStaleGet: true,
      fetchMethod: async (code) => {
        const link = await this.catalog.links.get(code);
        return link ? { link: compileLink(link) } : MISSING;
      },
    });
  }

  /** The entry when it is in memory (stale entries too: they refresh in the background), without waiting. */
  peek(code: string): Entry | undefined {
    return this.cache.get(code, { allowStale: false })?.link;
  }

  /**
   * The link for a code, or null when there is none. A stale entry is returned at once while it is re-read in the
   * background (or kept, while Redis is down); throws only for a code never seen while Redis is unreachable.
   */
  async get(code: string): Promise<Entry> {
    const hit = this.peek(code);
    if (hit !== undefined) return hit;
    const entry = await this.cache.fetch(code);
    if (!entry) throw new Error("link lookup failed");
    return entry.link;
  }

  /** Loads every link from Redis in the background (SCAN + MGET), so a fresh instance serves from memory at once. */
  async warm(batch = 2_000): Promise<number> {
    let cursor = "0";
    let loaded = 0;
    do {
      const [next, keys] = await this.catalog.redis.scan(cursor, "MATCH", this.catalog.links.keyPattern, "COUNT", batch);
      cursor = next;
      for (const link of await this.catalog.links.getByKeys(keys)) {
        // An entry already fetched (or invalidated) since the scan began is newer than what the scan read.
        if (!this.cache.has(link.code)) this.cache.set(link.code, { link: compileLink(link) });
        loaded++;
      }
    } while (cursor !== "0");
    return loaded;
  }

  /** Re-reads every cached link in MGET batches (after a Redis outage, when change messages may have been missed). */
  private async refreshAll(batch = 2_000): Promise<void> {
    const codes = [...this.cache.keys()];
    for (let i = 0; i < codes.length; i += batch) {
      const chunk = codes.slice(i, i + batch);
      const found = new Map((await this.catalog.links.getByKeys(chunk.map((c) => this.catalog.links.key(c)))).map((l) => [l.code, l]));
      for (const code of chunk) {
        const link = found.get(code);
        this.cache.set(code, link ? { link: compileLink(link) } : MISSING);
      }
    }
  }

  /** Subscribe to link changes on a dedicated connection. After a reconnect every entry is refreshed. */
  async subscribe(subscriber: Redis): Promise<void> {
    let wasDown = false;
    subscriber.on("message", (_channel: string, code: string) => {
      // Dropping the entry first means no request after this point is served the old link, even while the re-read runs.
      this.cache.delete(code);
      void this.cache.fetch(code).catch(() => undefined);
    });
    subscriber.on("close", () => {
      wasDown = true;
    });
    subscriber.on("ready", () => {
      if (!wasDown) return;
      wasDown = false;
      this.log.info({ links: this.cache.size }, "link_cache_refreshing_after_reconnect");
      this.refreshAll().catch((err) => this.log.warn({ err: errorMessage(err) }, "link_cache_refresh_failed"));
    });
    await subscriber.subscribe(this.catalog.linkChannel).catch((err) => this.log.warn({ err: errorMessage(err) }, "link_channel_subscribe_failed"));
  }

  get size(): number {
    return this.cache.size;
  }
}
