import { describe, expect, it } from "vitest";
import { audienceTier, type Profile, ProfileInput, verifiedFieldChanged, viewProfile } from "./profiles";

const profile = (platforms: Profile["platforms"]): Profile => ({
  influencer_id: 1,
  niches: ["gaming"],
  bio: "",
  platforms,
  updated_at_ms: 0,
});

describe("audienceTier", () => {
  it("puts each threshold's lower bound in the higher tier", () => {
    expect([0, 9_999, 10_000, 99_999, 100_000, 499_999, 500_000, 5_000_000].map(audienceTier)).toEqual([
      "nano",
      "nano",
      "micro",
      "micro",
      "mid",
      "mid",
      "macro",
      "macro",
    ]);
  });
  it("takes the largest platform, not the sum of overlapping audiences", () => {
    const v = viewProfile(
      profile([
        { platform: "instagram", handle: "a", audience_size: 60_000, audience_verified: false },
        { platform: "tiktok", handle: "a", audience_size: 90_000, audience_verified: true },
      ]),
    );
    expect(v).toMatchObject({ audience_size: 90_000, audience_verified: true, tier: "micro" });
  });
});

describe("verifiedFieldChanged", () => {
  const current = profile([{ platform: "youtube", handle: "chan", audience_size: 12_000, audience_verified: true }]);
  const edit = (audience: number, handle = "chan") =>
    ProfileInput.parse({ niches: ["gaming"], platforms: [{ platform: "youtube", handle, audience_size: audience }] });
  it("names the verified field an influencer tries to change", () => {
    expect(verifiedFieldChanged(current, edit(50_000))).toBe("platforms.0.audience_size");
    expect(verifiedFieldChanged(current, edit(12_000, "other"))).toBe("platforms.0.handle");
  });
  it("lets unverified and unchanged platforms through", () => {
    expect(verifiedFieldChanged(current, edit(12_000))).toBeUndefined();
    expect(verifiedFieldChanged(undefined, edit(50_000))).toBeUndefined();
  });
});

describe("ProfileInput", () => {
  it("refuses unknown niches, duplicate platforms and an unverifiable audience flag", () => {
    const bad = ProfileInput.safeParse({
      niches: ["astrology"],
      platforms: [
        { platform: "x", handle: "a", audience_size: 1, audience_verified: true },
        { platform: "x", handle: "b", audience_size: 2 },
      ],
    });
    expect(bad.success).toBe(false);
    const paths = bad.error?.issues.map((i) => i.path.join(".")) ?? [];
    expect(paths).toEqual(expect.arrayContaining(["niches.0", "platforms.0"]));
  });
});
