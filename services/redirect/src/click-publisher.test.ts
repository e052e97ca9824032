import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { createLogger, type Logger } from "@aff/common";
import type { Producer } from "@aff/kafka";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { ClickPublisher } from "./click-publisher";
import { Spool } from "./spool";

/** A producer whose broker never answers: connect hangs, as it does while Kafka is stopped. */
const unreachable = {
  connect: () => new Promise<void>(() => undefined),
  disconnect: async () => undefined,
  send: () => new Promise(() => undefined),
} as unknown as Producer;

describe("ClickPublisher", () => {
  it("spools at shutdown a batch that was waiting for the broker connection", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "clicks-"));
    const publisher = new ClickPublisher({
      producer: unreachable,
      topic: "t",
      spool: new Spool(dir, "c"),
      log: createLogger("test", "silent"),
      batchMax: 100,
      flushMs: 5,
      queueMax: 1000,
    });
    publisher.publishSerialized('{"click_id":"id-1"}');
    void publisher.flush(); // takes id-1 off the queue and waits on connect()
    publisher.publishSerialized('{"click_id":"id-2"}');
    await publisher.stop(50);
    expect(readFileSync(path.join(dir, "c.jsonl"), "utf8").trim().split("\n").sort()).toEqual([
      '{"click_id":"id-1"}',
      '{"click_id":"id-2"}',
    ]);
  });

  it("sends per timer tick what was queued when the tick began; a direct flush sends everything", async () => {
    // a broker that acknowledges when told to: the clicks read meanwhile wait for the next tick, not for their own request
    const sends: string[][] = [];
    let ack: () => void = () => undefined;
    const producer = {
      connect: async () => undefined,
      disconnect: async () => undefined,
      send: (req: { messages: { value: string }[] }) => {
        sends.push(req.messages.flatMap((m) => m.value.split("\n")));
        return new Promise<void>((resolve) => {
          ack = resolve;
        });
      },
    } as unknown as Producer;
    const publisher = new ClickPublisher({
      producer,
      topic: "t",
      spool: new Spool(mkdtempSync(path.join(tmpdir(), "clicks-")), "c"),
      log: createLogger("test", "silent"),
      batchMax: 2,
      flushMs: 60_000,
      queueMax: 1000,
    });
    const publish = (...ids: number[]) => {
      for (const id of ids) publisher.publishSerialized(`{"click_id":"id-${id}"}`);
    };
    /** acknowledges each request in turn until the flush is over */
    const settle = async (flush: Promise<void>) => {
      let over = false;
      void flush.then(() => {
        over = true;
      });
      while (!over) {
        await new Promise((r) => setImmediate(r));
        ack();
      }
    };
    publish(1, 2, 3);
    const tick = publisher.flush({ tick: true });
    publish(4); // read while the tick's first batch waits for the broker
    await settle(tick);
    // the tick sent at least the clicks queued when it began (in batches of up to batchMax) and no batch more
    expect(sends).toEqual([
      ['{"click_id":"id-1"}', '{"click_id":"id-2"}'],
      ['{"click_id":"id-3"}', '{"click_id":"id-4"}'],
    ]);
    publish(5);
    const next = publisher.flush({ tick: true });
    publish(6); // read while this tick's batch waits, less than a batch: left for the next tick
    await settle(next);
    expect(sends.slice(2)).toEqual([['{"click_id":"id-5"}']]);
    expect(publisher.depth).toBe(1);
    publish(7, 8);
    const tick2 = publisher.flush({ tick: true });
    publish(9, 10); // read while the first batch waits: sent in this tick as far as full batches go
    await settle(tick2);
    expect(sends.slice(3)).toEqual([
      ['{"click_id":"id-6"}', '{"click_id":"id-7"}'],
      ['{"click_id":"id-8"}', '{"click_id":"id-9"}'],
    ]);
    expect(publisher.depth).toBe(1);
    publish(11, 12);
    const drain = publisher.flush();
    await settle(drain);
    expect(sends.slice(5)).toEqual([['{"click_id":"id-10"}', '{"click_id":"id-11"}'], ['{"click_id":"id-12"}']]);
    expect(publisher.depth).toBe(0);
  });

  it("leaves the spool to the next process when a send still in flight at shutdown fails afterwards", async () => {
    // a client whose disconnect fails the sends in flight (as @platformatic/kafka's close does): the flush that then
    // ends must not start replaying the spool that stop() just wrote
    let failInflight: (err: Error) => void = () => undefined;
    const closing = {
      connect: async () => undefined,
      disconnect: async () => failInflight(new Error("client closed")),
      send: () =>
        new Promise((_resolve, reject) => {
          failInflight = reject;
        }),
    } as unknown as Producer;
    const dir = mkdtempSync(path.join(tmpdir(), "clicks-"));
    const publisher = new ClickPublisher({
      producer: closing,
      topic: "t",
      spool: new Spool(dir, "c"),
      log: createLogger("test", "silent"),
      batchMax: 100,
      flushMs: 5,
      queueMax: 1000,
    });
    publisher.publishSerialized('{"click_id":"id-1"}');
    void publisher.flush();
    await publisher.stop(50);
    await closing.disconnect();
    await publisher.flush();
    expect(readFileSync(path.join(dir, "c.jsonl"), "utf8").trim()).toBe('{"click_id":"id-1"}');
  });

  it("counts and logs clicks the full spool cannot take, once per episode, and says when it accepts again", async () => {
    const lines: { msg: string; dropped?: number }[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(JSON.parse(String(chunk)));
        done();
      },
    });
    const log = pino({ level: "info" }, sink) as unknown as Logger;
    const dir = mkdtempSync(path.join(tmpdir(), "clicks-"));
    let dropped = 0;
    let spooled = 0;
    let up = false;
    const producer = {
      connect: async () => {
        if (!up) throw new Error("broker away");
      },
      disconnect: async () => undefined,
      send: async () => undefined,
    } as unknown as Producer;
    const click = (i: number) => JSON.stringify({ click_id: `id-${i}`, pad: "x".repeat(80) });
    const publisher = new ClickPublisher({
      producer,
      topic: "t",
      spool: new Spool(dir, "c", 1_000), // room for about 10 clicks
      log,
      batchMax: 100,
      flushMs: 5,
      queueMax: 4,
      onSpooled: (n) => {
        spooled += n;
      },
      onDropped: (n) => {
        dropped += n;
      },
    });
    for (let i = 0; i < 40; i++) publisher.publishSerialized(click(i));
    expect(spooled + dropped + publisher.depth).toBe(40);
    expect(dropped).toBeGreaterThan(20);
    expect(lines.filter((l) => l.msg === "click_spool_full_dropping")).toHaveLength(1);

    up = true;
    await publisher.flush();
    expect(lines.find((l) => l.msg === "click_spool_accepting_again")?.dropped).toBe(dropped);
    await publisher.stop(50);
  });
});
