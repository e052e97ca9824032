import { createHmac } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CLICK_ID_LENGTH, signClickId, verifyClickId } from "./clickid";

const secret = "test-secret-0123456789";

describe("click id", () => {
  it("round-trips the facts it carries", () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 2 ** 32 - 1 }),
        fc.nat({ max: 2 ** 32 - 1 }),
        fc.nat({ max: 2 ** 32 - 1 }),
        fc.nat({ max: 2 ** 47 }),
        (linkId, influencerId, campaignId, clickedAtMs) => {
          const id = signClickId(secret, { linkId, influencerId, campaignId, clickedAtMs });
          expect(id).toHaveLength(CLICK_ID_LENGTH);
          expect(id).toMatch(/^[A-Za-z0-9_-]+$/);
          expect(verifyClickId(secret, id)).toEqual({
            ok: true,
            facts: { linkId, influencerId, campaignId, clickedAtMs },
          });
        },
      ),
    );
  });

  it("refuses a forged or altered id", () => {
    const id = signClickId(secret, { linkId: 1, influencerId: 2, campaignId: 3, clickedAtMs: Date.now() });
    expect(verifyClickId("another-secret-0123456", id)).toEqual({ ok: false, reason: "bad_signature" });
    const flipped = id[5] === "A" ? "B" : "A";
    expect(verifyClickId(secret, `${id.slice(0, 5)}${flipped}${id.slice(6)}`)).toMatchObject({ ok: false });
    expect(verifyClickId(secret, "short")).toEqual({ ok: false, reason: "malformed" });
    expect(verifyClickId(secret, `${id.slice(0, -1)}!`)).toEqual({ ok: false, reason: "malformed" });
  });

  it("accepts only the canonical spelling: setting the last character's spare bits is refused", () => {
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    fc.assert(
      fc.property(fc.nat({ max: 2 ** 32 - 1 }), fc.integer({ min: 1, max: 3 }), (linkId, spare) => {
        const id = signClickId(secret, { linkId, influencerId: 2, campaignId: 3, clickedAtMs: 1_700_000_000_000 });
        const last = alphabet.indexOf(id.at(-1) ?? "");
        expect(last & 3).toBe(0);
        const variant = `${id.slice(0, -1)}${alphabet[last | spare]}`;
        // Same bytes, another spelling: the old decoder verified it as the same click.
        expect(Buffer.from(variant, "base64url")).toEqual(Buffer.from(id, "base64url"));
        expect(verifyClickId(secret, variant)).toEqual({ ok: false, reason: "malformed" });
      }),
    );
  });

  it("gives two clicks on the same link different ids", () => {
    const facts = { linkId: 1, influencerId: 2, campaignId: 3, clickedAtMs: 1_700_000_000_000 };
    expect(signClickId(secret, facts)).not.toBe(signClickId(secret, facts));
  });

  it("signs with HMAC-SHA256 as createHmac does, whatever the secret's length or alphabet", () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 100, unit: "grapheme" }),
        fc.nat({ max: 2 ** 32 - 1 }),
        (key, linkId) => {
          const random = Buffer.from([1, 2, 3, 4, 5, 6]);
          const raw = Buffer.from(
            signClickId(key, { linkId, influencerId: 7, campaignId: 8, clickedAtMs: 1 }, random),
            "base64url",
          );
          const body = raw.subarray(0, 25);
          expect(raw.subarray(25)).toEqual(createHmac("sha256", key).update(body).digest().subarray(0, 10));
          expect(verifyClickId(key, raw.toString("base64url"))).toMatchObject({ ok: true });
        },
      ),
    );
  });

  it("verifies an id issued before the MAC was computed with one-shot hashes", () => {
    // Signed with createHmac (the implementation up to issue 9) from these facts and random bytes.
    const issued = "AQAAAAEAAAACAAAAAwGLz-VoAAECAwQFBkdVj72wAosY7EU";
    expect(verifyClickId(secret, issued)).toEqual({
      ok: true,
      facts: { linkId: 1, influencerId: 2, campaignId: 3, clickedAtMs: 1_700_000_000_000 },
    });
    const random = Buffer.from([1, 2, 3, 4, 5, 6]);
    expect(
      signClickId(secret, { linkId: 1, influencerId: 2, campaignId: 3, clickedAtMs: 1_700_000_000_000 }, random),
    ).toBe(issued);
  });
});
