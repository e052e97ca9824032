import { describe, expect, it } from "vitest";
import { signBody, verifySignature, verifyToken } from "./auth";

const secret = "s3cret";
const body = Buffer.from('{"order_id":"A1"}');
const now = 1_700_000_000_000;

describe("signatures", () => {
  it("accepts a fresh signature over the exact body", () => {
    expect(verifySignature(signBody(secret, body, now / 1000), secret, body, now, 300)).toEqual({ ok: true, method: "signature" });
  });
  it("refuses another body, another secret, a stale or malformed header", () => {
    const header = signBody(secret, body, now / 1000);
    expect(verifySignature(header, secret, Buffer.from('{"order_id":"A2"}'), now, 300)).toMatchObject({ ok: false, code: "bad_signature" });
    expect(verifySignature(header, "other", body, now, 300)).toMatchObject({ ok: false, code: "bad_signature" });
    expect(verifySignature(header, secret, body, now + 301_000, 300)).toMatchObject({ ok: false, code: "stale_signature" });
    expect(verifySignature("v1=abc", secret, body, now, 300)).toMatchObject({ ok: false, code: "bad_signature" });
  });
  it("compares tokens exactly", () => {
    expect(verifyToken("abc", "abc").ok).toBe(true);
    expect(verifyToken("abd", "abc")).toMatchObject({ ok: false, code: "bad_token" });
    expect(verifyToken(undefined, "abc")).toMatchObject({ ok: false, code: "missing_credentials" });
  });
});
