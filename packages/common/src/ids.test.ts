import { describe, expect, it } from "vitest";
import { conversionId, deterministicId } from "./ids";

describe("derived ids", () => {
  it("stay the ids already published: a resend must map to the same conversion and event", () => {
    expect(deterministicId("conversion", 12, "A-1")).toBe("3540ec54a0b54ff96f41a086e859fc32");
    expect(conversionId(7, "ünï|cödé:1")).toBe("dae42e1eede9bba653b49f2a70cb75f3");
    expect(deterministicId("derived", "refund", 100, "")).toBe("cb3db14907b9b8013a0f3702a6fe91e9");
  });

  it("tell parts apart by their lengths, not by where a separator falls", () => {
    expect(deterministicId("a|1:b")).not.toBe(deterministicId("a", "b"));
    expect(deterministicId("ab", "c")).not.toBe(deterministicId("a", "bc"));
  });
});
