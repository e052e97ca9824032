import { describe, expect, it } from "vitest";
import { bucketOf } from "../aggregates";
import { groupStartsSec, type Tile, tilePeriod } from "./tiles";

const at = (s: string) => Date.parse(s);
const iso = (sec: number) => new Date(sec * 1000).toISOString().slice(0, 16);
const show = (tiles: Tile[]) => tiles.map((t) => `${t.grain} ${iso(t.fromSec)}..${iso(t.toSec)}`);

/** Runs contiguous over the period, aligned to their grain, and every group start on a bucket start of its run. */
function expectTiling(tiles: Tile[], fromMs: number, toMs: number, starts: number[]) {
  let t = fromMs / 1000;
  for (const tile of tiles) {
    expect(tile.fromSec).toBe(t);
    expect(bucketOf(tile.grain, tile.fromSec).start).toBe(tile.fromSec);
    expect(bucketOf(tile.grain, tile.toSec).start).toBe(tile.toSec);
    t = tile.toSec;
  }
  expect(t).toBe(toMs / 1000);
  for (const s of starts) {
    const tile = tiles.find((x) => x.fromSec <= s && s < x.toSec);
    expect(tile && bucketOf(tile.grain, s).start).toBe(s);
  }
}

describe("tilePeriod", () => {
  it("covers a UTC month by influencer with one month bucket", () => {
    expect(show(tilePeriod("influencer", "UTC", at("2026-02-01T00:00Z"), at("2026-03-01T00:00Z")))).toEqual([
      "month 2026-02-01T00:00..2026-03-01T00:00",
    ]);
  });

  it("covers a Berlin month by day with one run of hours (no UTC day lies inside a Berlin day)", () => {
    const from = at("2026-01-31T23:00Z");
    const to = at("2026-02-28T23:00Z");
    expect(show(tilePeriod("day", "Europe/Berlin", from, to))).toEqual(["hour 2026-01-31T23:00..2026-02-28T23:00"]);
  });

  it("covers a Berlin month by influencer with an hour, UTC days and hours", () => {
    expect(show(tilePeriod("merchant", "Europe/Berlin", at("2026-01-31T23:00Z"), at("2026-02-28T23:00Z")))).toEqual([
      "hour 2026-01-31T23:00..2026-02-01T00:00",
      "day 2026-02-01T00:00..2026-02-28T00:00",
      "hour 2026-02-28T00:00..2026-02-28T23:00",
    ]);
  });

  it("cuts Kolkata days at half past the hour with quarter hours", () => {
    const from = at("2026-03-09T18:30Z");
    const to = at("2026-03-11T18:30Z");
    const starts = groupStartsSec("day", "Asia/Kolkata", from, to);
    expect(starts.map(iso)).toEqual(["2026-03-10T18:30"]);
    const tiles = tilePeriod("day", "Asia/Kolkata", from, to);
    expect(show(tiles)).toEqual([
      "q15 2026-03-09T18:30..2026-03-09T19:00",
      "hour 2026-03-09T19:00..2026-03-10T18:00",
      "q15 2026-03-10T18:00..2026-03-10T19:00",
      "hour 2026-03-10T19:00..2026-03-11T18:00",
      "q15 2026-03-11T18:00..2026-03-11T18:30",
    ]);
    expectTiling(tiles, from, to, starts);
  });

  it("tiles a year by week in Eucla and by month in New York, across DST changes", () => {
    for (const [groupBy, tz] of [
      ["week", "Australia/Eucla"],
      ["month", "America/New_York"],
      ["day", "Asia/Kathmandu"],
    ] as const) {
      const from = at("2026-01-01T00:00Z");
      const to = at("2027-01-01T00:00Z");
      expectTiling(tilePeriod(groupBy, tz, from, to), from, to, groupStartsSec(groupBy, tz, from, to));
    }
  });
});
