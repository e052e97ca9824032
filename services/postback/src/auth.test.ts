import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  canonicalQuery,
  ipAllowlist,
  platformHmac,
  queryPairs,
  signBody,
  signQuery,
  verifyPlatformHmac,
  verifySignature,
  verifyToken,
} from "./auth";

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

describe("signed query strings (GET postbacks)", () => {
  const canon = (search: string) => canonicalQuery(queryPairs(search));
  it("sorts pairs by key then value, leaves out signature and encodes per RFC 3986", () => {
    expect(canon("order_id=A+1&amount=100&signature=t%3D1%2Cv1%3Dab&currency=usd")).toBe(
      "amount=100&currency=usd&order_id=A%201",
    );
    expect(canon("b=2&a=1")).toBe(canon("a=1&b=2"));
    expect(canon("sub1=x&sub1=a")).toBe("sub1=a&sub1=x");
    expect(canon("reason=it's%20(ok)*!&q=%C3%A9~-._")).toBe("q=%C3%A9~-._&reason=it%27s%20%28ok%29%2A%21");
    expect(canon("a=1%202")).toBe(canon("a=1+2"));
  });
  it("covers every field: a changed or added field breaks the signature", () => {
    const search = "merchant_id=3&order_id=A-1&amount=100&currency=USD";
    const header = signQuery(secret, search, now / 1000);
    const check = (s: string) => verifySignature(header, secret, Buffer.from(canon(s)), now, 300).ok;
    expect(check(search)).toBe(true);
    expect(check(`currency=USD&amount=100&order_id=A-1&merchant_id=3&signature=${encodeURIComponent(header)}`)).toBe(
      true,
    );
    expect(check(`${search}&type=approve`)).toBe(false);
    expect(check(search.replace("100", "1000"))).toBe(false);
    expect(check(search.replace("merchant_id=3", "merchant_id=4"))).toBe(false);
  });
  it("is HMAC-SHA256 over t. and the canonical query", () => {
    const mac = createHmac("sha256", secret).update("1700000000.a=1&b=2").digest("hex");
    expect(signQuery(secret, "b=2&a=1", 1_700_000_000)).toBe(`t=1700000000,v1=${mac}`);
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
