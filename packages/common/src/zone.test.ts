import { describe, expect, it } from "vitest";
import { isTimeZone, offsetsAreMultiplesOf, zonedTimeToUtcMs, zoneOffsetMs } from "./zone";

const local = (s: string) => Date.parse(`${s}Z`);
const iso = (ms: number) => new Date(ms).toISOString();

describe("zones", () => {
  it("knows IANA names and UTC, and nothing else", () => {
    expect(isTimeZone("Europe/Berlin")).toBe(true);
    expect(isTimeZone("UTC")).toBe(true);
    expect(isTimeZone("Mars/Olympus")).toBe(false);
    expect(isTimeZone("Europe/Berlin'")).toBe(false);
  });

  it("turns local midnight into the UTC instant, across DST changes", () => {
    expect(iso(zonedTimeToUtcMs(local("2026-03-11T00:00:00"), "Europe/Berlin"))).toBe("2026-03-10T23:00:00.000Z");
    expect(iso(zonedTimeToUtcMs(local("2026-04-01T00:00:00"), "Europe/Berlin"))).toBe("2026-03-31T22:00:00.000Z");
    expect(iso(zonedTimeToUtcMs(local("2026-03-10T00:00:00"), "America/New_York"))).toBe("2026-03-10T04:00:00.000Z");
    expect(iso(zonedTimeToUtcMs(local("2026-03-10T00:00:00"), "Asia/Kolkata"))).toBe("2026-03-09T18:30:00.000Z");
    expect(iso(zonedTimeToUtcMs(local("2026-03-10T00:00:00"), "UTC"))).toBe("2026-03-10T00:00:00.000Z");
  });

  it("picks the instant after a skipped local time (spring forward)", () => {
    // 02:30 does not exist in Berlin on 2026-03-29; the clock jumps from 02:00 to 03:00 (01:00Z).
    expect(iso(zonedTimeToUtcMs(local("2026-03-29T02:30:00"), "Europe/Berlin"))).toBe("2026-03-29T01:30:00.000Z");
    expect(zoneOffsetMs(Date.parse("2026-07-01T00:00:00Z"), "Europe/Berlin")).toBe(7_200_000);
  });
});

describe("offsetsAreMultiplesOf", () => {
  const year = [Date.UTC(2026, 0, 1), Date.UTC(2027, 0, 1)] as const;
  it("accepts 15-minute zones and tells whole-hour zones apart", () => {
    for (const tz of ["UTC", "Europe/Berlin", "Asia/Kolkata", "Asia/Kathmandu", "Australia/Eucla", "America/St_Johns"])
      expect(offsetsAreMultiplesOf(tz, ...year, 900_000)).toBe(true);
    expect(offsetsAreMultiplesOf("Europe/Berlin", ...year, 3_600_000)).toBe(true);
    expect(offsetsAreMultiplesOf("Asia/Kolkata", ...year, 3_600_000)).toBe(false);
  });

  it("refuses local mean time offsets of the 19th century", () => {
    expect(offsetsAreMultiplesOf("Asia/Kolkata", Date.UTC(1870, 0, 1), Date.UTC(1870, 1, 1), 900_000)).toBe(false);
  });
});

describe("isTimeZone", () => {
  it("accepts current IANA names that Intl lists under an older canonical name", () => {
    for (const tz of ["Asia/Kolkata", "Asia/Kathmandu", "Europe/Kyiv", "America/Argentina/Buenos_Aires"])
      expect(isTimeZone(tz)).toBe(true);
    for (const tz of ["Mars/Olympus", "asia/kolkata", "Asia/Kolkata'", "../etc/passwd", ""])
      expect(isTimeZone(tz)).toBe(false);
  });
});
