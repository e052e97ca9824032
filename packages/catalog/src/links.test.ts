import { describe, expect, it } from "vitest";
import { Link, readLinkFacts } from "./links";

const base = {
  id: 9,
  code: "abc123",
  campaign_id: 2,
  influencer_id: 3,
  merchant_id: 1,
  destination: "https://shop.example.com/p/1",
  allowed_domains: ["shop.example.com"],
  click_param: "click_id",
  subs: { sub1: "ig" },
  fallback_url: "https://shop.example.com/",
  status: "active",
  expires_at_ms: 1_700_000_000_000,
  created_at_ms: 1,
  updated_at_ms: 2,
};

/** Stored links, valid and not: the fast reader must reach the schema's verdict on each. */
const samples: Record<string, unknown> = {
  valid: base,
  minimal: { ...base, subs: undefined, fallback_url: undefined, expires_at_ms: undefined, updated_at_ms: undefined },
  revoked: { ...base, status: "revoked" },
  "extra fields": { ...base, note: "x", subs: { sub1: "a", other: 1 } },
  "unknown status": { ...base, status: "paused" },
  "id zero": { ...base, id: 0 },
  "id too large": { ...base, influencer_id: 2 ** 32 },
  "fractional id": { ...base, campaign_id: 1.5 },
  "id as string": { ...base, merchant_id: "1" },
  "bad code": { ...base, code: "a/b" },
  "short code": { ...base, code: "ab" },
  "destination missing": { ...base, destination: undefined },
  "domains not strings": { ...base, allowed_domains: [1] },
  "sub too long": { ...base, subs: { sub2: "x".repeat(256) } },
  "sub not a string": { ...base, subs: { sub2: 5 } },
  "subs an array": { ...base, subs: ["a"] },
  "negative expiry": { ...base, expires_at_ms: -1 },
  "expiry past year 275760": { ...base, expires_at_ms: 8_640_000_000_001 },
  "no created_at_ms": { ...base, created_at_ms: undefined },
  "fallback not a string": { ...base, fallback_url: 3 },
  null: null,
  array: [base],
};

describe("readLinkFacts", () => {
  it.each(Object.entries(samples))("agrees with the Link schema: %s", (_name, json) => {
    const parsed = Link.safeParse(json);
    const facts = readLinkFacts(json);
    expect(facts !== undefined).toBe(parsed.success);
    if (parsed.success && facts) {
      const { updated_at_ms: _u, ...expected } = parsed.data;
      expect({ ...facts, fallback_url: facts.fallback_url, expires_at_ms: facts.expires_at_ms }).toEqual({
        ...expected,
        fallback_url: expected.fallback_url,
        expires_at_ms: expected.expires_at_ms,
      });
    }
  });
});
