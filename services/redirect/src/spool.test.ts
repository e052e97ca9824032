import { mkdtempSync } from "node:fs";
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
});
