import { describe, expect, it } from "vitest";
import { rateBound, rateBoundLowerIsBetter, rateBps, shrunkEpc, wilsonLower, wilsonUpper } from "./score-math";

describe("wilsonLower", () => {
  it("matches the Wilson score interval computed by hand", () => {
    // p = 0.5, n = 2: (0.5 + 1.9208/2 - 1.96 * sqrt(0.125 + 0.2401)) / (1 + 1.9208) = 0.0945
    expect(wilsonLower(1, 2)).toBeCloseTo(0.0945, 4);
    // p = 0.03, n = 10 000: 0.02682
    expect(wilsonLower(300, 10_000)).toBeCloseTo(0.02682, 4);
    expect(wilsonLower(0, 10)).toBe(0);
    expect(wilsonLower(0, 0)).toBe(0);
  });
  it("grows with the sample at the same rate and stays below it", () => {
    const bounds = [10, 100, 1_000, 10_000].map((n) => wilsonLower(n / 10, n));
    expect([...bounds].sort((a, b) => a - b)).toEqual(bounds);
    for (const b of bounds) expect(b).toBeLessThan(0.1);
  });
  it("has an upper end mirroring the lower one", () => {
    expect(wilsonUpper(1, 2)).toBeCloseTo(1 - 0.0945, 4);
    expect(wilsonUpper(0, 0)).toBe(1);
  });
});

describe("rateBound", () => {
  it("never ranks 1 of 2 (or 2 of 2) above 300 of 10 000, though Wilson alone would", () => {
    expect(wilsonLower(1, 2)).toBeGreaterThan(wilsonLower(300, 10_000));
    expect(rateBound(1, 2, 100)).toBeLessThan(rateBound(300, 10_000, 100));
    expect(rateBound(2, 2, 100)).toBeLessThan(rateBound(300, 10_000, 100));
    // hand-computed: Wilson lower of 1 in 102 = 0.00173; of 300 in 10 100 = 0.02655
    expect(rateBound(1, 2, 100)).toBeCloseTo(0.00173, 4);
    expect(rateBound(300, 10_000, 100)).toBeCloseTo(0.02655, 4);
  });
  it("caps successes at trials (coupon sales without a click cannot lift a click rate above 1)", () => {
    expect(rateBound(5, 2, 0)).toBe(wilsonLower(2, 2));
  });
  it("for lower-is-better rates, a small clean sample does not beat a large clean one", () => {
    expect(rateBoundLowerIsBetter(0, 2, 20)).toBeGreaterThan(rateBoundLowerIsBetter(5, 1_000, 20));
  });
});

describe("shrunkEpc and rateBps", () => {
  it("pulls small samples to the pool and keeps large ones", () => {
    expect(shrunkEpc(1_000, 1, 50, 200)).toBeCloseTo((1_000 + 200 * 50) / 201, 6);
    expect(shrunkEpc(100_000, 100_000, 50, 200)).toBeCloseTo(1.0978, 3);
    expect(shrunkEpc(0, 0, 0, 0)).toBe(0);
  });
  it("rounds basis points half away from zero", () => {
    expect(rateBps(1, 3)).toBe(3_333);
    expect(rateBps(2, 3)).toBe(6_667);
    expect(rateBps(1, 0)).toBeNull();
  });
});
