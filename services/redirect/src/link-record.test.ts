import type { Link } from "@aff/catalog";
import { describe, expect, it } from "vitest";
import { LinkRecords } from "./link-record";

const records = new LinkRecords();
const compile = (l: Link) => records.decode(records.encode(l));

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

describe("LinkRecords", () => {
  it("appends sub values and the click id, keeping a fragment at the end", () => {
    const c = compile({
      ...base,
      destination: "https://shop.example.com/p/1?color=red#reviews",
      click_param: "aff",
      subs: { sub1: "ig story", sub3: "a&b=c" },
    });
    expect(c?.location("CID")).toBe(
      "https://shop.example.com/p/1?color=red&sub1=ig+story&sub3=a%26b%3Dc&aff=CID#reviews",
    );
  });

  it("replaces a click id parameter already in the destination rather than emitting two", () => {
    expect(compile({ ...base, destination: "https://shop.example.com/?click_id=forged" })?.location("CID")).toBe(
      "https://shop.example.com/?click_id=CID",
    );
  });

  it("keeps the link's facts and its campaign's", () => {
    expect(compile({ ...base, expires_at_ms: 1234 })).toMatchObject({
      linkId: 9,
      influencerId: 3,
      expiresAtMs: 1234,
      route: { campaignId: 2, merchantId: 1, fallbackUrl: "https://shop.example.com/" },
    });
  });

  it("cuts the click id slot where it is, even when a sub value contains the slot's text", () => {
    expect(
      compile({ ...base, destination: "https://shop.example.com/", subs: { sub1: "__aff_click_id__" } })?.location(
        "CID",
      ),
    ).toBe("https://shop.example.com/?sub1=__aff_click_id__&click_id=CID");
  });

  it("does not redirect a revoked link", () => expect(compile({ ...base, status: "revoked" })).toBeUndefined());

  it.each([
    "https://evil.example/",
    "https://shop.example.com@evil.example/",
    "javascript:alert(1)",
    "https://shop.example.com/\r\nSet-Cookie: a=1",
  ])("does not redirect a stored destination that is no longer allowed: %s", (destination) => {
    expect(compile({ ...base, destination })).toBeUndefined();
  });

  it("drops a fallback URL outside the allowlist", () =>
    expect(compile({ ...base, fallback_url: "https://evil.example/" })?.route.fallbackUrl).toBeUndefined());
});
