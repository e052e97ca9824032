/**
 * Money is integer minor units plus an ISO 4217 code; never a float.
 * Currency exponents come from the ICU data built into Node (Intl), not from a hand-kept table.
 */

const supported = new Set(Intl.supportedValuesOf("currency"));
const exponents = new Map<string, number>();

export function isCurrency(code: string): boolean {
  return /^[A-Z]{3}$/.test(code) && supported.has(code);
}

/** Number of minor-unit digits (USD 2, JPY 0, BHD 3). Throws for an unknown code. */
export function currencyExponent(code: string): number {
  const cached = exponents.get(code);
  if (cached !== undefined) return cached;
  if (!isCurrency(code)) throw new RangeError(`unknown currency ${JSON.stringify(code)}`);
  const digits =
    new Intl.NumberFormat("en", { style: "currency", currency: code }).resolvedOptions().maximumFractionDigits ?? 2;
  exponents.set(code, digits);
  return digits;
}

/** Minor units as a plain decimal string: (123456, "USD") -> "1234.56", (-5, "EUR") -> "-0.05", (7, "JPY") -> "7". */
export function formatMinor(amountMinor: number | bigint, currency: string): string {
  const exp = currencyExponent(currency);
  const v = BigInt(amountMinor);
  const neg = v < 0n;
  const digits = (neg ? -v : v).toString().padStart(exp + 1, "0");
  const whole = digits.slice(0, digits.length - exp);
  const frac = exp > 0 ? `.${digits.slice(digits.length - exp)}` : "";
  return `${neg ? "-" : ""}${whole}${frac}`;
}

/** Exact decimal string to minor units ("12.5", "USD") -> 1250. Rejects more decimals than the currency has. */
export function parseDecimalToMinor(decimal: string, currency: string): number {
  const exp = currencyExponent(currency);
  const m = /^(-?)(\d{1,16})(?:\.(\d+))?$/.exec(decimal.trim());
  if (!m) throw new RangeError(`not a decimal amount: ${JSON.stringify(decimal)}`);
  const [, sign, whole = "0", frac = ""] = m;
  if (frac.length > exp) throw new RangeError(`${currency} has ${exp} decimal places, got ${frac.length}`);
  const minor = BigInt(whole + frac.padEnd(exp, "0")) * (sign === "-" ? -1n : 1n);
  if (minor > BigInt(Number.MAX_SAFE_INTEGER) || minor < BigInt(Number.MIN_SAFE_INTEGER))
    throw new RangeError("amount beyond safe integer range");
  return Number(minor);
}

/** Divide rounding half away from zero (the rule used for every commission). */
export function divRoundHalfAway(numerator: bigint, denominator: bigint): bigint {
  const neg = numerator < 0n !== denominator < 0n;
  const n = numerator < 0n ? -numerator : numerator;
  const d = denominator < 0n ? -denominator : denominator;
  const q = (n * 2n + d) / (2n * d);
  return neg ? -q : q;
}

/** amount x basis points / 10 000, rounded half away from zero. 250 bps of 1999 = 49.975 -> 50. */
export function applyBasisPoints(amountMinor: number, bps: number): number {
  return Number(divRoundHalfAway(BigInt(amountMinor) * BigInt(bps), 10_000n));
}
