import { describe, expect, it } from "vitest";
import { exactJson } from "./json";

describe("exactJson", () => {
  it("writes bigints past 2^53 as exact JSON numbers and safe ones as before", () => {
    const text = exactJson({ a: 9_223_372_036_854_775_807n, b: -9_007_199_254_740_993n, c: 12n, d: "x", e: [1n] });
    expect(text).toBe('{"a":9223372036854775807,"b":-9007199254740993,"c":12,"d":"x","e":[1]}');
  });

  it("leaves strings that look like the marker alone", () => {
    expect(JSON.parse(exactJson({ s: "int:5" }))).toEqual({ s: "int:5" });
  });
});
