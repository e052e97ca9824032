import { randomBytes } from "node:crypto";
import { AppError } from "@aff/common";
import { EntityId, Subs } from "@aff/events";
import type { Redis } from "ioredis";
import { z } from "zod";
import { checkDestination } from "./destination";
import { Optimistic } from "./optimistic";

/** Link codes appear in paths and logs: a short, URL-safe alphabet and nothing else. */
export const LINK_CODE_PATTERN = /^[A-Za-z0-9_-]{3,64}$/;
export const LinkCode = z.string().regex(LINK_CODE_PATTERN, "must be 3-64 letters, digits, - or _");

/**
 * Words an alias may not take: the redirect's own paths (`/api`, `/healthz`), the ops paths a reader would expect there
 * (`/readyz`, `/metrics`), and names browsers and crawlers ask every site for. Each is refused alone and followed by
 * `-`, `_` or `.` (`metrics-x`), in any case, so no alias reads like a service path.
 */
export const RESERVED_ALIAS_WORDS = [
  "api",
  "healthz",
  "readyz",
  "livez",
  "metrics",
  "favicon",
  "robots",
  "sitemap",
  "openapi",
  "well-known",
] as const;
const RESERVED_ALIAS = new RegExp(`^(${RESERVED_ALIAS_WORDS.join("|")})([-_.].*)?$`, "i");
export const isReservedAlias = (code: string): boolean => RESERVED_ALIAS.test(code);

/** sub1–sub5 are echoed (URL-encoded) into the merchant URL; control characters are refused outright. */
const SubValue = z
  .string()
  .max(255)
  .regex(/^\P{Cc}*$/u, "must not contain control characters");
export const LinkSubs = z.strictObject({
  sub1: SubValue.optional(),
  sub2: SubValue.optional(),
  sub3: SubValue.optional(),
  sub4: SubValue.optional(),
  sub5: SubValue.optional(),
});

const ExpiresAtMs = z.number().int().min(0).max(8_640_000_000_000);

export const LinkInput = z.strictObject({
  campaign_id: EntityId,
  influencer_id: EntityId,
  /** deep link on one of the campaign's allowed domains; the campaign's default when absent */
  destination: z.string().max(2048).optional(),
  alias: LinkCode.refine((a) => !isReservedAlias(a), {
    message: `is reserved: ${RESERVED_ALIAS_WORDS.join(", ")} (alone or followed by -, _ or .) are service paths`,
  }).optional(),
  subs: LinkSubs.optional(),
  /** the link stops redirecting at this time (ms since epoch); never when absent */
  expires_at_ms: ExpiresAtMs.optional(),
});

/** What an update may change: the destination (re-checked), the sub values, the expiry (null clears it). */
export const LinkUpdate = z
  .strictObject({
    destination: z.string().max(2048).optional(),
    subs: LinkSubs.optional(),
    expires_at_ms: ExpiresAtMs.nullable().optional(),
  })
  .refine((u) => Object.keys(u).length > 0, { message: "nothing to update" });

export const Link = z.object({
  id: EntityId,
  code: LinkCode,
  campaign_id: EntityId,
  influencer_id: EntityId,
  merchant_id: EntityId,
  destination: z.string(),
  /** the campaign's allowlist when the link was saved; the destination is checked against it again at redirect */
  allowed_domains: z.array(z.string()),
  click_param: z.string(),
  subs: Subs.default({}),
  /** where an expired link sends the shopper (the campaign's default destination), without a click id */
  fallback_url: z.string().optional(),
  status: z.enum(["active", "revoked"]),
  expires_at_ms: ExpiresAtMs.optional(),
  created_at_ms: z.number().int(),
  updated_at_ms: z.number().int().optional(),
});
export type Link = z.infer<typeof Link>;

/** What a redirect needs of a link: read from Redis without a schema parse (see `readLinkFacts`). */
export type LinkFacts = Pick<
  Link,
  | "id"
  | "code"
  | "campaign_id"
  | "influencer_id"
  | "merchant_id"
  | "destination"
  | "allowed_domains"
  | "click_param"
  | "subs"
  | "fallback_url"
  | "status"
  | "expires_at_ms"
  | "created_at_ms"
>;

const isId = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 2 ** 32 - 1;
const isString = (v: unknown): v is string => typeof v === "string";
const SUB_KEYS = ["sub1", "sub2", "sub3", "sub4", "sub5"] as const;

/**
 * The facts of a stored link, checked field by field as `Link` would check them, or undefined when `Link` would
 * refuse it. A schema parse costs several microseconds and a tree of garbage per link: at the warm-up of a million
 * links that was most of the redirect's peak memory. `links.test.ts` holds the two to the same verdicts.
 */
export function readLinkFacts(json: unknown): LinkFacts | undefined {
  if (typeof json !== "object" || json === null) return undefined;
  const l = json as Record<string, unknown>;
  if (!isString(l.code) || !LINK_CODE_PATTERN.test(l.code)) return undefined;
  if (!isId(l.id) || !isId(l.campaign_id) || !isId(l.influencer_id) || !isId(l.merchant_id)) return undefined;
  if (!isString(l.destination) || !isString(l.click_param)) return undefined;
  if (!Array.isArray(l.allowed_domains) || !l.allowed_domains.every(isString)) return undefined;
  if (l.fallback_url !== undefined && !isString(l.fallback_url)) return undefined;
  if (l.status !== "active" && l.status !== "revoked") return undefined;
  const expires = l.expires_at_ms;
  if (
    expires !== undefined &&
    !(Number.isInteger(expires) && (expires as number) >= 0 && (expires as number) <= 8_640_000_000_000)
  )
    return undefined;
  if (!Number.isInteger(l.created_at_ms) || (l.updated_at_ms !== undefined && !Number.isInteger(l.updated_at_ms)))
    return undefined;
  const subs: Link["subs"] = {};
  if (l.subs !== undefined) {
    if (typeof l.subs !== "object" || l.subs === null || Array.isArray(l.subs)) return undefined;
    const raw = l.subs as Record<string, unknown>;
    for (const k of SUB_KEYS) {
      const v = raw[k];
      if (v === undefined) continue;
      if (!isString(v) || v.length > 255) return undefined;
      subs[k] = v;
    }
  }
  return {
    id: l.id,
    code: l.code,
    campaign_id: l.campaign_id,
    influencer_id: l.influencer_id,
    merchant_id: l.merchant_id,
    destination: l.destination,
    allowed_domains: l.allowed_domains,
    click_param: l.click_param,
    subs,
    fallback_url: l.fallback_url,
    status: l.status,
    expires_at_ms: expires as number | undefined,
    created_at_ms: l.created_at_ms as number,
  };
}

/** The campaign facts a link copies when it is created. */
export type LinkCampaign = {
  id: number;
  merchant_id: number;
  allowed_domains: string[];
  click_param: string;
  default_destination: string;
};

const CODE_ALPHABET = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/** 8 random characters from an unambiguous alphabet (~46 bits); collisions are retried against Redis (SET NX). */
export function randomCode(length = 8): string {
  const bytes = randomBytes(length);
  let out = "";
  for (const b of bytes) out += CODE_ALPHABET[b % CODE_ALPHABET.length];
  return out;
}

export type LinkListQuery = { influencer_id?: number; campaign_id?: number; after_id?: number; limit: number };

/**
 * Links in Redis: `link:{code}` holds the JSON, `link_id:{id}` the code, and two sorted sets (by influencer, by
 * campaign, scored by id) make listing cheap. Every change is published on `links:changed` so that every redirect
 * instance drops its cached copy at once.
 */
export class LinkStore {
  private readonly optimistic: Optimistic;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {
    this.optimistic = new Optimistic(redis);
  }

  get channel(): string {
    return `${this.prefix}links:changed`;
  }

  /** The Redis key pattern of links, for `scan`. */
  private get keyPattern(): string {
    return `${this.prefix}link:*`;
  }

  key(code: string): string {
    return `${this.prefix}link:${code}`;
  }

  async create(input: z.output<typeof LinkInput>, campaign: LinkCampaign): Promise<Link> {
    const destination = checked(
      input.destination ?? campaign.default_destination,
      campaign.allowed_domains,
      "destination",
    );
    const id = await this.redis.incr(`${this.prefix}seq:link`);
    for (let attempt = 0; attempt < 5; attempt++) {
      const link: Link = {
        id,
        code: input.alias ?? randomCode(),
        campaign_id: campaign.id,
        influencer_id: input.influencer_id,
        merchant_id: campaign.merchant_id,
        destination,
        allowed_domains: campaign.allowed_domains,
        click_param: campaign.click_param,
        subs: input.subs ?? {},
        fallback_url: campaign.default_destination,
        status: "active",
        expires_at_ms: input.expires_at_ms,
        created_at_ms: Date.now(),
      };
      // NX makes code allocation collision-safe across concurrent creators.
      if ((await this.redis.set(this.key(link.code), JSON.stringify(link), "NX")) === "OK") {
        await this.index([link]);
        await this.redis.publish(this.channel, link.code);
        return link;
      }
      if (input.alias) throw new AppError("conflict", `alias ${input.alias} is taken`, { context: { path: "alias" } });
    }
    throw new AppError("code_exhausted", "could not allocate a unique link code", { retryable: true });
  }

  /** Bulk load of already-built links (imports, benchmarks): pipelined, indexed, no announcement. */
  async importMany(links: Link[]): Promise<void> {
    const p = this.redis.pipeline();
    for (const l of links) p.set(this.key(l.code), JSON.stringify(l));
    await p.exec();
    await this.index(links);
  }

  private async index(links: Link[]): Promise<void> {
    const p = this.redis.pipeline();
    for (const l of links) {
      p.set(`${this.prefix}link_id:${l.id}`, l.code);
      p.zadd(`${this.prefix}links:influencer:${l.influencer_id}`, l.id, l.code);
      p.zadd(`${this.prefix}links:campaign:${l.campaign_id}`, l.id, l.code);
    }
    await p.exec();
  }

  async get(code: string): Promise<Link | undefined> {
    const raw = await this.redis.get(this.key(code));
    return raw === null ? undefined : Link.parse(JSON.parse(raw));
  }

  /**
   * One page of a walk over every link (SCAN + MGET): the next cursor ("0" when done) and the facts of the links
   * found, read without a schema parse (`readLinkFacts`); unreadable entries are skipped. Only one page of raw JSON
   * is held at a time, whatever the number of links.
   */
  async scan(cursor: string, count: number): Promise<{ cursor: string; links: LinkFacts[] }> {
    const [next, keys] = await this.redis.scan(cursor, "MATCH", this.keyPattern, "COUNT", count);
    const raws = keys.length === 0 ? [] : await this.redis.mget(...keys);
    const links: LinkFacts[] = [];
    for (const raw of raws) {
      const facts = raw === null ? undefined : readLinkFacts(parseJson(raw));
      if (facts) links.push(facts);
    }
    return { cursor: next, links };
  }

  /** Many links by their Redis keys (as found by SCAN); unreadable entries are skipped. */
  async getByKeys(keys: string[]): Promise<Link[]> {
    if (keys.length === 0) return [];
    const raws = await this.redis.mget(...keys);
    return raws.flatMap((raw) => {
      const parsed = raw === null ? undefined : Link.safeParse(JSON.parse(raw));
      return parsed?.success ? [parsed.data] : [];
    });
  }

  /** Links of an influencer or a campaign (both filters intersect), by ascending id, `after_id` as the cursor. */
  async list(q: LinkListQuery): Promise<Link[]> {
    const set =
      q.influencer_id !== undefined ? `links:influencer:${q.influencer_id}` : `links:campaign:${q.campaign_id ?? 0}`;
    const out: Link[] = [];
    let after = q.after_id ?? 0;
    while (out.length < q.limit) {
      const codes = await this.redis.zrangebyscore(`${this.prefix}${set}`, `(${after}`, "+inf", "LIMIT", 0, q.limit);
      if (codes.length === 0) break;
      const links = await this.getByKeys(codes.map((c) => this.key(c)));
      for (const l of links) if (q.campaign_id === undefined || l.campaign_id === q.campaign_id) out.push(l);
      after = links.at(-1)?.id ?? Number.POSITIVE_INFINITY;
      if (codes.length < q.limit) break;
    }
    return out.slice(0, q.limit);
  }

  /** Change the destination (checked again against the link's allowlist), the sub values or the expiry. */
  async update(code: string, change: z.output<typeof LinkUpdate>): Promise<Link | undefined> {
    return this.modify(code, (link) => {
      const next: Link = { ...link, updated_at_ms: Date.now() };
      if (change.destination !== undefined)
        next.destination = checked(change.destination, link.allowed_domains, "destination");
      if (change.subs !== undefined) next.subs = change.subs;
      if (change.expires_at_ms === null) delete next.expires_at_ms;
      else if (change.expires_at_ms !== undefined) next.expires_at_ms = change.expires_at_ms;
      return next;
    });
  }

  /** A revoked link answers 404 everywhere within a second; the record stays for the books. */
  revoke(code: string): Promise<Link | undefined> {
    return this.modify(code, (link) => ({ ...link, status: "revoked", updated_at_ms: Date.now() }));
  }

  /** Read-modify-write by compare-and-set on the shared connection, so two concurrent edits cannot lose one. */
  private modify(code: string, change: (l: Link) => Link): Promise<Link | undefined> {
    return this.optimistic.modify(this.key(code), {
      parse: (raw) => Link.parse(JSON.parse(raw)),
      change,
      what: `link ${code}`,
      announce: { channel: this.channel, message: code },
    });
  }
}

function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}

function checked(destination: string, allowed: readonly string[], path: string): string {
  const check = checkDestination(destination, allowed);
  if (!check.ok) throw new AppError("invalid_destination", `${path}: ${check.reason}`, { context: { path } });
  return check.url.toString();
}
