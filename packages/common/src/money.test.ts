import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { applyBasisPoints, currencyExponent, formatMinor, isCurrency, parseDecimalToMinor } from "./money";

describe("money", () => {
  it("knows currency exponents", () => {
    expect(currencyExponent("USD")).toBe(2);
    expect(currencyExponent("JPY")).toBe(0);
    expect(currencyExponent("BHD")).toBe(3);
    expect(isCurrency("usd")).toBe(false);
    expect(isCurrency("XYZ")).toBe(false);
    expect(() => currencyExponent("XYZ")).toThrow(/unknown currency/);
  });

  it("formats minor units exactly", () => {
    expect(formatMinor(123456, "USD")).toBe("1234.56");
    expect(formatMinor(-5, "EUR")).toBe("-0.05");
    expect(formatMinor(0, "EUR")).toBe("0.00");
    expect(formatMinor(7, "JPY")).toBe("7");
    expect(formatMinor(1, "BHD")).toBe("0.001");
  });

  it("parses decimals exactly and refuses extra precision", () => {
    expect(parseDecimalToMinor("12.5", "USD")).toBe(1250);
    expect(parseDecimalToMinor("0.10", "EUR")).toBe(10);
    expect(parseDecimalToMinor("100", "JPY")).toBe(100);
    expect(() => parseDecimalToMinor("1.234", "USD")).toThrow(/2 decimal places/);
    expect(() => parseDecimalToMinor("1e5", "USD")).toThrow(/not a decimal/);
    expect(() => parseDecimalToMinor("99999999999999999", "USD")).toThrow();
  });

  it("round-trips format and parse for any amount", () => {
    fc.assert(
      fc.property(fc.integer({ min: -1e15, max: 1e15 }), fc.constantFrom("USD", "JPY", "BHD", "EUR"), (minor, cur) => {
        expect(parseDecimalToMinor(formatMinor(minor, cur), cur)).toBe(minor);
      }),
    );
  });

  it("applies basis points rounding half away from zero", () => {
    expect(applyBasisPoints(1999, 250)).toBe(50); // 49.975
    expect(applyBasisPoints(1000, 1000)).toBe(100);
    expect(applyBasisPoints(1, 5000)).toBe(1); // 0.5 -> 1
    expect(applyBasisPoints(-1, 5000)).toBe(-1);
    expect(applyBasisPoints(3, 1000)).toBe(0); // 0.3 -> 0
  });
});
