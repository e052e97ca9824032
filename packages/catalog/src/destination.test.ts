import { describe, expect, it } from "vitest";
import { checkDestination, withClickId } from "./destination";

const allowed = ["shop.example.com", "example.org"];

describe("checkDestination", () => {
  it("accepts allowed hosts and their subdomains", () => {
    expect(checkDestination("https://shop.example.com/p/1?x=2", allowed).ok).toBe(true);
    expect(checkDestination("https://www.example.org/", allowed).ok).toBe(true);
  });

  it.each([
    ["javascript:alert(1)", /scheme/],
    ["data:text/html,hi", /scheme/],
    ["https://shop.example.com@evil.example/", /credentials/],
    ["https://user:pw@shop.example.com/", /credentials/],
    ["https://evil.example/?u=shop.example.com", /not on the campaign/],
    ["https://shop.example.com.evil.example/", /not on the campaign/],
    ["https://notexample.org/", /not on the campaign/],
    ["https://exаmple.org/", /not on the campaign/], // Cyrillic a: an IDN look-alike
    ["https://shop.example.com/\r\nSet-Cookie: x=1", /control/],
    ["//shop.example.com/", /absolute/],
    [`https://shop.example.com/${"a".repeat(3000)}`, /2048/], // a 3000-character path
  ])("refuses destination #%#", (dest, reason) => {
    const r = checkDestination(dest, allowed);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(reason);
  });

  it("appends the click id under the campaign's parameter", () => {
    expect(withClickId("https://shop.example.com/p?a=1", "click_id", "abc")).toBe(
      "https://shop.example.com/p?a=1&click_id=abc",
    );
  });
});
