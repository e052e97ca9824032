import type { HourlyTouch } from "@aff/clickhouse";
import { describe, expect, it } from "vitest";
import { coalescingRebuild } from "./worker";

describe("coalescingRebuild", () => {
  it("runs one rebuild at a time with increasing versions, merging the keys of batches that wait", async () => {
    const calls: { keys: number[]; version: number }[] = [];
    let release: () => void = () => undefined;
    const rebuild = coalescingRebuild(async (touched: readonly HourlyTouch[], version: number) => {
      calls.push({ keys: touched.map((t) => t.campaignId), version });
      if (calls.length === 1) await new Promise<void>((r) => (release = r));
    });
    const first = rebuild([{ campaignId: 1, hourStartSec: 0 }]);
    await new Promise((r) => setTimeout(r, 0));
    const second = rebuild([{ campaignId: 2, hourStartSec: 0 }]);
    const third = rebuild([{ campaignId: 3, hourStartSec: 0 }]);
    expect(calls).toHaveLength(1);
    release();
    await Promise.all([first, second, third]);
    expect(calls.map((c) => c.keys)).toEqual([[1], [2, 3]]);
    expect(calls[1]?.version).toBeGreaterThan(calls[0]?.version ?? 0);
  });
});
