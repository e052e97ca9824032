import { z } from "zod";

/** What a platform webhook means for us: postback fields to validate like any postback, or nothing to do. */
export type PlatformResult =
  | { kind: "events"; events: Record<string, unknown>[] }
  | { kind: "ignored"; reason: string }
  | { kind: "unsupported"; message: string };

/**
 * Platform ids can exceed 2^53 (Shopify's own samples do), and JSON.parse would silently round them. Integers of
 * 16 digits or more that are the value of an `id`-like key are turned into strings before parsing.
 */
export function parseJsonKeepingIds(raw: string): unknown {
  return JSON.parse(raw.replace(/("(?:[a-z_]*_)?id"\s*:\s*)(-?\d{16,})(?=\s*[,}\]])/g, '$1"$2"'));
}

/** A numeric id or its string form, as text. */
export const IdText = z
  .union([z.number().int().min(0).max(Number.MAX_SAFE_INTEGER), z.string().regex(/^\d{1,32}$/)])
  .transform(String);

/** The first non-empty value of `names` in a list of name/value pairs (note attributes, meta data). */
export function attribute(
  list: { name?: unknown; key?: unknown; value?: unknown }[] | undefined,
  names: readonly string[],
): string | undefined {
  for (const n of names) {
    const hit = list?.find((a) => (a.name ?? a.key) === n && typeof a.value === "string" && a.value.trim() !== "");
    if (hit) return String(hit.value).trim();
  }
  return undefined;
}

export const CLICK_ID_NAMES = ["click_id", "aff_click_id", "transaction_id"] as const;

/** "0", "0.00", "-0.0": a refund of nothing, which the books refuse (it moves no money, so it is no event). */
export const isZeroDecimal = (v: string): boolean => /^-?0*(?:\.0*)?$/.test(v.trim()) && /\d/.test(v);
