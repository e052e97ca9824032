import { createHmac, timingSafeEqual } from "node:crypto";
import { BlockList, isIPv4, isIPv6 } from "node:net";
import type { ErrorCode } from "@aff/common";

export type AuthMethod = "signature" | "token" | "platform_hmac";
export type AuthResult =
  | { ok: true; method: AuthMethod; mac?: string }
  | { ok: false; code: ErrorCode; message: string };

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** HMAC-SHA256(secret, "<t>.<raw body>") */
const bodyMac = (secret: string, body: string | Buffer, unixSeconds: number): Buffer =>
  createHmac("sha256", secret).update(`${unixSeconds}.`).update(body).digest();

/** `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>` */
export function signBody(secret: string, body: string | Buffer, unixSeconds: number): string {
  return `t=${unixSeconds},v1=${bodyMac(secret, body, unixSeconds).toString("hex")}`;
}

/**
 * Checks `t=<unix seconds>,v1=<hex>` against every accepted secret (the current one and those retired but still in
 * their overlap). On success `mac` is the signature, the key for replay protection.
 */
export function verifySignature(
  header: string,
  secrets: string | readonly string[],
  body: Buffer,
  nowMs: number,
  toleranceS: number,
): AuthResult {
  const parts = Object.fromEntries(header.split(",").map((kv) => kv.trim().split("=", 2) as [string, string]));
  const t = Number(parts.t);
  const given = parts.v1 ?? "";
  if (!/^\d{1,12}$/.test(parts.t ?? "") || !/^[0-9a-f]{64}$/.test(given))
    return { ok: false, code: "bad_signature", message: "X-Signature must be t=<unix seconds>,v1=<64 hex>" };
  if (Math.abs(nowMs / 1000 - t) > toleranceS)
    return { ok: false, code: "stale_signature", message: `signature timestamp is more than ${toleranceS}s from now` };
  const list = typeof secrets === "string" ? [secrets] : secrets;
  // `given` is 64 lower-case hex digits (checked above): comparing its bytes is comparing the hex
  const mac = Buffer.from(given, "hex");
  if (!list.some((secret) => timingSafeEqual(bodyMac(secret, body, t), mac)))
    return { ok: false, code: "bad_signature", message: "signature does not match the body" };
  return { ok: true, method: "signature", mac: given };
}

/** RFC 3986 percent-encoding: letters, digits and `-._~` stay, every other UTF-8 byte becomes `%XX` (upper case). */
export const rfc3986 = (s: string): string =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** The pairs of a query string, decoded as a browser's form: `+` is a space, `%XX` a UTF-8 byte. */
export const queryPairs = (search: string): [string, string][] => [...new URLSearchParams(search)];

/**
 * What a signed GET signs: its query pairs without `signature`, each key and value RFC 3986-encoded, sorted by
 * encoded key then encoded value (plain ASCII order), joined as `key=value` with `&`. Undefined (throws URIError)
 * for text that is not well-formed Unicode.
 */
export function canonicalQuery(pairs: readonly [string, string][]): string {
  return pairs
    .filter(([k]) => k !== "signature")
    .map(([k, v]) => [rfc3986(k), rfc3986(v)] as const)
    .sort(([ka, va], [kb, vb]) => (ka < kb ? -1 : ka > kb ? 1 : va < vb ? -1 : va > vb ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
}

/** `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + canonicalQuery)>`, for a GET postback. */
export function signQuery(secret: string, search: string, unixSeconds: number): string {
  return signBody(secret, canonicalQuery(queryPairs(search)), unixSeconds);
}

/** A shared token, for pixel-style GET postbacks that cannot sign (weaker: it travels in URLs and logs). */
export function verifyToken(given: string | undefined, expected: string | readonly string[]): AuthResult {
  if (!given)
    return { ok: false, code: "missing_credentials", message: "send an X-Signature header or a token parameter" };
  const list = typeof expected === "string" ? [expected] : expected;
  return list.some((e) => safeEqual(given, e))
    ? { ok: true, method: "token" }
    : { ok: false, code: "bad_token", message: "token does not match" };
}

/** Store platforms (Shopify, WooCommerce) send base64 HMAC-SHA256 of the raw body, without a timestamp. */
export function platformHmac(secret: string, body: string | Buffer): string {
  return createHmac("sha256", secret).update(body).digest("base64");
}

export function verifyPlatformHmac(
  header: string | undefined,
  headerName: string,
  secrets: readonly string[],
  body: Buffer,
): AuthResult {
  if (secrets.length === 0)
    return {
      ok: false,
      code: "platform_not_configured",
      message: "no webhook secret is set for this merchant and platform (postback-settings)",
    };
  if (!header) return { ok: false, code: "missing_signature", message: `the ${headerName} header is required` };
  if (!secrets.some((s) => safeEqual(platformHmac(s, body), header.trim())))
    return { ok: false, code: "bad_signature", message: `${headerName} does not match the body` };
  return { ok: true, method: "platform_hmac" };
}

/** An allowlist of addresses and CIDR blocks; an empty list allows everyone. */
export function ipAllowlist(rules: readonly string[]): (ip: string) => boolean {
  if (rules.length === 0) return () => true;
  const list = new BlockList();
  for (const rule of rules) {
    const [addr = "", bits] = rule.split("/");
    const type = isIPv4(addr) ? "ipv4" : "ipv6";
    if (bits === undefined) list.addAddress(addr, type);
    else list.addSubnet(addr, Number(bits), type);
  }
  return (ip) => {
    const plain = ip.startsWith("::ffff:") && isIPv4(ip.slice(7)) ? ip.slice(7) : ip;
    if (isIPv4(plain)) return list.check(plain, "ipv4");
    return isIPv6(plain) && list.check(plain, "ipv6");
  };
}
