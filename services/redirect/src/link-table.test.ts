import { describe, expect, it } from "vitest";
import { type LinkEntry, LinkTable } from "./link-table";

const entry = (i: number, path = `/p/${i}?ref=x&click_id=`): LinkEntry => ({
  linkId: i + 1,
  influencerId: (i % 7) + 1,
  expiresAtMs: i % 3 === 0 ? 0 : 1_700_000_000_000 + i,
  routeIndex: i % 5,
  path,
});
const code = (i: number) => `c${String(i).padStart(7, "0")}`;

describe("LinkTable", () => {
  it("holds every entry it is given, through the table's growth, across many arena chunks", () => {
    const t = new LinkTable(Number.POSITIVE_INFINITY, 64 * 1024);
    for (let i = 0; i < 50_000; i++) t.set(code(i), entry(i));
    expect(t.size).toBe(50_000);
    for (let i = 0; i < 50_000; i += 997) expect(t.get(code(i))).toEqual(entry(i));
    expect(t.get("c9999999")).toBeUndefined();
  });

  it("tells a link that must not redirect (null) from one it does not hold (undefined)", () => {
    const t = new LinkTable();
    t.set("revoked1", null);
    expect(t.get("revoked1")).toBeNull();
    expect(t.has("revoked1")).toBe(true);
    expect(t.get("absent1")).toBeUndefined();
  });

  it("replaces, deletes, and keeps non-ASCII paths intact", () => {
    const t = new LinkTable();
    t.set("abc", entry(1));
    t.set("abc", entry(2, "/ü/ñ?x=%20&click_id="));
    expect(t.get("abc")).toEqual(entry(2, "/ü/ñ?x=%20&click_id="));
    t.delete("abc");
    expect(t.get("abc")).toBeUndefined();
    expect(t.size).toBe(0);
    t.set("abc", entry(3));
    expect(t.get("abc")).toEqual(entry(3));
  });

  it("never stores a code outside the link code alphabet", () => {
    const t = new LinkTable();
    t.set("ab", entry(1));
    t.set("a/b/c", entry(1));
    t.set("x".repeat(65), entry(1));
    expect(t.size).toBe(0);
  });

  it("writes nothing when the same record is set again (the periodic resync)", () => {
    const t = new LinkTable();
    for (let i = 0; i < 1_000; i++) t.set(code(i), entry(i));
    const bytes = t.arenaBytes;
    for (let i = 0; i < 1_000; i++) t.set(code(i), entry(i));
    expect(t.arenaBytes).toBe(bytes);
  });

  it("compacts dead records away, chunk by chunk, and keeps every live one readable", () => {
    const t = new LinkTable(Number.POSITIVE_INFINITY, 64 * 1024);
    const n = 20_000;
    // ~100-byte records rewritten 20 times: 40 MB written, well past the compaction threshold
    for (let round = 0; round < 20; round++)
      for (let i = 0; i < n; i++) t.set(code(i), entry(i, `/p/${i}/${round}?ref=${"r".repeat(40)}&click_id=`));
    for (let i = 0; i < n; i++) t.delete(code(i + n));
    expect(t.size).toBe(n);
    expect(t.arenaBytes).toBeLessThan(3 * n * 130);
    for (let i = 0; i < n; i++) expect(t.get(code(i))?.path).toBe(`/p/${i}/19?ref=${"r".repeat(40)}&click_id=`);
  });

  it("past its bound, evicts entries not read recently and keeps those read", () => {
    const t = new LinkTable(1_000);
    for (let i = 0; i < 1_000; i++) t.set(code(i), entry(i));
    // Every entry starts referenced; one pass of the hand clears the bits, then reads mark the hot ones again.
    t.set(code(1_000), entry(1_000));
    for (let i = 0; i < 100; i++) t.get(code(i));
    for (let i = 1_001; i < 1_500; i++) t.set(code(i), entry(i));
    expect(t.size).toBe(1_000);
    for (let i = 0; i < 100; i++) expect(t.get(code(i))).toEqual(entry(i));
  });
});
