import { describe, expect, it } from "vitest";
import { tickBatcher } from "./tick-batch";

describe("tick batcher", () => {
  it("runs the calls of one event-loop turn as one batch, each caller getting its own answer", async () => {
    const runs: number[][] = [];
    const double = tickBatcher(async (items: number[]) => {
      runs.push(items);
      return items.map((n) => n * 2);
    });
    const first = await Promise.all([double(1), double(2), double(3)]);
    const second = await double(4);
    expect(first).toEqual([2, 4, 6]);
    expect(second).toBe(8);
    expect(runs).toEqual([[1, 2, 3], [4]]);
  });

  it("fails every caller of a failed batch, and only those", async () => {
    let fail = true;
    const echo = tickBatcher(async (items: string[]) => {
      if (fail) throw new Error("redis away");
      return items;
    });
    const failed = [echo("a"), echo("b")];
    await expect(Promise.all(failed)).rejects.toThrow("redis away");
    await expect(failed[1]).rejects.toThrow("redis away");
    fail = false;
    expect(await echo("c")).toBe("c");
  });

  it("fails the batch when the answer does not have one value per call", async () => {
    const short = tickBatcher(async (items: string[]) => items.slice(1));
    await expect(Promise.all([short("a"), short("b")])).rejects.toThrow("batch of 2 answered 1");
  });
});
