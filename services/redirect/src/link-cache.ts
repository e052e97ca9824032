import type { Catalog, Link } from "@aff/catalog";
import { errorMessage, type Logger } from "@aff/common";
import type { Redis } from "ioredis";
import { LRUCache } from "lru-cache";

type Entry = { link: Link | null };

/**
 * Links served from memory. A miss or an expired entry is fetched from Redis; while Redis is down the stale entry
 * keeps being served. Changes announced on the catalog's channel evict the entry at once on every instance.
 */
export class LinkCache {
  private readonly cache: LRUCache<string, Entry>;

  constructor(
    private readonly catalog: Catalog,
    private readonly log: Logger,
    opts: { max: number; ttlMs: number },
  ) {
    this.cache = new LRUCache<string, Entry>({
      max: opts.max,
      ttl: opts.ttlMs,
      allowStale: true,
      allowStaleOnFetchRejection: true,
      noDeleteOnFetchRejection: true,
      noDeleteOnStaleGet: true,
      fetchMethod: async (code) => ({ link: (await this.catalog.getLink(code)) ?? null }),
    });
  }

  /** The link for a code, or null when there is none; throws only when Redis is needed and unreachable. */
  async get(code: string): Promise<Link | null> {
    const fresh = this.cache.get(code, { allowStale: false });
    if (fresh) return fresh.link;
    const entry = await this.cache.fetch(code);
    if (!entry) throw new Error("link lookup failed");
    return entry.link;
  }

  /** Subscribe to link changes on a dedicated connection. After a reconnect every entry is refreshed. */
  async subscribe(subscriber: Redis): Promise<void> {
    let wasDown = false;
    subscriber.on("message", (_channel: string, code: string) => {
      this.cache.delete(code);
    });
    subscriber.on("close", () => {
      wasDown = true;
    });
    subscriber.on("ready", () => {
      if (!wasDown) return;
      wasDown = false;
      for (const code of this.cache.keys()) void this.cache.fetch(code, { forceRefresh: true }).catch(() => undefined);
      this.log.info({ links: this.cache.size }, "link_cache_refreshing_after_reconnect");
    });
    await subscriber.subscribe(this.catalog.linkChannel).catch((err) => this.log.warn({ err: errorMessage(err) }, "link_channel_subscribe_failed"));
  }

  get size(): number {
    return this.cache.size;
  }
}
