import { acceptedCredentials, type Catalog, type Merchant } from "@aff/catalog";
import { ApiError, errorMessage, type Logger, normalizeIp, validationError } from "@aff/common";
import { LRUCache } from "lru-cache";
import { type AuthMethod, type AuthResult, ipAllowlist, verifySignature, verifyToken } from "./auth";
import type { PostbackConfig } from "./config";
import { MerchantId } from "./input";
import type { Signature } from "./intake";
import type { Ask } from "./routing";

export type Caller = { merchant: Merchant; method: AuthMethod; signature?: Signature };
export type Verify = (m: Merchant) => AuthResult;

/**
 * Who is asking: the merchant (cached for MERCHANT_CACHE_TTL_MS), its IP allowlist, then the credentials the route
 * accepts. Every refusal is an ApiError.
 */
export function createAuthenticator(
  config: Pick<PostbackConfig, "MERCHANT_CACHE_TTL_MS" | "SIGNATURE_TOLERANCE_S">,
  deps: { catalog: Catalog; log: Logger },
) {
  const merchants = new LRUCache<number, Merchant>({ max: 10_000, ttl: Math.max(1, config.MERCHANT_CACHE_TTL_MS) });
  const allowlists = new WeakMap<Merchant, (ip: string) => boolean>();
  const getMerchant = async (id: number) => {
    const hit = merchants.get(id);
    if (hit) return hit;
    const m = await deps.catalog.getMerchant(id);
    if (m) merchants.set(id, m);
    return m;
  };

  /** Finds the merchant and checks its IP allowlist; `verify` then checks the credentials the route accepts. */
  const authenticate = async (req: Ask, rawId: unknown, verify: Verify): Promise<Caller> => {
    const id = MerchantId.safeParse(rawId);
    if (!id.success) throw validationError(id.error, "merchant_id");
    let merchant: Merchant | undefined;
    try {
      merchant = await getMerchant(id.data);
    } catch (err) {
      deps.log.warn({ err: errorMessage(err) }, "merchant_lookup_failed");
      throw new ApiError("catalog_unavailable", "retry shortly");
    }
    if (!merchant) throw new ApiError("unknown_merchant", `merchant ${id.data} does not exist`);
    const allowed = allowlists.get(merchant) ?? ipAllowlist(merchant.ip_allowlist);
    allowlists.set(merchant, allowed);
    if (!allowed(normalizeIp(req.ip ?? "")))
      throw new ApiError("ip_not_allowed", `address ${req.ip} is not on the merchant's allowlist`);
    const auth = verify(merchant);
    if (!auth.ok) throw new ApiError(auth.code, auth.message);
    const signature = auth.mac ? { merchantId: merchant.id, mac: auth.mac } : undefined;
    return { merchant, method: auth.method, signature };
  };

  const now = () => Date.now();
  /** X-Signature over the bytes a request signs: its raw body, or a GET's canonical query. */
  const signature =
    (header: string, signed: Buffer): Verify =>
    (m) =>
      verifySignature(header, acceptedCredentials(m, now()).secrets, signed, now(), config.SIGNATURE_TOLERANCE_S);
  /** A shared token (weaker: it travels in URLs and logs, and it signs nothing). */
  const token =
    (given: string | undefined): Verify =>
    (m) =>
      verifyToken(given, acceptedCredentials(m, now()).tokens);
  const signatureRequired: Verify = () => ({
    ok: false,
    code: "missing_signature",
    message: "this endpoint requires an X-Signature header",
  });

  /** X-Signature over the raw body, with the query string refused; undefined when the request is not signed. */
  const bodySignature = (req: Ask): Verify | undefined => {
    const header = req.get("x-signature");
    if (!header) return undefined;
    refuseUnsignedQuery(req);
    return signature(header, req.rawBody ?? Buffer.alloc(0));
  };

  return { authenticate, signature, bodySignature, token, signatureRequired };
}
export type Authenticator = ReturnType<typeof createAuthenticator>;

/**
 * On a body-signed request the query string is outside the signed bytes: any field there is refused, naming it,
 * instead of being read (a signed sale must not become an approval through `?type=approve`).
 */
export function refuseUnsignedQuery(req: Ask): void {
  const keys = Object.keys(req.query && typeof req.query === "object" ? req.query : {});
  if (keys.length === 0) return;
  throw new ApiError("validation_failed", "fields outside the signed body", {
    issues: keys.slice(0, 20).map((k) => ({
      path: k.slice(0, 128),
      message: "is in the query string, which the signature does not cover; send it in the signed body",
      code: "unsigned_field",
    })),
  });
}

/**
 * The merchant a request claims: X-Merchant-Id or the `merchant_id` field. When both are sent they must agree, so a
 * header cannot move a signed event to another merchant (the header picks the secret the signature is checked with).
 */
export function claimedMerchant(req: Ask, fields: Record<string, unknown>): unknown {
  const header = req.get("x-merchant-id");
  const own = Object.hasOwn(fields, "merchant_id") ? fields.merchant_id : undefined;
  if (header === undefined || header === "") return own;
  if (own !== undefined && String(own).trim() !== header.trim())
    throw new ApiError("validation_failed", "merchant_id and X-Merchant-Id disagree", {
      issues: [{ path: "merchant_id", message: "differs from the X-Merchant-Id header", code: "custom" }],
    });
  return header;
}
