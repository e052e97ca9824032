import { afterEach, describe, expect, it } from "vitest";
import { logProcessWarnings } from "./main";

describe("logProcessWarnings", () => {
  const before = process.listeners("warning");
  afterEach(() => {
    process.removeAllListeners("warning");
    for (const l of before) process.on("warning", l);
  });

  it("logs each process warning as one node_warning line and nothing else handles it", async () => {
    const lines: unknown[][] = [];
    logProcessWarnings({ warn: (...args: unknown[]) => void lines.push(args) } as never);
    expect(process.listenerCount("warning")).toBe(1);
    process.emitWarning("-17 is a negative number.", "TimeoutNegativeWarning");
    await new Promise((r) => setImmediate(r));
    expect(lines).toEqual([
      [{ warning: "TimeoutNegativeWarning", detail: "-17 is a negative number." }, "node_warning"],
    ]);
  });
});
