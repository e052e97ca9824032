import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { EntityId } from "@aff/events";
import type { Redis } from "ioredis";
import { z } from "zod";

/**
 * API keys with roles. admin and finance see everything; a merchant key is scoped to one merchant, an influencer
 * key to one influencer. Only a SHA-256 of the key is stored, so a leaked Redis dump holds no usable key.
 */
export const Role = z.enum(["admin", "finance", "merchant", "influencer"]);
export type Role = z.infer<typeof Role>;

export const ApiKeyInput = z
  .strictObject({
    role: Role,
    name: z.string().trim().min(1).max(200),
    merchant_id: EntityId.optional(),
    influencer_id: EntityId.optional(),
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
  });

export const Principal = z.object({
  key_id: z.string(),
  role: Role,
  name: z.string(),
  merchant_id: EntityId.optional(),
  influencer_id: EntityId.optional(),
  created_at_ms: z.number().int(),
});
export type Principal = z.infer<typeof Principal>;

export const hashApiKey = (key: string) => createHash("sha256").update(key).digest("hex");

export class ApiKeys {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  /** Returns the key once, in clear; it cannot be read back later. */
  async create(input: z.output<typeof ApiKeyInput>): Promise<{ key: string; principal: Principal }> {
    const keyId = randomBytes(6).toString("hex");
    const key = `ak_${keyId}_${randomBytes(24).toString("base64url")}`;
    const principal: Principal = { key_id: keyId, created_at_ms: Date.now(), ...input };
    await this.redis.set(`${this.prefix}apikey:${hashApiKey(key)}`, JSON.stringify(principal));
    return { key, principal };
  }

  async resolve(key: string): Promise<Principal | undefined> {
    if (!/^ak_[0-9a-f]{12}_[A-Za-z0-9_-]{32}$/.test(key)) return undefined;
    const raw = await this.redis.get(`${this.prefix}apikey:${hashApiKey(key)}`);
    return raw === null ? undefined : Principal.parse(JSON.parse(raw));
  }

  async revoke(key: string): Promise<boolean> {
    return (await this.redis.del(`${this.prefix}apikey:${hashApiKey(key)}`)) === 1;
  }
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
