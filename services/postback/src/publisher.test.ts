import type { Producer } from "@aff/kafka";
import { describe, expect, it } from "vitest";
import { createCoalescingPublisher } from "./publisher";

/** A producer whose sends complete when the test says so. */
function fakeProducer() {
  const sends: { size: number; done: (err?: Error) => void }[] = [];
  const producer = {
    send: ({ messages }: { messages: unknown[] }) =>
      new Promise((resolve, reject) => {
        sends.push({ size: messages.length, done: (err) => (err ? reject(err) : resolve([])) });
      }),
  } as unknown as Producer;
  return { producer, sends };
}
const msg = (key: string) => ({ key, value: key });
const tick = () => new Promise((r) => setImmediate(r));

describe("coalescing publisher", () => {
  it("sends the publishes of one turn together, what queued during a send as the next, each settled by its own send", async () => {
    const { producer, sends } = fakeProducer();
    const pub = createCoalescingPublisher(producer, "t", { maxBatchMessages: 100 });
    const settled: string[] = [];
    const first = ["a", "b"].map((k) => pub.publish([msg(k)]).then(() => settled.push(k)));
    expect(sends).toHaveLength(0);
    await tick();
    expect(sends.map((s) => s.size)).toEqual([2]);
    const rest = ["c", "d", "e"].map((k) => pub.publish([msg(k)]).then(() => settled.push(k)));
    await tick();
    expect(sends.map((s) => s.size)).toEqual([2]);
    sends[0]?.done();
    await Promise.all(first);
    expect(settled).toEqual(["a", "b"]);
    await tick();
    expect(sends.map((s) => s.size)).toEqual([2, 3]);
    sends[1]?.done();
    await Promise.all(rest);
    expect(settled).toEqual(["a", "b", "c", "d", "e"]);
  });

  it("fails exactly the callers of a failed send and keeps going", async () => {
    const { producer, sends } = fakeProducer();
    const pub = createCoalescingPublisher(producer, "t", { maxBatchMessages: 2 });
    const a = pub.publish([msg("a")]);
    await tick();
    const b = pub.publish([msg("b")]);
    const c = pub.publish([msg("c"), msg("d")]);
    await tick();
    sends[0]?.done(new Error("broker away"));
    await expect(a).rejects.toThrow("broker away");
    await tick();
    // b and c do not fit one send of 2 messages: b goes alone, then c.
    expect(sends.map((s) => s.size)).toEqual([1, 1]);
    sends[1]?.done();
    await expect(b).resolves.toBeUndefined();
    await tick();
    sends[2]?.done();
    await expect(c).resolves.toBeUndefined();
  });
});
