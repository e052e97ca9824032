import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { EntityId } from "@aff/events";
import type { Redis } from "ioredis";
import { z } from "zod";
import { Optimistic } from "./optimistic";

/**
 * API keys with roles. admin and finance see everything; a merchant key is scoped to one merchant, an influencer
 * key to one influencer. Only a SHA-256 of the key is stored, so a leaked Redis dump holds no usable key.
 */
export const Role = z.enum(["admin", "finance", "merchant", "influencer"]);
export type Role = z.infer<typeof Role>;

const TimeMs = z.number().int().min(0).max(8_640_000_000_000);

export const ApiKeyInput = z
  .strictObject({
    role: Role,
    name: z.string().trim().min(1).max(200),
    merchant_id: EntityId.optional(),
    influencer_id: EntityId.optional(),
    /** the key stops working at this time (ms since epoch); never when absent */
    expires_at_ms: TimeMs.optional(),
  })
  .superRefine((k, ctx) => {
    if (k.role === "merchant" && k.merchant_id === undefined)
      ctx.addIssue({ code: "custom", path: ["merchant_id"], message: "required for a merchant key" });
    if (k.role === "influencer" && k.influencer_id === undefined)
      ctx.addIssue({ code: "custom", path: ["influencer_id"], message: "required for an influencer key" });
    if (k.role !== "merchant" && k.merchant_id !== undefined)
      ctx.addIssue({ code: "custom", path: ["merchant_id"], message: "only for a merchant key" });
    if (k.role !== "influencer" && k.influencer_id !== undefined)
      ctx.addIssue({ code: "custom", path: ["influencer_id"], message: "only for an influencer key" });
    if (k.expires_at_ms !== undefined && k.expires_at_ms <= Date.now())
      ctx.addIssue({ code: "custom", path: ["expires_at_ms"], message: "must be in the future" });
  });

export const Principal = z.object({
  key_id: z.string(),
  role: Role,
  name: z.string(),
  merchant_id: EntityId.optional(),
  influencer_id: EntityId.optional(),
  created_at_ms: z.number().int(),
  expires_at_ms: TimeMs.optional(),
});
export type Principal = z.infer<typeof Principal>;

/** What is stored per key: the principal plus its end, if it was revoked or replaced. */
const KeyRecord = Principal.extend({
  revoked_at_ms: z.number().int().optional(),
  /** the key that replaced this one by rotation */
  replaced_by: z.string().optional(),
});
type KeyRecord = z.infer<typeof KeyRecord>;

/** A key as listed: never the key itself nor its hash. */
export type ApiKeyView = KeyRecord & { status: "active" | "expired" | "revoked"; last_used_at_ms?: number };

export const KEY_ID_PATTERN = /^[0-9a-f]{12}$/;
const KEY_PATTERN = /^ak_([0-9a-f]{12})_[A-Za-z0-9_-]{32}$/;
/** Last-used times are written at most this often per key and process, so busy keys cost no Redis write per call. */
const TOUCH_EVERY_MS = 60_000;

export const hashApiKey = (key: string) => createHash("sha256").update(key).digest("hex");

/**
 * Keys in Redis: `apikey:{sha256}` holds the record (one GET per authentication), `apikeys:index` maps key id to
 * hash (list, revoke and rotate by id), `apikeys:used` key id to the last time it authenticated.
 */
export class ApiKeys {
  private readonly optimistic: Optimistic;
  private readonly touched = new Map<string, number>();
  private readonly now: () => number;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    opts: { now?: () => number } = {},
  ) {
    this.optimistic = new Optimistic(redis);
    this.now = opts.now ?? Date.now;
  }

  private recordKey(hash: string): string {
    return `${this.prefix}apikey:${hash}`;
  }
  private get indexKey(): string {
    return `${this.prefix}apikeys:index`;
  }
  private get usedKey(): string {
    return `${this.prefix}apikeys:used`;
  }

  /** Returns the key once, in clear; it cannot be read back later. */
  async create(input: z.output<typeof ApiKeyInput>): Promise<{ key: string; principal: Principal }> {
    const keyId = randomBytes(6).toString("hex");
    const key = `ak_${keyId}_${randomBytes(24).toString("base64url")}`;
    const principal: Principal = { key_id: keyId, created_at_ms: this.now(), ...input };
    const hash = hashApiKey(key);
    await this.redis
      .multi()
      .set(this.recordKey(hash), JSON.stringify(principal))
      .hset(this.indexKey, keyId, hash)
      .exec();
    return { key, principal };
  }

  /** The caller a key stands for; undefined for an unknown, revoked or expired key. */
  async resolve(key: string): Promise<Principal | undefined> {
    const keyId = KEY_PATTERN.exec(key)?.[1];
    if (keyId === undefined) return undefined;
    const hash = hashApiKey(key);
    const raw = await this.redis.get(this.recordKey(hash));
    if (raw === null) return undefined;
    const record = KeyRecord.parse(JSON.parse(raw));
    if (statusOf(record, this.now()) !== "active") return undefined;
    this.touch(keyId, hash);
    return Principal.parse(record);
  }

  /** Records the last use, at most once a minute per key; a failed write only loses a timestamp. */
  private touch(keyId: string, hash: string): void {
    const now = this.now();
    if (now - (this.touched.get(keyId) ?? Number.NEGATIVE_INFINITY) < TOUCH_EVERY_MS) return;
    this.touched.set(keyId, now);
    // The index entry is rewritten too, so keys issued before the index existed become listable once used.
    this.redis
      .multi()
      .hset(this.usedKey, keyId, String(now))
      .hset(this.indexKey, keyId, hash)
      .exec()
      .catch(() => undefined);
  }

  /** Every indexed key, newest first, with its status and last use. */
  async list(): Promise<ApiKeyView[]> {
    const index = await this.redis.hgetall(this.indexKey);
    const ids = Object.keys(index);
    if (ids.length === 0) return [];
    const raws = await this.redis.mget(ids.map((id) => this.recordKey(index[id] ?? "")));
    const used = await this.redis.hmget(this.usedKey, ...ids);
    const now = this.now();
    return raws
      .flatMap((raw, i) => (raw === null ? [] : [this.view(KeyRecord.parse(JSON.parse(raw)), used[i] ?? null, now)]))
      .sort((a, b) => b.created_at_ms - a.created_at_ms);
  }

  async get(keyId: string): Promise<ApiKeyView | undefined> {
    const hash = await this.redis.hget(this.indexKey, keyId);
    if (hash === null) return undefined;
    const [raw, used] = await Promise.all([this.redis.get(this.recordKey(hash)), this.redis.hget(this.usedKey, keyId)]);
    return raw === null ? undefined : this.view(KeyRecord.parse(JSON.parse(raw)), used, this.now());
  }

  private view(record: KeyRecord, used: string | null, now: number): ApiKeyView {
    return {
      ...record,
      status: statusOf(record, now),
      ...(used === null ? {} : { last_used_at_ms: Number(used) }),
    };
  }

  /** Revokes by id; undefined when there is no such key. Revoking twice keeps the first time. */
  async revokeById(keyId: string): Promise<ApiKeyView | undefined> {
    const now = this.now();
    await this.change(keyId, (r) => ({ ...r, revoked_at_ms: r.revoked_at_ms ?? now }));
    return this.get(keyId);
  }

  /** Revokes by the key itself (what a holder can name), indexing a key issued before the index existed. */
  async revoke(key: string): Promise<boolean> {
    const keyId = KEY_PATTERN.exec(key)?.[1];
    const hash = hashApiKey(key);
    if (keyId === undefined || (await this.redis.exists(this.recordKey(hash))) === 0) return false;
    await this.redis.hset(this.indexKey, keyId, hash);
    return (await this.revokeById(keyId)) !== undefined;
  }

  /**
   * A new key with the same role, scope and name (and expiry, unless `expires_at_ms` is given); the old key is
   * revoked at once, or keeps working `overlap_s` seconds so its holder can switch. The new key is returned once.
   */
  async rotate(
    keyId: string,
    opts: { overlap_s: number; expires_at_ms?: number | null },
  ): Promise<{ key: string; principal: Principal; replaced: ApiKeyView } | "not_active" | undefined> {
    const old = await this.get(keyId);
    if (old === undefined) return undefined;
    // A key already replaced (even one still inside its overlap) is not rotated twice: rotate its successor.
    if (old.status !== "active" || old.replaced_by !== undefined) return "not_active";
    const expires = opts.expires_at_ms === undefined ? old.expires_at_ms : (opts.expires_at_ms ?? undefined);
    const { key, principal } = await this.create({
      role: old.role,
      name: old.name,
      merchant_id: old.merchant_id,
      influencer_id: old.influencer_id,
      ...(expires === undefined ? {} : { expires_at_ms: expires }),
    });
    const now = this.now();
    await this.change(keyId, (r) =>
      opts.overlap_s === 0
        ? { ...r, revoked_at_ms: r.revoked_at_ms ?? now, replaced_by: principal.key_id }
        : {
            ...r,
            expires_at_ms: Math.min(r.expires_at_ms ?? Number.POSITIVE_INFINITY, now + opts.overlap_s * 1000),
            replaced_by: principal.key_id,
          },
    );
    const replaced = await this.get(keyId);
    return replaced === undefined ? undefined : { key, principal, replaced };
  }

  private async change(keyId: string, fn: (r: KeyRecord) => KeyRecord): Promise<KeyRecord | undefined> {
    const hash = await this.redis.hget(this.indexKey, keyId);
    if (hash === null) return undefined;
    return this.optimistic.modify(this.recordKey(hash), {
      parse: (raw) => KeyRecord.parse(JSON.parse(raw)),
      change: fn,
      what: `key ${keyId}`,
    });
  }
}

function statusOf(r: KeyRecord, now: number): ApiKeyView["status"] {
  if (r.revoked_at_ms !== undefined) return "revoked";
  if (r.expires_at_ms !== undefined && now >= r.expires_at_ms) return "expired";
  return "active";
}

/**
 * Resolves a bearer key: a bootstrap key from the service's config (the key that exists before any key was issued)
 * with the given role, or else a hashed key from the catalog.
 */
export function resolverWithBootstrap(apiKeys: ApiKeys, bootstrapKey: string, role: Role, name: string) {
  const bootstrap = Buffer.from(bootstrapKey);
  const principal: Principal = { key_id: "bootstrap", role, name, created_at_ms: 0 };
  return async (key: string): Promise<Principal | undefined> => {
    const given = Buffer.from(key);
    if (given.length === bootstrap.length && timingSafeEqual(given, bootstrap)) return principal;
    return apiKeys.resolve(key);
  };
}
