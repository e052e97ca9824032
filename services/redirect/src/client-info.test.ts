import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import { botReason, truncateIp } from "./client-info";

const req = (method: string, headers: Record<string, string>) => ({ method, headers }) as unknown as IncomingMessage;

describe("truncateIp", () => {
  it.each([
    ["203.0.113.77", "203.0.113.0"],
    ["::ffff:198.51.100.9", "198.51.100.0"],
    ["2001:db8:abcd:12:1:2:3:4", "2001:db8:abcd::"],
    ["2001:db8::1", "2001:db8:0::"],
    ["::1", "0:0:0::"],
    ["not-an-ip", ""],
  ])("%s -> %s", (ip, out) => expect(truncateIp(ip)).toBe(out));
});

describe("botReason", () => {
  const chrome =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";
  it("lets a browser through", () => expect(botReason(req("GET", { "user-agent": chrome }))).toBeUndefined());
  it("flags HEAD", () => expect(botReason(req("HEAD", { "user-agent": chrome }))).toBe("head"));
  it("flags prefetch", () =>
    expect(botReason(req("GET", { "user-agent": chrome, "sec-purpose": "prefetch" }))).toBe("prefetch"));
  it("flags crawlers and link previews", () => {
    expect(botReason(req("GET", { "user-agent": "facebookexternalhit/1.1" }))).toBe("crawler");
    expect(botReason(req("GET", { "user-agent": "Slackbot-LinkExpanding 1.0" }))).toBe("crawler");
    expect(botReason(req("GET", { "user-agent": "Googlebot/2.1" }))).toBe("crawler");
  });
  it("flags a missing user agent", () => expect(botReason(req("GET", {}))).toBe("no_user_agent"));
});
