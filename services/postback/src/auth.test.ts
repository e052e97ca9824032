import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ipAllowlist, platformHmac, signBody, verifyPlatformHmac, verifySignature, verifyToken } from "./auth";

const secret = "s3cret";
const body = Buffer.from('{"order_id":"A1"}');
const now = 1_700_000_000_000;

describe("signatures", () => {
  it("accepts a fresh signature over the exact body and returns it as the replay key", () => {
    const header = signBody(secret, body, now / 1000);
    expect(verifySignature(header, secret, body, now, 300)).toEqual({
      ok: true,
      method: "signature",
      mac: header.split("v1=")[1],
    });
  });
  it("refuses another body, another secret, a stale or malformed header", () => {
    const header = signBody(secret, body, now / 1000);
    expect(verifySignature(header, secret, Buffer.from('{"order_id":"A2"}'), now, 300)).toMatchObject({
      ok: false,
      code: "bad_signature",
    });
    expect(verifySignature(header, "other", body, now, 300)).toMatchObject({ ok: false, code: "bad_signature" });
    expect(verifySignature(header, secret, body, now + 301_000, 300)).toMatchObject({
      ok: false,
      code: "stale_signature",
    });
    expect(verifySignature(header, secret, body, now - 301_000, 300)).toMatchObject({
      ok: false,
      code: "stale_signature",
    });
    expect(verifySignature("v1=abc", secret, body, now, 300)).toMatchObject({ ok: false, code: "bad_signature" });
    expect(verifySignature("garbage", secret, body, now, 300)).toMatchObject({ ok: false, code: "bad_signature" });
  });
  it("accepts any secret of a rotation overlap, and only those", () => {
    const header = signBody("old-secret", body, now / 1000);
    expect(verifySignature(header, ["new-secret", "old-secret"], body, now, 300).ok).toBe(true);
    expect(verifySignature(header, ["new-secret"], body, now, 300).ok).toBe(false);
  });
  it("compares tokens exactly", () => {
    expect(verifyToken("abc", "abc").ok).toBe(true);
    expect(verifyToken("abc", ["new", "abc"]).ok).toBe(true);
    expect(verifyToken("abd", "abc")).toMatchObject({ ok: false, code: "bad_token" });
    expect(verifyToken(undefined, "abc")).toMatchObject({ ok: false, code: "missing_credentials" });
  });
});

describe("platform webhook HMAC", () => {
  it("is base64 HMAC-SHA256 of the raw body, as Shopify and WooCommerce compute it", () => {
    const expected = createHmac("sha256", "whsec").update(body).digest("base64");
    expect(platformHmac("whsec", body)).toBe(expected);
    expect(verifyPlatformHmac(expected, "X-Shopify-Hmac-Sha256", ["whsec"], body).ok).toBe(true);
    expect(verifyPlatformHmac(expected, "X-Shopify-Hmac-Sha256", ["other"], body)).toMatchObject({
      ok: false,
      code: "bad_signature",
    });
    expect(verifyPlatformHmac(undefined, "X-Shopify-Hmac-Sha256", ["whsec"], body)).toMatchObject({
      ok: false,
      code: "missing_signature",
    });
    expect(verifyPlatformHmac(expected, "X-WC-Webhook-Signature", [], body)).toMatchObject({
      ok: false,
      code: "platform_not_configured",
    });
  });
});

describe("IP allowlist", () => {
  it("allows everyone when empty, else only listed addresses and blocks", () => {
    expect(ipAllowlist([])("203.0.113.9")).toBe(true);
    const allowed = ipAllowlist(["203.0.113.0/24", "198.51.100.7", "2001:db8::/32"]);
    expect(allowed("203.0.113.9")).toBe(true);
    expect(allowed("::ffff:203.0.113.9")).toBe(true);
    expect(allowed("198.51.100.7")).toBe(true);
    expect(allowed("198.51.100.8")).toBe(false);
    expect(allowed("2001:db8::1")).toBe(true);
    expect(allowed("2001:db9::1")).toBe(false);
    expect(allowed("")).toBe(false);
  });
});
