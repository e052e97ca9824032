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

/** Decimal strings as scaled BigInts with a common scale; undefined when one is not a plain decimal. */
function scaled(values: readonly string[]): { ints: bigint[]; scale: number } | undefined {
  const scale = Math.max(...values.map((v) => v.trim().split(".")[1]?.length ?? 0));
  const ints: bigint[] = [];
  for (const v of values) {
    const m = /^(\d+)(?:\.(\d+))?$/.exec(v.trim());
    if (!m) return undefined;
    ints.push(BigInt((m[1] ?? "") + (m[2] ?? "").padEnd(scale, "0")));
  }
  return { ints, scale };
}

/**
 * The net sale: the total less shipping and tax, exactly, as a decimal string; undefined when the platform sent
 * neither (nothing to take off), a value is malformed, or the result would be negative.
 */
export function netOfShippingAndTax(total: string, deductions: readonly (string | undefined)[]): string | undefined {
  const sent = deductions.filter((d): d is string => d !== undefined && d.trim() !== "");
  if (sent.length === 0) return undefined;
  const s = scaled([total, ...sent]);
  if (!s) return undefined;
  const [first = 0n, ...rest] = s.ints;
  const net = rest.reduce((acc, d) => acc - d, first);
  if (net < 0n) return undefined;
  const digits = net.toString().padStart(s.scale + 1, "0");
  return s.scale === 0 ? digits : `${digits.slice(0, -s.scale)}.${digits.slice(-s.scale)}`;
}
