import type { Catalog } from "@aff/catalog";

type Redis = Catalog["redis"];

/** KEYS[1] the signature's replay key (ARGV[1] = "1" when there is one), KEYS[2..] markers read; ARGV[2] replay ttl. */
const CLAIM = `
local out = {"1"}
if ARGV[1] == "1" then
  if not redis.call("SET", KEYS[1], "1", "EX", ARGV[2], "NX") then return {"0"} end
end
for i = 2, #KEYS do out[#out + 1] = redis.call("GET", KEYS[i]) end
return out`;

type ClaimCommand = { postbackClaim(...args: (string | number)[]): Promise<unknown> };

/** An acknowledged sale: its ids, and its currency (refunds and adjustments must be in it). */
export type PriorSale = { event_id: string; received_at_ms: number; currency?: string };
/** An acknowledged status change (approve, reject, refund, adjust), by event id. */
export type PriorEvent = { received_at_ms: number };
export type Claim = { fresh: boolean; sales: (PriorSale | undefined)[]; events: (PriorEvent | undefined)[] };

const parse = <T>(v: string | null | undefined): T | undefined =>
  typeof v === "string" ? (JSON.parse(v) as T) : undefined;

/**
 * Redis-backed memory of the postback service: signatures already used (replay protection), events already
 * acknowledged (so a resend answers "duplicate" with the original ids) and platform deliveries already handled.
 * All are SET NX with an expiry, written only after Kafka acknowledged what they vouch for.
 */
export class PostbackGuard {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly opts: { replayTtlS: number; saleTtlS: number; deliveryTtlS: number },
  ) {
    if (!("postbackClaim" in redis)) redis.defineCommand("postbackClaim", { lua: CLAIM });
  }

  private replayKey(merchantId: number, mac: string) {
    return `${this.prefix}postback:sig:${merchantId}:${mac}`;
  }
  private saleKey(conversionId: string) {
    return `${this.prefix}postback:sale:${conversionId}`;
  }
  private eventKey(eventId: string) {
    return `${this.prefix}postback:event:${eventId}`;
  }
  private deliveryKey(source: string, merchantId: number, id: string) {
    return `${this.prefix}postback:delivery:${source}:${merchantId}:${id}`;
  }

  /**
   * Claims a signature (false when it was used before) and reads which of `conversionIds` already have an
   * acknowledged sale and which `eventIds` were acknowledged: one script, one round trip, and nothing is claimed
   * for a request that is a replay.
   */
  async claim(
    signature: { merchantId: number; mac: string } | undefined,
    conversionIds: string[],
    eventIds: string[] = [],
  ): Promise<Claim> {
    const keys = [
      signature ? this.replayKey(signature.merchantId, signature.mac) : "",
      ...conversionIds.map((id) => this.saleKey(id)),
      ...eventIds.map((id) => this.eventKey(id)),
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
      sales: values.slice(0, conversionIds.length).map((v) => parse<PriorSale>(v)),
      events: values.slice(conversionIds.length).map((v) => parse<PriorEvent>(v)),
    };
  }

  /** A send that was not acknowledged must stay retryable with the same signed request. */
  async release(signature: { merchantId: number; mac: string }): Promise<void> {
    await this.redis.del(this.replayKey(signature.merchantId, signature.mac));
  }

  /** Remembers acknowledged sales and status changes; the first one recorded stays the original. */
  async recordAcknowledged(
    sales: { conversionId: string; sale: PriorSale }[],
    events: { eventId: string; event: PriorEvent }[] = [],
  ): Promise<void> {
    const writes = [
      ...sales.map((s) => [this.saleKey(s.conversionId), JSON.stringify(s.sale)] as const),
      ...events.map((e) => [this.eventKey(e.eventId), JSON.stringify(e.event)] as const),
    ];
    const [only, ...more] = writes;
    if (!only) return;
    if (more.length === 0) return void (await this.redis.set(only[0], only[1], "EX", this.opts.saleTtlS, "NX"));
    const p = this.redis.pipeline();
    for (const [key, value] of writes) p.set(key, value, "EX", this.opts.saleTtlS, "NX");
    await p.exec();
  }

  /** The answer given to a platform delivery id before, if it was handled (acknowledged) already. */
  async priorDelivery(source: string, merchantId: number, id: string): Promise<unknown> {
    return parse<unknown>(await this.redis.get(this.deliveryKey(source, merchantId, id)));
  }

  /** Remembers a handled platform delivery with its answer, for the delivery TTL. */
  async recordDelivery(source: string, merchantId: number, id: string, answer: unknown): Promise<void> {
    const key = this.deliveryKey(source, merchantId, id);
    await this.redis.set(key, JSON.stringify(answer), "EX", this.opts.deliveryTtlS, "NX");
  }
}
