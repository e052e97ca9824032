import type { Catalog } from "@aff/catalog";
import { tickBatcher } from "./tick-batch";

type Redis = Catalog["redis"];

/**
 * The claims of several requests in one call. ARGV[1] the replay ttl, then per request a pair: "1" when it is signed
 * (its replay key comes first among its KEYS), and how many markers it reads. Per request the answer is "1" (fresh)
 * or "0" (replayed), then one value per marker (false for a replayed request: nothing is read or claimed for it).
 */
const CLAIM = `
local out, k = {}, 1
for a = 2, #ARGV, 2 do
  local fresh = true
  if ARGV[a] == "1" then
    fresh = redis.call("SET", KEYS[k], "1", "EX", ARGV[1], "NX") ~= false
    k = k + 1
  end
  out[#out + 1] = fresh and "1" or "0"
  for i = 1, tonumber(ARGV[a + 1]) do
    out[#out + 1] = fresh and redis.call("GET", KEYS[k])
    k = k + 1
  end
end
return out`;

/** Remembers acknowledged events: KEYS[i] gets ARGV[i + 1] for ARGV[1] seconds, unless it is set already. */
const RECORD = `
for i = 1, #KEYS do redis.call("SET", KEYS[i], ARGV[i + 1], "EX", ARGV[1], "NX") end
return #KEYS`;

/** A pipeline with the guard's scripts (ioredis defines them at run time, untyped). */
type GuardPipeline = {
  postbackClaims(...args: (string | number)[]): GuardPipeline;
  postbackRecord(...args: (string | number)[]): GuardPipeline;
  exec(): Promise<[Error | null, unknown][] | null>;
};
type ClaimAsk = { replayKey?: string; markerKeys: string[]; split: number };
/** What a request asks of Redis in a turn: a claim, or markers to write after Kafka's acknowledgement. */
type GuardOp = { claim: ClaimAsk } | { record: [key: string, value: string][] };
type GuardOutcome = { claim?: Claim } | { error: unknown };

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
  /** The claims and marker writes of one event-loop turn, sent together. */
  private readonly turn: (op: GuardOp) => Promise<GuardOutcome>;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly opts: { replayTtlS: number; saleTtlS: number; deliveryTtlS: number },
  ) {
    if (!("postbackClaims" in redis)) {
      redis.defineCommand("postbackClaims", { lua: CLAIM });
      redis.defineCommand("postbackRecord", { lua: RECORD });
    }
    this.turn = tickBatcher((ops) => runTurn(redis.pipeline() as unknown as GuardPipeline, opts, ops));
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
   * acknowledged sale and which `eventIds` were acknowledged: one script call (shared with the requests of the same
   * event-loop turn, atomic for all of them), and nothing is read for a request that is a replay.
   */
  async claim(
    signature: { merchantId: number; mac: string } | undefined,
    conversionIds: string[],
    eventIds: string[] = [],
  ): Promise<Claim> {
    const out = await this.turn({
      claim: {
        replayKey: signature && this.replayKey(signature.merchantId, signature.mac),
        markerKeys: [...conversionIds.map((id) => this.saleKey(id)), ...eventIds.map((id) => this.eventKey(id))],
        split: conversionIds.length,
      },
    });
    if ("error" in out) throw out.error;
    if (!out.claim) throw new Error("the claim was not answered");
    return out.claim;
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
    const writes: [string, string][] = [
      ...sales.map((s): [string, string] => [this.saleKey(s.conversionId), JSON.stringify(s.sale)]),
      ...events.map((e): [string, string] => [this.eventKey(e.eventId), JSON.stringify(e.event)]),
    ];
    if (writes.length === 0) return;
    const out = await this.turn({ record: writes });
    if ("error" in out) throw out.error;
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

/**
 * One turn's Redis work in one write: one script call writes every marker of the turn, one claims for every request,
 * each request getting its own answer (a failed script fails only the requests that asked for it).
 */
async function runTurn(
  pipeline: GuardPipeline,
  ttl: { replayTtlS: number; saleTtlS: number },
  ops: GuardOp[],
): Promise<GuardOutcome[]> {
  const asks = ops.flatMap((op) => ("claim" in op ? [op.claim] : []));
  const writes = ops.flatMap((op) => ("record" in op ? op.record : []));
  // markers first: a claim in the same turn already sees the events acknowledged just before it
  if (writes.length > 0)
    pipeline.postbackRecord(writes.length, ...writes.map(([k]) => k), ttl.saleTtlS, ...writes.map(([, v]) => v));
  if (asks.length > 0) pipeline.postbackClaims(...claimArgs(asks, ttl.replayTtlS));
  const replies = (await pipeline.exec()) ?? [];
  const [recorded, claimed] = writes.length > 0 ? replies : [undefined, replies[0]];
  const claims = claimed && !claimed[0] ? splitClaims(asks, claimed[1] as (string | null)[]) : [];
  let next = 0;
  return ops.map((op): GuardOutcome => {
    const reply = "claim" in op ? claimed : recorded;
    if (!reply || reply[0]) return { error: reply?.[0] ?? new Error("no reply from Redis") };
    return "claim" in op ? { claim: claims[next++] } : {};
  });
}

/** The script arguments for many claims: every key, then the replay ttl and a (signed, markers) pair per claim. */
function claimArgs(asks: ClaimAsk[], replayTtlS: number): (string | number)[] {
  const keys: string[] = [];
  const args: (string | number)[] = [replayTtlS];
  for (const a of asks) {
    if (a.replayKey) keys.push(a.replayKey);
    keys.push(...a.markerKeys);
    args.push(a.replayKey ? "1" : "0", a.markerKeys.length);
  }
  return [keys.length, ...keys, ...args];
}

/** Each claim's fresh flag and markers, from the script's flat reply. */
function splitClaims(asks: ClaimAsk[], reply: (string | null)[]): Claim[] {
  let at = 0;
  return asks.map((a) => {
    const fresh = reply[at] === "1";
    const values = reply.slice(at + 1, at + 1 + a.markerKeys.length);
    at += 1 + a.markerKeys.length;
    return {
      fresh,
      sales: values.slice(0, a.split).map((v) => parse<PriorSale>(v)),
      events: values.slice(a.split).map((v) => parse<PriorEvent>(v)),
    };
  });
}
