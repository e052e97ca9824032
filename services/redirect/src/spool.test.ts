import { closeSync, mkdtempSync, openSync, readdirSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { Spool } from "./spool";

describe("Spool", () => {
  it("returns appended lines in order and empties itself", async () => {
    const spool = new Spool(mkdtempSync(path.join(tmpdir(), "spool-")), "clicks");
    spool.append(["a", "b"]);
    spool.append(["c"]);
    const seen: string[] = [];
    expect(await spool.drain(async (l) => void seen.push(...l), 2)).toBe(3);
    expect(seen).toEqual(["a", "b", "c"]);
    expect(spool.hasData).toBe(false);
  });

  it("keeps lines when sending fails, and accepts new lines meanwhile", async () => {
    const spool = new Spool(mkdtempSync(path.join(tmpdir(), "spool-")), "clicks");
    spool.append(["a"]);
    await expect(
      spool.drain(async () => {
        spool.append(["b"]);
        throw new Error("kafka down");
      }),
    ).rejects.toThrow("kafka down");
    const seen: string[] = [];
    await spool.drain(async (l) => void seen.push(...l));
    await spool.drain(async (l) => void seen.push(...l));
    expect(seen).toEqual(["a", "b"]);
    expect(spool.hasData).toBe(false);
  });

  it("does not resend the chunks acknowledged before a failure", async () => {
    const spool = new Spool(mkdtempSync(path.join(tmpdir(), "spool-")), "clicks");
    spool.append(["a", "b", "c"]);
    const seen: string[] = [];
    let calls = 0;
    const flaky = async (l: string[]) => {
      if (++calls === 2) throw new Error("kafka down");
      seen.push(...l);
    };
    await expect(spool.drain(flaky, 1)).rejects.toThrow("kafka down");
    await spool.drain(flaky, 1);
    expect(seen).toEqual(["a", "b", "c"]);
  });

  it("keeps what fits under its byte limit and reports the rest as dropped", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "spool-"));
    const spool = new Spool(dir, "clicks", 10);
    expect(spool.append(["aaaa", "bbbb", "cccc"])).toEqual({ written: 2, dropped: 1 });
    expect(spool.size).toBe(10);
    expect(spool.append(["d"])).toEqual({ written: 0, dropped: 1 });
    // The limit counts what is on disk across restarts, and draining frees it.
    expect(new Spool(dir, "clicks", 10).size).toBe(10);
    const seen: string[] = [];
    await spool.drain(async (l) => void seen.push(...l));
    expect(seen).toEqual(["aaaa", "bbbb"]);
    expect(spool.size).toBe(0);
    expect(spool.append(["eeee"])).toEqual({ written: 1, dropped: 0 });
  });

  it("streams the file: lines after the first chunk are read after that chunk was sent", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "spool-"));
    const spool = new Spool(dir, "clicks");
    const line = (i: number) => `{"n":${String(i).padStart(8, "0")},"pad":"${"x".repeat(100)}"}`;
    const lines = Array.from({ length: 20_000 }, (_, i) => line(i)); // ~2.4 MB, far beyond one read buffer
    spool.append(lines);
    const seen: string[] = [];
    await spool.drain(async (chunk) => {
      if (seen.length === 0) {
        // Rewrite the last line on disk, same length: a reader that loaded the whole file first cannot see this.
        const fd = openSync(path.join(dir, "clicks.draining.jsonl"), "r+");
        const last = line(19_999);
        writeSync(fd, last.replace("x", "y"), (lines.length - 1) * (last.length + 1));
        closeSync(fd);
      }
      seen.push(...chunk);
    }, 1_000);
    expect(seen).toHaveLength(20_000);
    expect(seen.at(-1)).toBe(line(19_999).replace("x", "y"));
  });

  it("resumes an interrupted drain after the last acknowledged chunk, even in a new process", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "spool-"));
    new Spool(dir, "clicks").append(["a", "b", "c", "d"]);
    const seen: string[] = [];
    let calls = 0;
    await expect(
      new Spool(dir, "clicks").drain(async (l) => {
        if (++calls === 2) throw new Error("kafka down");
        seen.push(...l);
      }, 2),
    ).rejects.toThrow("kafka down");
    const restarted = new Spool(dir, "clicks");
    expect(restarted.size).toBe(4); // "c\nd\n" left
    await restarted.drain(async (l) => void seen.push(...l), 2);
    expect(seen).toEqual(["a", "b", "c", "d"]);
    expect(readdirSync(dir)).toEqual([]);
  });
});
