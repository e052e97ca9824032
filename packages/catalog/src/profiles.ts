import { EntityId } from "@aff/events";
import type { Redis } from "ioredis";
import { z } from "zod";
import { modifyWithSets } from "./optimistic";

/**
 * The fixed niche taxonomy. Ids are stable snake_case (they are stored and sent in query strings); labels are for
 * people. Adding a niche is appending here; renaming an id would orphan stored profiles.
 */
export const NICHES = {
  fashion_beauty: "Fashion & beauty",
  travel_lifestyle: "Travel & lifestyle",
  entertainment: "Entertainment",
  sports: "Sports",
  gaming: "Gaming",
  health_fitness: "Health & fitness",
  parenting_family: "Parenting & family",
  business_tech: "Business & tech",
  food_drink: "Food & drink",
  home_garden: "Home & garden",
} as const;
export const Niche = z.enum(Object.keys(NICHES) as [keyof typeof NICHES, ...(keyof typeof NICHES)[]]);
export type Niche = z.infer<typeof Niche>;

export const Platform = z.enum([
  "instagram",
  "tiktok",
  "youtube",
  "twitch",
  "x",
  "facebook",
  "pinterest",
  "snapchat",
  "linkedin",
  "blog",
  "podcast",
]);
export type Platform = z.infer<typeof Platform>;

/**
 * Audience tiers by followers on the influencer's largest platform (audiences of several platforms overlap, so they
 * are not added up). Thresholds follow the common four-tier split: nano < 10k, micro 10k-100k, mid 100k-500k,
 * macro >= 500k (docs/adr/0007-influencer-scorecards.md cites the sources). Lower bounds are inclusive.
 */
export const TIER_THRESHOLDS = [
  { tier: "macro", min: 500_000 },
  { tier: "mid", min: 100_000 },
  { tier: "micro", min: 10_000 },
  { tier: "nano", min: 0 },
] as const;
export const AudienceTier = z.enum(["nano", "micro", "mid", "macro"]);
export type AudienceTier = z.infer<typeof AudienceTier>;

export function audienceTier(audience: number): AudienceTier {
  return (TIER_THRESHOLDS.find((t) => audience >= t.min) ?? { tier: "nano" }).tier;
}

const Handle = z
  .string()
  .trim()
  .min(1)
  .max(100)
  .regex(/^[\p{L}\p{N}_.@ -]+$/u, "letters, digits, spaces and _ . @ - only");

/** One platform as an influencer may state it; `audience_size` is followers or subscribers. */
export const PlatformInput = z.strictObject({
  platform: Platform,
  handle: Handle,
  audience_size: z.number().int().min(0).max(2_000_000_000),
});
/** What an admin may set besides: the audience size was checked (screenshot, platform API, agency statement). */
export const AdminPlatformInput = PlatformInput.extend({ audience_verified: z.boolean().default(false) });

const ProfileFields = {
  niches: z
    .array(Niche)
    .min(1)
    .max(Niche.options.length)
    .refine((n) => new Set(n).size === n.length, "each niche once"),
  bio: z.string().trim().max(1000).default(""),
  /** ISO 3166-1 alpha-2 country of most of the audience */
  audience_country: z
    .string()
    .regex(/^[A-Z]{2}$/, "ISO 3166-1 alpha-2, upper case")
    .optional(),
};
const uniquePlatforms = (p: { platform: string }[]) => new Set(p.map((x) => x.platform)).size === p.length;

/** A profile as an influencer key sends it for itself. */
export const ProfileInput = z.strictObject({
  ...ProfileFields,
  platforms: z.array(PlatformInput).max(Platform.options.length).refine(uniquePlatforms, "each platform once"),
});
export type ProfileInput = z.output<typeof ProfileInput>;

/** A profile as an admin sends it (may mark audiences verified). */
export const AdminProfileInput = z.strictObject({
  ...ProfileFields,
  platforms: z.array(AdminPlatformInput).max(Platform.options.length).refine(uniquePlatforms, "each platform once"),
});
export type AdminProfileInput = z.output<typeof AdminProfileInput>;

export const StoredPlatform = AdminPlatformInput.extend({ audience_verified: z.boolean() });
export const Profile = z.object({
  influencer_id: EntityId,
  niches: z.array(Niche),
  bio: z.string(),
  audience_country: z.string().optional(),
  platforms: z.array(StoredPlatform),
  updated_at_ms: z.number().int(),
});
export type Profile = z.infer<typeof Profile>;

/** A profile with the figures derived from it. */
export type ProfileView = Profile & { audience_size: number; audience_verified: boolean; tier: AudienceTier };

export function viewProfile(p: Profile): ProfileView {
  const largest = p.platforms.reduce<z.infer<typeof StoredPlatform> | undefined>(
    (best, x) => (best === undefined || x.audience_size > best.audience_size ? x : best),
    undefined,
  );
  const audience = largest?.audience_size ?? 0;
  return {
    ...p,
    audience_size: audience,
    audience_verified: largest?.audience_verified ?? false,
    tier: audienceTier(audience),
  };
}

/**
 * An influencer's own edit may not touch a verified audience: the platform must keep its handle and audience size
 * (removing the platform is allowed). Returns the field that would change, or undefined.
 */
export function verifiedFieldChanged(current: Profile | undefined, next: ProfileInput): string | undefined {
  for (const [i, p] of next.platforms.entries()) {
    const was = current?.platforms.find((x) => x.platform === p.platform);
    if (!was?.audience_verified) continue;
    if (was.audience_size !== p.audience_size) return `platforms.${i}.audience_size`;
    if (was.handle !== p.handle) return `platforms.${i}.handle`;
  }
  return undefined;
}

/**
 * Influencer profiles in Redis: one JSON value per influencer plus a set of influencer ids per niche, kept in step in
 * one atomic script so a niche listing never disagrees with the profiles.
 */
export class Profiles {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private profileKey(id: number): string {
    return `${this.prefix}profile:${id}`;
  }

  nicheKey(niche: Niche): string {
    return `${this.prefix}niche:influencers:${niche}`;
  }

  async get(id: number): Promise<Profile | undefined> {
    const raw = await this.redis.get(this.profileKey(id));
    return raw === null ? undefined : Profile.parse(JSON.parse(raw));
  }

  async getMany(ids: readonly number[]): Promise<Map<number, Profile>> {
    const out = new Map<number, Profile>();
    for (let i = 0; i < ids.length; i += 1000) {
      const chunk = ids.slice(i, i + 1000);
      if (chunk.length === 0) break;
      const raws = await this.redis.mget(chunk.map((id) => this.profileKey(id)));
      raws.forEach((raw, j) => {
        const id = chunk[j];
        if (raw !== null && id !== undefined) out.set(id, Profile.parse(JSON.parse(raw)));
      });
    }
    return out;
  }

  /** Influencer ids listing a niche, ascending. */
  async inNiche(niche: Niche): Promise<number[]> {
    return (await this.redis.smembers(this.nicheKey(niche))).map(Number).sort((a, b) => a - b);
  }

  /** Writes many profiles at once without WATCH: for seeding an empty catalog (demo data, benchmarks), not for edits. */
  async putMany(profiles: readonly Profile[]): Promise<void> {
    for (let i = 0; i < profiles.length; i += 1000) {
      const tx = this.redis.multi();
      for (const p of profiles.slice(i, i + 1000)) {
        tx.set(this.profileKey(p.influencer_id), JSON.stringify(Profile.parse(p)));
        for (const n of p.niches) tx.sadd(this.nicheKey(n), String(p.influencer_id));
      }
      await tx.exec();
    }
  }

  /**
   * Replaces a profile. `change` sees the stored profile (or undefined) and returns the new one, or throws to refuse.
   * The profile and its niche sets change in one compare-and-set script on the shared connection (no connection of
   * its own per edit); a round retries when another writer got there first.
   */
  put(id: number, change: (current: Profile | undefined) => Profile): Promise<Profile> {
    return modifyWithSets(this.redis, this.profileKey(id), {
      parse: (raw) => Profile.parse(JSON.parse(raw)),
      change: (current) => {
        const next = change(current);
        const leave = (current?.niches ?? []).filter((n) => !next.niches.includes(n)).map((n) => this.nicheKey(n));
        return { next, leave, join: next.niches.map((n) => this.nicheKey(n)) };
      },
      member: String(id),
      what: `profile ${id}`,
      path: "influencer_id",
    });
  }
}
