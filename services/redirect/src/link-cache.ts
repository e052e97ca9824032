import type { Catalog } from "@aff/catalog";
import { errorMessage, type Logger } from "@aff/common";
import type { Redis } from "ioredis";
import { LinkRecords, type RedirectTarget } from "./link-record";
import { type LinkEntry, LinkTable } from "./link-table";

/**
 * Links served from memory. A code not in memory is read from Redis (and kept); while Redis is down the links in
 * memory keep being served. Changes announced on the catalog's channel are re-read at once on every instance; after
 * the subscriber reconnects (messages may have been missed) and every `resyncMs`, every link is re-read in batches.
 * There is no per-entry TTL: push plus resync keeps entries fresh without 16 bytes of timers per link. The entries
 * live off the V8 heap in a `LinkTable`; the warm-up reads one page at a time without a schema parse per link.
 */
export class LinkCache {
  private readonly cache: LinkTable;
  private readonly records = new LinkRecords();
  private resyncTimer: NodeJS.Timeout | undefined;
  /** codes announced as changed while a scan runs: the scan's copy of them may be older, so it does not write them */
  private changedDuringScan = new Set<string>();
  private scans = 0;

  constructor(
    private readonly catalog: Catalog,
    private readonly log: Logger,
    opts: { max: number },
  ) {
    this.cache = new LinkTable(opts.max);
  }

  /** The target for a code when it is in memory (null: known, but must not redirect), without waiting. */
  peek(code: string): RedirectTarget | null | undefined {
    const entry = this.cache.get(code);
    return entry === undefined ? undefined : (this.records.decode(entry) ?? null);
  }

  /** The target for a code (null when there is none); throws only for a code not in memory while Redis is unreachable. */
  async get(code: string): Promise<RedirectTarget | null> {
    const hit = this.peek(code);
    if (hit !== undefined) return hit;
    const record = await this.load(code);
    return record === undefined ? null : (this.records.decode(record) ?? null);
  }

  /**
   * Reads one link from Redis into memory. Unknown codes are not kept, so junk codes cannot push real links out.
   * Replies on the connection come in order, so a re-read issued after a change always lands after an older read.
   */
  private async load(code: string): Promise<LinkEntry | undefined> {
    const link = await this.catalog.links.get(code);
    if (link === undefined) {
      this.cache.delete(code);
      return undefined;
    }
    const record = this.records.encode(link);
    this.cache.set(code, record);
    return record;
  }

  /** Loads every link from Redis (SCAN + MGET), so a fresh instance serves from memory at once. */
  async warm(opts: { overwrite?: boolean; batch?: number } = {}): Promise<number> {
    let cursor = "0";
    let loaded = 0;
    this.scans++;
    try {
      do {
        const page = await this.catalog.links.scan(cursor, opts.batch ?? 2_000);
        cursor = page.cursor;
        for (const link of page.links) {
          if (this.changedDuringScan.has(link.code)) continue;
          // At boot, an entry already fetched since the scan began is newer than what the scan read.
          if (opts.overwrite || !this.cache.has(link.code)) this.cache.set(link.code, this.records.encode(link));
          loaded++;
        }
      } while (cursor !== "0");
    } finally {
      if (--this.scans === 0) this.changedDuringScan.clear();
    }
    return loaded;
  }

  /** Re-reads every link every `resyncMs` (a safety net under pub/sub, which delivers at most once). */
  startResync(resyncMs: number): void {
    this.resyncTimer = setInterval(() => {
      this.warm({ overwrite: true }).catch((err) =>
        this.log.warn({ err: errorMessage(err) }, "link_cache_resync_failed"),
      );
    }, resyncMs);
    this.resyncTimer.unref();
  }

  stop(): void {
    clearInterval(this.resyncTimer);
  }

  /** Subscribe to link changes on a dedicated connection. After a reconnect every link is re-read. */
  async subscribe(subscriber: Redis): Promise<void> {
    let wasDown = false;
    subscriber.on("message", (_channel: string, code: string) => {
      // Dropping the entry first means no request after this point is served the old link, even while the re-read runs.
      if (this.scans > 0) this.changedDuringScan.add(code);
      this.cache.delete(code);
      this.load(code).catch(() => undefined);
    });
    subscriber.on("close", () => {
      wasDown = true;
    });
    subscriber.on("ready", () => {
      if (!wasDown) return;
      wasDown = false;
      this.log.info({ links: this.cache.size }, "link_cache_refreshing_after_reconnect");
      this.warm({ overwrite: true }).catch((err) =>
        this.log.warn({ err: errorMessage(err) }, "link_cache_refresh_failed"),
      );
    });
    await subscriber
      .subscribe(this.catalog.linkChannel)
      .catch((err) => this.log.warn({ err: errorMessage(err) }, "link_channel_subscribe_failed"));
  }

  get size(): number {
    return this.cache.size;
  }
}
