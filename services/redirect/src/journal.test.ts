import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createLogger } from "@aff/common";
import type { Producer } from "@aff/kafka";
import { describe, expect, it } from "vitest";
import { ClickPublisher } from "./click-publisher";
import { Journal } from "./journal";
import { Spool } from "./spool";

const fresh = () => mkdtempSync(path.join(tmpdir(), "journal-"));

/** Every line the spool would replay, in order. */
async function spooled(spool: Spool): Promise<string[]> {
  const lines: string[] = [];
  await spool.drain(async (chunk) => void lines.push(...chunk));
  return lines;
}

/** The journal's files' contents, in name order. */
const journalText = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.includes("journal"))
    .sort()
    .map((f) => readFileSync(path.join(dir, f), "utf8"));

describe("Journal", () => {
  it("gives a killed process's clicks to the next one through the spool, the sealed and the open file alike", async () => {
    const dir = fresh();
    const first = new Journal(dir, "c", 1 << 20);
    first.write(["a", "b"]);
    expect(first.seal()).toBeDefined();
    first.write(["c"]);
    // killed here: nothing released; the next process starts on the same folder
    const next = new Journal(dir, "c", 1 << 20);
    const spool = new Spool(dir, "c");
    expect(next.recover(spool)).toEqual({ written: 3, dropped: 0 });
    expect(journalText(dir)).toEqual(["", ""]);
    expect((await spooled(spool)).sort()).toEqual(["a", "b", "c"]);
    // recovered once: a second recovery finds nothing
    expect(new Journal(dir, "c", 1 << 20).recover(spool)).toEqual({ written: 0, dropped: 0 });
  });

  it("drops a last line the kill cut short (its answer was never written)", async () => {
    const dir = fresh();
    new Journal(dir, "c", 1 << 20).write(['{"click_id":"x"}']);
    appendFileSync(path.join(dir, "c.journal.0"), '{"click_');
    const spool = new Spool(dir, "c");
    new Journal(dir, "c", 1 << 20).recover(spool);
    expect(await spooled(spool)).toEqual(['{"click_id":"x"}']);
  });

  it("keeps one file sealed until it is released and emptied, so an outage grows one file, not one per flush", async () => {
    const dir = fresh();
    const journal = new Journal(dir, "c", 1 << 20);
    expect(journal.seal()).toBeUndefined(); // nothing written yet
    journal.write(["a"]);
    const sealed = journal.seal();
    journal.write(["b"]);
    expect(journal.seal()).toBe(sealed); // still waiting for its release: the other file goes on
    journal.write(["c"]);
    expect(journalText(dir)).toEqual(["a\n", "b\nc\n"]);
    journal.release(sealed ?? 0);
    expect(journal.seal()).toBeUndefined(); // not before the truncate is done
    await eventually(() => journal.size === 4);
    expect(journalText(dir)[0]).toBe("");
    const next = journal.seal();
    expect(next).toBeDefined();
    journal.write(["d"]); // back in the emptied file
    expect(journalText(dir)).toEqual(["d\n", "b\nc\n"]);
    journal.releaseAll();
    expect(journalText(dir)).toEqual(["", ""]);
    expect(journal.size).toBe(0);
  });

  it("writes nothing past its byte bound, and takes clicks again once a release frees room", async () => {
    const journal = new Journal(fresh(), "c", 8);
    expect(journal.write(["abc"])).toBe(true); // 4 bytes with its newline
    expect(journal.write(["def", "g"])).toBe(false); // 6 more would pass 8
    expect(journal.size).toBe(4);
    journal.release(journal.seal() ?? 0);
    await eventually(() => journal.size === 0);
    expect(journal.write(["def", "g"])).toBe(true);
  });

  it("refuses a write the disk refuses instead of throwing into the redirect", () => {
    const dir = fresh();
    const journal = new Journal(dir, "c", 1 << 20);
    mkdirSync(path.join(dir, "c.journal.0")); // where the clicks would go: opening it fails
    expect(journal.write(["a"])).toBe(false);
    expect(journal.size).toBe(0);
  });
});

/** Waits (up to a second) until `ok` holds. */
async function eventually(ok: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(ok()).toBe(true);
}

describe("ClickPublisher with a journal", () => {
  it("keeps every persisted click on disk until Kafka acknowledged it, and releases it then", async () => {
    const dir = fresh();
    const sent: string[] = [];
    let broker: "down" | "up" = "down";
    const producer = {
      connect: async () => undefined,
      disconnect: async () => undefined,
      send: async (req: { messages: { value: string }[] }) => {
        if (broker === "down") throw new Error("broker away");
        sent.push(...req.messages.flatMap((m) => m.value.split("\n")));
      },
    } as unknown as Producer;
    const journal = new Journal(dir, "c", 1 << 20);
    const publisher = new ClickPublisher({
      producer,
      topic: "t",
      spool: new Spool(dir, "c"),
      journal,
      log: createLogger("test", "silent"),
      batchMax: 100,
      flushMs: 60_000,
      queueMax: 1000,
    });
    publisher.publishSerialized('{"click_id":"id-1"}');
    publisher.persist(); // its 302 may be written now
    await publisher.flush({ tick: true }); // the broker refuses it
    publisher.publishSerialized('{"click_id":"id-2"}');
    publisher.persist();
    // a process killed now leaves both to the next one
    const recovered = new Spool(fresh(), "r");
    const copy = fresh();
    for (const f of readdirSync(dir).filter((f) => f.includes("journal")))
      copyFileSync(path.join(dir, f), path.join(copy, f));
    new Journal(copy, "c", 1 << 20).recover(recovered);
    expect((await spooled(recovered)).sort()).toEqual(['{"click_id":"id-1"}', '{"click_id":"id-2"}']);

    broker = "up";
    await publisher.flush({ tick: true }); // sends both; the sealed file (id-1) is emptied
    expect(sent).toEqual(['{"click_id":"id-1"}', '{"click_id":"id-2"}']);
    await eventually(() => journal.size === '{"click_id":"id-2"}\n'.length); // the emptying is done
    expect(journalText(dir).sort()).toEqual(["", '{"click_id":"id-2"}\n']);
    await publisher.flush({ tick: true }); // seals the file holding id-2; nothing is left to send, so it is emptied
    await eventually(() => journal.size === 0);
    expect(journalText(dir)).toEqual(["", ""]);
    await publisher.stop(50);
  });
});
