import type { Catalog } from "@aff/catalog";

type Redis = Catalog["redis"];

export type PriorSale = { event_id: string; received_at_ms: number };

/**
 * Redis-backed memory of the postback service: signatures already used (replay protection) and sales already
 * acknowledged (so a resent sale answers "duplicate" with the original ids). Both are SET NX with an expiry.
 */
export class PostbackGuard {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly opts: { replayTtlS: number; saleTtlS: number },
  ) {}

  private replayKey(merchantId: number, mac: string) {
    return `${this.prefix}postback:sig:${merchantId}:${mac}`;
  }
  private saleKey(conversionId: string) {
    return `${this.prefix}postback:sale:${conversionId}`;
  }

  /**
   * Claims a signature (false when it was used before) and reads which of `conversionIds` already have an
   * acknowledged sale, in one round trip.
   */
  async claim(signature: { merchantId: number; mac: string } | undefined, conversionIds: string[]): Promise<{ fresh: boolean; prior: (PriorSale | undefined)[] }> {
    const p = this.redis.pipeline();
    if (signature) p.set(this.replayKey(signature.merchantId, signature.mac), "1", "EX", this.opts.replayTtlS, "NX");
    for (const id of conversionIds) p.get(this.saleKey(id));
    const results = (await p.exec()) ?? [];
    for (const [err] of results) if (err) throw err;
    const values = results.map(([, v]) => v);
    const fresh = signature ? values.shift() === "OK" : true;
    return { fresh, prior: values.map((v) => (typeof v === "string" ? (JSON.parse(v) as PriorSale) : undefined)) };
  }

  /** A send that was not acknowledged must stay retryable with the same signed request. */
  async release(signature: { merchantId: number; mac: string }): Promise<void> {
    await this.redis.del(this.replayKey(signature.merchantId, signature.mac));
  }

  /** Remembers acknowledged sales; the first one recorded stays the original. */
  async recordSales(sales: { conversionId: string; sale: PriorSale }[]): Promise<void> {
    if (sales.length === 0) return;
    const p = this.redis.pipeline();
    for (const s of sales) p.set(this.saleKey(s.conversionId), JSON.stringify(s.sale), "EX", this.opts.saleTtlS, "NX");
    await p.exec();
  }
}
