import { describe, expect, it } from "vitest";
import { Int64Sum, Int64Text } from "./int64";

describe("64-bit integers from ClickHouse JSON", () => {
  it("reads sums past 2^53 exactly as bigint", () => {
    expect(Int64Sum.parse("9223372036854775807")).toBe(9_223_372_036_854_775_807n);
    expect(Int64Sum.parse("-9007199254740993")).toBe(-9_007_199_254_740_993n);
    expect(Int64Sum.parse(42)).toBe(42n);
  });

  it("refuses text that is not an integer", () => {
    expect(Int64Sum.safeParse("1e3").success).toBe(false);
    expect(Int64Sum.safeParse("12.5").success).toBe(false);
  });

  it("keeps ids and offsets as safe numbers and refuses larger ones", () => {
    expect(Int64Text.parse("9007199254740991")).toBe(9_007_199_254_740_991);
    expect(Int64Text.safeParse("9007199254740993").success).toBe(false);
  });
});
