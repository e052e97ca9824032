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
    const pub = createCoalescingPublisher(producer, "t", { maxBatchMessages: 100, timeoutMs: 10_000 });
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
    const pub = createCoalescingPublisher(producer, "t", { maxBatchMessages: 2, timeoutMs: 10_000 });
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

  it("rejects each caller not acknowledged within the timeout, in flight or queued behind a stuck send, and no sooner", async () => {
    const { producer, sends } = fakeProducer();
    const pub = createCoalescingPublisher(producer, "t", { maxBatchMessages: 100, timeoutMs: 400 });
    const outcome = (p: Promise<void>) =>
      p.then(
        () => "acked",
        (err: Error) => err.message,
      );
    const a = outcome(pub.publish([msg("a")]));
    await tick();
    expect(sends).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 100));
    const b = outcome(pub.publish([msg("b")]));
    expect(await Promise.race([a, new Promise((r) => setTimeout(() => r("waiting"), 20))])).toBe("waiting");
    expect(await a).toBe("no acknowledgement within 400 ms");
    expect(await Promise.race([b, new Promise((r) => setTimeout(() => r("waiting"), 10))])).toBe("waiting");
    expect(await b).toBe("no acknowledgement within 400 ms");
    // the stuck send returns at last: what queued behind it still goes out, and a new caller is answered by its send
    sends[0]?.done();
    await tick();
    await tick();
    expect(sends.map((s) => s.size)).toEqual([1, 1]);
    const c = outcome(pub.publish([msg("c")]));
    sends[1]?.done();
    await tick();
    await tick();
    expect(sends.map((s) => s.size)).toEqual([1, 1, 1]);
    sends[2]?.done();
    expect(await c).toBe("acked");
  });
});
