import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * A click id carries its own facts, so attribution can trust it without a lookup:
 * version(1) | link(4) | influencer(4) | campaign(4) | click time ms(6) | random(6) | HMAC-SHA256 truncated(10),
 * 35 bytes as base64url (47 characters, URL-safe, no padding).
 */
export type ClickFacts = { linkId: number; influencerId: number; campaignId: number; clickedAtMs: number };
export type ClickIdResult =
  | { ok: true; facts: ClickFacts }
  | { ok: false; reason: "malformed" | "bad_signature" | "unknown_version" };

const VERSION = 1;
const BODY_LEN = 25;
const MAC_LEN = 10;
export const CLICK_ID_LENGTH = 47;

function mac(secret: string, body: Buffer): Buffer {
  return createHmac("sha256", secret).update(body).digest().subarray(0, MAC_LEN);
}

export function signClickId(secret: string, facts: ClickFacts, random: Buffer = randomBytes(6)): string {
  const body = Buffer.alloc(BODY_LEN);
  body.writeUInt8(VERSION, 0);
  body.writeUInt32BE(facts.linkId, 1);
  body.writeUInt32BE(facts.influencerId, 5);
  body.writeUInt32BE(facts.campaignId, 9);
  body.writeUIntBE(facts.clickedAtMs, 13, 6);
  random.copy(body, 19, 0, 6);
  return Buffer.concat([body, mac(secret, body)]).toString("base64url");
}

export function verifyClickId(secret: string, clickId: string): ClickIdResult {
  if (clickId.length !== CLICK_ID_LENGTH || !/^[A-Za-z0-9_-]+$/.test(clickId))
    return { ok: false, reason: "malformed" };
  const raw = Buffer.from(clickId, "base64url");
  // 47 characters carry 282 bits for 280: the decoder ignores the last character's 2 spare bits, so only the
  // canonical spelling (spare bits zero, as our encoder writes) is accepted: one click, one id.
  if (raw.length !== BODY_LEN + MAC_LEN || raw.toString("base64url") !== clickId)
    return { ok: false, reason: "malformed" };
  const body = raw.subarray(0, BODY_LEN);
  if (body.readUInt8(0) !== VERSION) return { ok: false, reason: "unknown_version" };
  if (!timingSafeEqual(raw.subarray(BODY_LEN), mac(secret, body))) return { ok: false, reason: "bad_signature" };
  return {
    ok: true,
    facts: {
      linkId: body.readUInt32BE(1),
      influencerId: body.readUInt32BE(5),
      campaignId: body.readUInt32BE(9),
      clickedAtMs: body.readUIntBE(13, 6),
    },
  };
}
