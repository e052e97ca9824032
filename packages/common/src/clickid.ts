import { randomBytes, timingSafeEqual } from "node:crypto";
import { _HMAC } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";

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

/**
 * HMAC-SHA256 (RFC 2104) of a click id's body, truncated to MAC_LEN: the same bytes `createHmac` gives, so ids issued
 * before verify unchanged. The hash states after the key's padded blocks are computed once per secret (noble-hashes'
 * HMAC) and copied into one reused instance per id, so an id costs the two SHA-256 blocks of its own data and no
 * garbage: a `createHmac` per id, and later two one-shot `crypto.hash` calls over the padded key and the data, cost
 * two to three times as much CPU (docs/adr/0003).
 */
class ClickMac {
  private readonly keyed: _HMAC<ReturnType<typeof sha256.create>>;
  private work: _HMAC<ReturnType<typeof sha256.create>> | undefined;
  private readonly digest = new Uint8Array(32);
  /** body and MAC of the id being signed, encoded in one go */
  readonly id = Buffer.alloc(BODY_LEN + MAC_LEN);

  constructor(secret: string) {
    this.keyed = new _HMAC(sha256, Buffer.from(secret, "utf8"));
  }

  /** The truncated MAC of `body` (BODY_LEN bytes), valid until the next call. */
  of(body: Buffer): Uint8Array {
    const h = this.keyed._cloneInto(this.work);
    this.work = h;
    h.update(body.subarray(0, BODY_LEN));
    h.digestInto(this.digest);
    return this.digest.subarray(0, MAC_LEN);
  }
}

const macs = new Map<string, ClickMac>();

/** The MAC state of a secret (a process holds one or two: the current secret and, while rotating, the previous). */
function clickMac(secret: string): ClickMac {
  let m = macs.get(secret);
  if (m === undefined) {
    if (macs.size >= 8) macs.clear();
    m = new ClickMac(secret);
    macs.set(secret, m);
  }
  return m;
}

export function signClickId(secret: string, facts: ClickFacts, random: Buffer = randomBytes(6)): string {
  const m = clickMac(secret);
  const body = m.id;
  body.writeUInt8(VERSION, 0);
  body.writeUInt32BE(facts.linkId, 1);
  body.writeUInt32BE(facts.influencerId, 5);
  body.writeUInt32BE(facts.campaignId, 9);
  body.writeUIntBE(facts.clickedAtMs, 13, 6);
  random.copy(body, 19, 0, 6);
  body.set(m.of(body), BODY_LEN);
  return body.toString("base64url");
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
  if (!timingSafeEqual(raw.subarray(BODY_LEN), clickMac(secret).of(body)))
    return { ok: false, reason: "bad_signature" };
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
