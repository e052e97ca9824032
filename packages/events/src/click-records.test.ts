import { describe, expect, it } from "vitest";
import { packClickLines, splitClickRecord } from "./click-records";

const line = (i: number, pad = 50) => JSON.stringify({ click_id: `id-${i}`, ua: "é".repeat(pad) });

describe("click records", () => {
  it("packs lines into records under the byte bound and splits them back in order", () => {
    const lines = Array.from({ length: 1_000 }, (_, i) => line(i));
    const records = packClickLines(lines, 10_000);
    expect(records.length).toBeGreaterThan(10);
    for (const r of records) expect(Buffer.byteLength(r)).toBeLessThanOrEqual(10_000);
    const back = records.flatMap((r) => splitClickRecord(Buffer.from(r)).map((b) => b.toString()));
    expect(back).toEqual(lines);
  });

  it("sends a line longer than the bound alone rather than dropping it", () => {
    const long = line(1, 5_000);
    expect(packClickLines([line(0), long, line(2)], 1_000)).toEqual([line(0), long, line(2)]);
  });

  it("reads a record of one click without a newline (every record before packing) and skips empty lines", () => {
    expect(splitClickRecord(Buffer.from(line(7))).map(String)).toEqual([line(7)]);
    expect(splitClickRecord(Buffer.from(`\n${line(1)}\n\n${line(2)}\n`)).map(String)).toEqual([line(1), line(2)]);
    expect(splitClickRecord(Buffer.alloc(0))).toEqual([]);
  });
});
