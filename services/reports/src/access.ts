import { type Catalog, type Principal, resolverWithBootstrap } from "@aff/catalog";

/** The bootstrap finance key from config, or a hashed key from the catalog. */
export const resolveKey = (catalog: Catalog, bootstrapFinanceKey: string) =>
  resolverWithBootstrap(catalog.apiKeys, bootstrapFinanceKey, "finance", "REPORTS_API_KEY");

export type Scope = { merchantId?: number; influencerId?: number };
export type ScopeResult = { ok: true; scope: Scope } | { ok: false; field: string; message: string };

/**
 * Narrows a request's filters to what the caller may see: admin and finance see everything, a merchant key only
 * its merchant's rows, an influencer key only its own. Asking for someone else's figures is a 403, not an empty 200.
 */
export function applyScope(p: Principal, asked: { merchant_id?: number; influencer_id?: number }): ScopeResult {
  if (p.role === "merchant") {
    if (asked.merchant_id !== undefined && asked.merchant_id !== p.merchant_id)
      return { ok: false, field: "merchant_id", message: "a merchant key sees only its own merchant" };
    return { ok: true, scope: { merchantId: p.merchant_id, influencerId: asked.influencer_id } };
  }
  if (p.role === "influencer") {
    if (asked.influencer_id !== undefined && asked.influencer_id !== p.influencer_id)
      return { ok: false, field: "influencer_id", message: "an influencer key sees only its own figures" };
    return { ok: true, scope: { merchantId: asked.merchant_id, influencerId: p.influencer_id } };
  }
  return { ok: true, scope: { merchantId: asked.merchant_id, influencerId: asked.influencer_id } };
}

export const canManage = (p: Principal): boolean => p.role === "admin" || p.role === "finance";
