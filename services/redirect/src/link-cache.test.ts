import type { Link } from "@aff/catalog";
import { describe, expect, it } from "vitest";
import { compileLink } from "./link-cache";

const base: Link = {
  id: 9,
  code: "abc123",
  campaign_id: 2,
  influencer_id: 3,
  merchant_id: 1,
  destination: "https://shop.example.com/p/1?color=red",
  allowed_domains: ["shop.example.com"],
  click_param: "click_id",
  subs: {},
  fallback_url: "https://shop.example.com/",
  status: "active",
  created_at_ms: 0,
};

describe("compileLink", () => {
  it("appends sub values and the click id, keeping a fragment at the end", () => {
    const c = compileLink({ ...base, destination: "https://shop.example.com/p/1?color=red#reviews", click_param: "aff", subs: { sub1: "ig story", sub3: "a&b=c" } });
    expect(c.location("CID")).toBe("https://shop.example.com/p/1?color=red&sub1=ig+story&sub3=a%26b%3Dc&aff=CID#reviews");
  });

  it("replaces a click id parameter already in the destination rather than emitting two", () => {
    expect(compileLink({ ...base, destination: "https://shop.example.com/?click_id=forged" }).location("CID")).toBe("https://shop.example.com/?click_id=CID");
  });

  it("does not redirect a revoked link", () => expect(compileLink({ ...base, status: "revoked" }).redirects).toBe(false));

  it.each([
    "https://evil.example/",
    "https://shop.example.com@evil.example/",
    "javascript:alert(1)",
    "https://shop.example.com/\r\nSet-Cookie: a=1",
  ])("does not redirect a stored destination that is no longer allowed: %s", (destination) => {
    expect(compileLink({ ...base, destination }).redirects).toBe(false);
  });

  it("drops a fallback URL outside the allowlist", () => expect(compileLink({ ...base, fallback_url: "https://evil.example/" }).fallbackUrl).toBeUndefined());
});
