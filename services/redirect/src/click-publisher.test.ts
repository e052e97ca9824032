import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createLogger } from "@aff/common";
import type { Producer } from "@aff/kafka";
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
    publisher.publishSerialized(["id-1", '{"click_id":"id-1"}']);
    void publisher.flush(); // takes id-1 off the queue and waits on connect()
    publisher.publishSerialized(["id-2", '{"click_id":"id-2"}']);
    await publisher.stop(50);
    expect(readFileSync(path.join(dir, "c.jsonl"), "utf8").trim().split("\n").sort()).toEqual([
      '{"click_id":"id-1"}',
      '{"click_id":"id-2"}',
    ]);
  });
});
