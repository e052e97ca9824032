import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { toDateTimeText } from "./time";

describe("toDateTimeText", () => {
  it("formats any instant from 1970 to 2105 as toISOString does, in any order of days", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Date.UTC(2105, 11, 31, 23, 59, 59, 999) }), (ms) => {
        expect(toDateTimeText(ms)).toBe(new Date(ms).toISOString().slice(0, 19).replace("T", " "));
      }),
      { numRuns: 5_000 },
    );
  });

  it("throws a RangeError for a time that is not one", () => {
    expect(() => toDateTimeText(Number.NaN)).toThrow(RangeError);
    expect(() => toDateTimeText(9_000_000_000_000_000)).toThrow(RangeError);
  });
});
