import { describe, expect, it } from "vitest";
import {
  ConversionEvent,
  isCleanText,
  MAX_AHEAD_MS,
  MAX_AMOUNT_MINOR,
  MAX_BACKDATE_MS,
  MAX_RECEIVED_AT_MS,
  MIN_RECEIVED_AT_MS,
  StoredConversionEvent,
  TEXT_MAX,
} from "./index";

const NOW = Date.UTC(2026, 10, 27, 12);
const sale = (over: Record<string, unknown> = {}) => ({
  v: 1,
  event_id: "0123456789abcdef0123456789abcdef",
  conversion_id: "fedcba9876543210fedcba9876543210",
  merchant_id: 7,
  order_id: "A-1",
  type: "sale",
  amount_minor: 1999,
  currency: "USD",
  occurred_at_ms: NOW,
  received_at_ms: NOW,
  ...over,
});
const paths = (input: unknown) => {
  const r = ConversionEvent.safeParse(input);
  return r.success ? [] : [...new Set(r.error.issues.map((i) => i.path.join(".")))].sort();
};

describe("ConversionEvent bounds", () => {
  it("takes an ordinary sale", () => {
    expect(paths(sale())).toEqual([]);
  });
  it("keeps occurred_at_ms inside the window around receipt", () => {
    expect(paths(sale({ occurred_at_ms: NOW - MAX_BACKDATE_MS }))).toEqual([]);
    expect(paths(sale({ occurred_at_ms: NOW - MAX_BACKDATE_MS - 1 }))).toEqual(["occurred_at_ms"]);
    expect(paths(sale({ occurred_at_ms: NOW + MAX_AHEAD_MS }))).toEqual([]);
    expect(paths(sale({ occurred_at_ms: NOW + MAX_AHEAD_MS + 1 }))).toEqual(["occurred_at_ms"]);
    // the issue's poison message: a year-285,000 date that made toISOString throw in the worker
    expect(paths(sale({ occurred_at_ms: 9_000_000_000_000_000 }))).toEqual(["occurred_at_ms"]);
    expect(paths(sale({ occurred_at_ms: NOW + 0.5 }))).toEqual(["occurred_at_ms"]);
  });
  it("keeps received_at_ms inside 2000..2100, so every derived time is a valid date", () => {
    const at = (t: number) => sale({ occurred_at_ms: t, received_at_ms: t });
    expect(paths(at(MIN_RECEIVED_AT_MS))).toEqual([]);
    expect(paths(at(MAX_RECEIVED_AT_MS))).toEqual([]);
    expect(paths(at(MIN_RECEIVED_AT_MS - 1))).toEqual(["received_at_ms"]);
    expect(paths(at(MAX_RECEIVED_AT_MS + 1))).toEqual(["received_at_ms"]);
    expect(() => new Date(MAX_RECEIVED_AT_MS + MAX_AHEAD_MS + 365 * 86_400_000).toISOString()).not.toThrow();
  });
  it("bounds amounts to integers in 0..MAX_AMOUNT_MINOR, and requires what the books need", () => {
    expect(paths(sale({ amount_minor: MAX_AMOUNT_MINOR }))).toEqual([]);
    expect(paths(sale({ amount_minor: MAX_AMOUNT_MINOR + 1 }))).toEqual(["amount_minor"]);
    expect(paths(sale({ amount_minor: 9_007_199_254_740_991 }))).toEqual(["amount_minor"]);
    expect(paths(sale({ amount_minor: -1 }))).toEqual(["amount_minor"]);
    expect(paths(sale({ amount_minor: 1.5 }))).toEqual(["amount_minor"]);
    expect(paths(sale({ amount_minor: undefined }))).toEqual(["amount_minor"]);
    expect(paths(sale({ currency: undefined }))).toEqual(["currency"]);
    expect(paths(sale({ type: "refund", amount_minor: 0 }))).toEqual(["amount_minor"]);
    expect(paths(sale({ type: "approve", amount_minor: undefined, currency: undefined }))).toEqual([]);
    // 900 maximal amounts still sum exactly as a double (and Int64 holds about 900,000)
    expect(BigInt(MAX_AMOUNT_MINOR) * 900n < BigInt(Number.MAX_SAFE_INTEGER)).toBe(true);
  });
  it("bounds every string and refuses control characters", () => {
    expect(paths(sale({ order_id: "x".repeat(TEXT_MAX.order_id) }))).toEqual([]);
    expect(paths(sale({ order_id: "x".repeat(TEXT_MAX.order_id + 1) }))).toEqual(["order_id"]);
    expect(paths(sale({ order_id: "" }))).toEqual(["order_id"]);
    expect(paths(sale({ reason: "r".repeat(TEXT_MAX.reason + 1) }))).toEqual(["reason"]);
    expect(paths(sale({ change_id: "c".repeat(TEXT_MAX.change_id + 1) }))).toEqual(["change_id"]);
    expect(paths(sale({ coupon_code: "c".repeat(TEXT_MAX.coupon_code + 1) }))).toEqual(["coupon_code"]);
    expect(paths(sale({ click_id: "c".repeat(TEXT_MAX.click_id + 1) }))).toEqual(["click_id"]);
    expect(paths(sale({ subs: { sub2: "s".repeat(TEXT_MAX.sub + 1) } }))).toEqual(["subs.sub2"]);
    expect(paths(sale({ order_id: "A\u0000-1" }))).toEqual(["order_id"]);
    expect(paths(sale({ subs: { sub1: "ig\u202Eevil" } }))).toEqual(["subs.sub1"]);
    expect(paths(sale({ event_id: "0123456789ABCDEF0123456789ABCDEF" }))).toEqual(["event_id"]);
  });
  it("tells clean text from control characters, bidi overrides and lone surrogates", () => {
    for (const ok of ["Ünïcødé 注文 🛒", "a b", "€100"]) expect(isCleanText(ok)).toBe(true);
    for (const bad of ["a\u0000", "a\nb", "\u0085", "\u007F", "a\u2028b", "\u2066x", "\uD800", "x\uDC00"])
      expect(isCleanText(bad)).toBe(false);
  });
  it("re-reads stored events under the rules they were accepted with, so tighter intake never changes the books", () => {
    const older = sale({
      order_id: "A\u0001-legacy",
      amount_minor: MAX_AMOUNT_MINOR * 2,
      occurred_at_ms: NOW - 2 * MAX_BACKDATE_MS,
      event_id: "0123456789ABCDEF0123456789ABCDEF",
    });
    expect(paths(older)).toEqual(["amount_minor", "event_id", "occurred_at_ms", "order_id"]);
    expect(StoredConversionEvent.safeParse(older).success).toBe(true);
    expect(StoredConversionEvent.safeParse({ ...older, order_id: "x".repeat(TEXT_MAX.order_id + 1) }).success).toBe(
      false,
    );
  });
});
