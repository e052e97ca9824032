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

  it("gives two clicks on the same link different ids", () => {
    const facts = { linkId: 1, influencerId: 2, campaignId: 3, clickedAtMs: 1_700_000_000_000 };
    expect(signClickId(secret, facts)).not.toBe(signClickId(secret, facts));
  });
});
