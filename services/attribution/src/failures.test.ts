import { AppError } from "@aff/common";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { classifyFailure, clickHouseFailure, redisFailure, runIsolating } from "./failures";

/** Errors exactly as @clickhouse/client raises them against ClickHouse 18.16 (captured from the test stack). */
const chError = (text: string) => new Error(`Code: ${text}, e.what() = DB::Exception\n`);
const cannotParse = chError(
  '27, e.displayText() = DB::Exception: Cannot parse input: expected , before: e+21,"f":"USD"',
);
const tooLarge = chError("131, e.displayText() = DB::Exception: Too large value for FixedString(3): (at row 1)");
const tooManyParts = chError("252, e.displayText() = DB::Exception: Too many parts (300). Merges are processing");
const tooManyPartitions = chError(
  "252, e.displayText() = DB::Exception: Too many partitions for single INSERT block (more than 100)",
);
const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" });
/** the 25.x client's shape: a code property */
const modern = Object.assign(new Error("Memory limit exceeded"), { code: "241", type: "MEMORY_LIMIT_EXCEEDED" });

describe("classifyFailure", () => {
  it("calls ClickHouse refusing our rows not transient, and an unreachable or overloaded ClickHouse transient", () => {
    const wrapped = (err: Error) => new AppError("clickhouse_error", err.message, { retryable: true, cause: err });
    expect(classifyFailure(clickHouseFailure("insert", wrapped(cannotParse)))).toMatchObject({
      transient: false,
      reasonClass: "clickhouse_rejected",
    });
    expect(classifyFailure(clickHouseFailure("insert", tooLarge)).transient).toBe(false);
    expect(classifyFailure(clickHouseFailure("insert", tooManyPartitions)).transient).toBe(false);
    expect(classifyFailure(clickHouseFailure("insert", new z.ZodError([]))).transient).toBe(false);
    for (const outage of [tooManyParts, refused, modern, new Error("Timeout error."), wrapped(refused)])
      expect(classifyFailure(clickHouseFailure("insert", outage))).toMatchObject({
        transient: true,
        reasonClass: "clickhouse_unavailable",
      });
  });

  it("calls Redis failures transient and exceptions of our own code not transient", () => {
    expect(classifyFailure(redisFailure("getCampaign", new Error("Connection is closed.")))).toMatchObject({
      transient: true,
      reasonClass: "redis_unavailable",
    });
    let thrown: unknown;
    try {
      new Date(9_000_000_000_000_000).toISOString();
    } catch (err) {
      thrown = err;
    }
    expect(classifyFailure(thrown)).toMatchObject({ transient: false, reasonClass: "range_error" });
    expect(classifyFailure(new z.ZodError([])).reasonClass).toBe("schema_error");
    expect(classifyFailure("a string").transient).toBe(false);
  });
});

describe("runIsolating", () => {
  const poisonRun = (poison: Set<number>, seen: number[][]) => async (items: readonly number[]) => {
    seen.push([...items]);
    if (items.some((i) => poison.has(i))) throw new RangeError("poison");
  };

  it("pins every non-transient failure to its item and runs the rest in order", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.boolean(), { minLength: 1, maxLength: 64 }), async (flags) => {
        const items = flags.map((_, i) => i);
        const poison = new Set(items.filter((i) => flags[i]));
        const seen: number[][] = [];
        const isolated = await runIsolating(items, poisonRun(poison, seen));
        expect(isolated.map((i) => i.item)).toEqual([...poison]);
        // every good item was part of a run that succeeded, and runs go in item order
        const succeeded = seen.filter((run) => !run.some((i) => poison.has(i))).flat();
        expect(succeeded).toEqual(items.filter((i) => !poison.has(i)));
      }),
    );
  });

  it("lets a transient failure through, so the whole batch is retried", async () => {
    const outage = redisFailure("rateAt", new Error("Connection is closed."));
    await expect(
      runIsolating([1, 2, 3], async (items) => {
        if (items.length < 3) throw outage;
        throw new RangeError("poison");
      }),
    ).rejects.toBe(outage);
  });
});
