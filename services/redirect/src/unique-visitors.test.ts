import { describe, expect, it } from "vitest";
import { UniqueVisitors } from "./unique-visitors";

describe("UniqueVisitors", () => {
  it("says first visit once per link, address, user agent and hour", () => {
    const u = new UniqueVisitors(1_000);
    expect(u.firstVisit(1, "203.0.113.0", "UA", 10)).toBe(true);
    expect(u.firstVisit(1, "203.0.113.0", "UA", 10)).toBe(false);
    expect(u.firstVisit(2, "203.0.113.0", "UA", 10)).toBe(true);
    expect(u.firstVisit(1, "203.0.114.0", "UA", 10)).toBe(true);
    expect(u.firstVisit(1, "203.0.113.0", "UA2", 10)).toBe(true);
    expect(u.firstVisit(1, "203.0.113.0", "UA", 11)).toBe(true);
    // the boundary between address and user agent is part of the facts
    expect(u.firstVisit(3, "1.2.3.0a", "b", 1)).toBe(true);
    expect(u.firstVisit(3, "1.2.3.0", "ab", 1)).toBe(true);
  });

  it("remembers at least half its bound of the most recent visitors and forgets older ones", () => {
    const u = new UniqueVisitors(1_000);
    for (let i = 0; i < 2_000; i++) expect(u.firstVisit(i, "ip", "ua", 0)).toBe(true);
    for (let i = 1_500; i < 2_000; i++) expect(u.firstVisit(i, "ip", "ua", 0)).toBe(false);
    expect(u.firstVisit(0, "ip", "ua", 0)).toBe(true);
  });

  it("tells 100,000 distinct visitors apart", () => {
    const u = new UniqueVisitors(200_000);
    let first = 0;
    for (let i = 0; i < 100_000; i++) if (u.firstVisit(i % 1_000, `10.0.${i % 256}.0`, `UA ${i}`, 5)) first++;
    expect(first).toBe(100_000);
  });
});
