import { acceptedCredentials, type Catalog, type Merchant } from "@aff/catalog";
import { ApiError, errorMessage, type Logger, normalizeIp, validationError } from "@aff/common";
import { LRUCache } from "lru-cache";
import { type AuthResult, ipAllowlist, verifySignature, verifyToken } from "./auth";
import type { PostbackConfig } from "./config";
import { MerchantId } from "./input";
import type { Signature } from "./intake";
import type { Ask } from "./routing";

export type Caller = { merchant: Merchant; signature?: Signature };
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
    return { merchant, signature: auth.mac ? { merchantId: merchant.id, mac: auth.mac } : undefined };
  };

  /** X-Signature over the raw body; without one, the token when the route takes tokens (`false`: it does not). */
  const signedOrToken =
    (req: Ask, tokenAllowed: string | undefined | false): Verify =>
    (m) => {
      const creds = acceptedCredentials(m, Date.now());
      const header = req.get("x-signature");
      const raw = req.rawBody ?? Buffer.alloc(0);
      if (header) return verifySignature(header, creds.secrets, raw, Date.now(), config.SIGNATURE_TOLERANCE_S);
      if (tokenAllowed === false)
        return { ok: false, code: "missing_signature", message: "this endpoint requires an X-Signature header" };
      return verifyToken(tokenAllowed, creds.tokens);
    };

  return { authenticate, signedOrToken };
}
export type Authenticator = ReturnType<typeof createAuthenticator>;
