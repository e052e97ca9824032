import { describe, expect, it } from "vitest";
import { convertMinor, FxRateInput } from "./fx";

describe("convertMinor", () => {
  it("converts exactly and rounds once, half away from zero", () => {
    expect(convertMinor(10_000, "EUR", "USD", "1.0825")).toBe(10_825);
    expect(convertMinor(1, "EUR", "USD", "1.5")).toBe(2);
    expect(convertMinor(1, "EUR", "USD", "1.4999999999")).toBe(1);
  });
  it("accounts for currency exponents", () => {
    expect(convertMinor(1_000, "USD", "JPY", "150.25")).toBe(1_503);
    expect(convertMinor(1_503, "JPY", "USD", "0.0066555")).toBe(1_000);
    expect(convertMinor(1_000, "USD", "BHD", "0.376")).toBe(3_760);
  });
  it("refuses rates that are not exact positive decimals", () => {
    for (const rate of ["1e3", "-1", "0", "1.12345678901", "abc"])
      expect(FxRateInput.safeParse({ from: "EUR", to: "USD", rate, effective_from_ms: 0 }).success).toBe(false);
  });
});
