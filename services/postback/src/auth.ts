import { createHmac, timingSafeEqual } from "node:crypto";

export type AuthResult = { ok: true; method: "signature" | "token" } | { ok: false; code: string; message: string };

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>` */
export function signBody(secret: string, body: string | Buffer, unixSeconds: number): string {
  const mac = createHmac("sha256", secret).update(`${unixSeconds}.`).update(body).digest("hex");
  return `t=${unixSeconds},v1=${mac}`;
}

export function verifySignature(header: string, secret: string, body: Buffer, nowMs: number, toleranceS: number): AuthResult {
  const parts = Object.fromEntries(header.split(",").map((kv) => kv.trim().split("=", 2) as [string, string]));
  const t = Number(parts.t);
  if (!/^\d{1,12}$/.test(parts.t ?? "") || !/^[0-9a-f]{64}$/.test(parts.v1 ?? "")) return { ok: false, code: "bad_signature", message: "X-Signature must be t=<unix seconds>,v1=<64 hex>" };
  if (Math.abs(nowMs / 1000 - t) > toleranceS) return { ok: false, code: "stale_signature", message: `signature timestamp is more than ${toleranceS}s from now` };
  if (!safeEqual(signBody(secret, body, t).split("v1=")[1] ?? "", parts.v1 ?? "")) return { ok: false, code: "bad_signature", message: "signature does not match the body" };
  return { ok: true, method: "signature" };
}

/** A shared token, for pixel-style GET postbacks that cannot sign (weaker: it travels in URLs and logs). */
export function verifyToken(given: string | undefined, expected: string): AuthResult {
  if (!given) return { ok: false, code: "missing_credentials", message: "send an X-Signature header or a token parameter" };
  return safeEqual(given, expected) ? { ok: true, method: "token" } : { ok: false, code: "bad_token", message: "token does not match" };
}
