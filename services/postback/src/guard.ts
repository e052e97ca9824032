import type { Catalog } from "@aff/catalog";

type Redis = Catalog["redis"];

/** KEYS[1] the signature's replay key (ARGV[1] = "1" when there is one), KEYS[2..] sale keys; ARGV[2] replay ttl. */
const CLAIM = `
local out = {"1"}
if ARGV[1] == "1" then
  if not redis.call("SET", KEYS[1], "1", "EX", ARGV[2], "NX") then return {"0"} end
end
for i = 2, #KEYS do out[#out + 1] = redis.call("GET", KEYS[i]) end
return out`;

type ClaimCommand = { postbackClaim(...args: (string | number)[]): Promise<unknown> };

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
  ) {
    if (!("postbackClaim" in redis)) redis.defineCommand("postbackClaim", { lua: CLAIM });
  }

  private replayKey(merchantId: number, mac: string) {
    return `${this.prefix}postback:sig:${merchantId}:${mac}`;
  }
  private saleKey(conversionId: string) {
    return `${this.prefix}postback:sale:${conversionId}`;
  }

  /**
   * Claims a signature (false when it was used before) and reads which of `conversionIds` already have an
   * acknowledged sale: one script, one round trip, and nothing is claimed for a request that is a replay.
   */
  async claim(
    signature: { merchantId: number; mac: string } | undefined,
    conversionIds: string[],
  ): Promise<{ fresh: boolean; prior: (PriorSale | undefined)[] }> {
    const keys = [
      signature ? this.replayKey(signature.merchantId, signature.mac) : "",
      ...conversionIds.map((id) => this.saleKey(id)),
    ];
    // EVALSHA: the script is sent once per connection, not with every postback.
    const reply = (await (this.redis as Redis & ClaimCommand).postbackClaim(
      keys.length,
      ...keys,
      signature ? "1" : "0",
      this.opts.replayTtlS,
    )) as (string | null)[];
    const [fresh, ...values] = reply;
    return {
      fresh: fresh === "1",
      prior: values.map((v) => (typeof v === "string" ? (JSON.parse(v) as PriorSale) : undefined)),
    };
  }

  /** A send that was not acknowledged must stay retryable with the same signed request. */
  async release(signature: { merchantId: number; mac: string }): Promise<void> {
    await this.redis.del(this.replayKey(signature.merchantId, signature.mac));
  }

  /** Remembers acknowledged sales; the first one recorded stays the original. */
  async recordSales(sales: { conversionId: string; sale: PriorSale }[]): Promise<void> {
    const [only, ...more] = sales;
    if (!only) return;
    if (more.length === 0)
      return void (await this.redis.set(
        this.saleKey(only.conversionId),
        JSON.stringify(only.sale),
        "EX",
        this.opts.saleTtlS,
        "NX",
      ));
    const p = this.redis.pipeline();
    for (const s of sales) p.set(this.saleKey(s.conversionId), JSON.stringify(s.sale), "EX", this.opts.saleTtlS, "NX");
    await p.exec();
  }
}
