import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createTestWorld, type TestWorld } from "../../packages/testing/src";
import { PostbackGuard } from "../../services/postback/src/guard";

let world: TestWorld;
let redis: TestWorld["catalog"]["redis"];
let guard: PostbackGuard;
let pipelines = 0;

beforeAll(async () => {
  world = await createTestWorld(inject("stack"), "postback_guard");
  redis = world.catalog.redis.duplicate();
  // counts the writes the guard makes: one pipeline per event-loop turn
  const pipeline = redis.pipeline.bind(redis);
  redis.pipeline = ((...args: Parameters<typeof pipeline>) => {
    pipelines += 1;
    return pipeline(...args);
  }) as typeof redis.pipeline;
  guard = new PostbackGuard(redis, `${world.id}:`, { replayTtlS: 60, saleTtlS: 60, deliveryTtlS: 60 });
});
afterAll(async () => {
  redis?.disconnect();
  await world?.close();
});

const sig = (mac: string) => ({ merchantId: 7, mac });
const sale = (event_id: string) => ({ event_id, received_at_ms: 1_000, currency: "USD" });

describe("postback guard, one Redis write per event-loop turn", () => {
  it("claims the requests of one turn together, each with its own answer: a signature twice is fresh once", async () => {
    const before = pipelines;
    const [a, again, b, unsigned] = await Promise.all([
      guard.claim(sig("a"), ["c1"]),
      guard.claim(sig("a"), ["c1"]),
      guard.claim(sig("b"), ["c2"], ["e1"]),
      guard.claim(undefined, ["c1", "c2"]),
    ]);
    expect(pipelines - before).toBe(1);
    expect(a).toEqual({ fresh: true, sales: [undefined], events: [] });
    expect(again).toEqual({ fresh: false, sales: [undefined], events: [] });
    expect(b).toEqual({ fresh: true, sales: [undefined], events: [undefined] });
    expect(unsigned).toEqual({ fresh: true, sales: [undefined, undefined], events: [] });
    expect((await guard.claim(sig("b"), ["c2"])).fresh).toBe(false);
  });

  it("writes markers before the claims of the same turn, keeps the first marker, and reads nothing for a replay", async () => {
    const before = pipelines;
    const [, seen] = await Promise.all([
      guard.recordAcknowledged(
        [{ conversionId: "c3", sale: sale("first") }],
        [{ eventId: "e3", event: { received_at_ms: 5 } }],
      ),
      guard.claim(sig("c"), ["c3"], ["e3"]),
    ]);
    expect(pipelines - before).toBe(1);
    expect(seen).toEqual({ fresh: true, sales: [sale("first")], events: [{ received_at_ms: 5 }] });
    await guard.recordAcknowledged([{ conversionId: "c3", sale: sale("second") }]);
    expect(await guard.claim(sig("d"), ["c3"])).toEqual({ fresh: true, sales: [sale("first")], events: [] });
    expect(await guard.claim(sig("d"), ["c3"], ["e3"])).toEqual({
      fresh: false,
      sales: [undefined],
      events: [undefined],
    });
  });

  it("a signature released after a failed send can be claimed again", async () => {
    expect((await guard.claim(sig("e"), ["c4"])).fresh).toBe(true);
    await guard.release(sig("e"));
    expect((await guard.claim(sig("e"), ["c4"])).fresh).toBe(true);
  });
});
