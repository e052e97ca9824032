import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { parseConfig } from "./config";
import { clientAddress, parseProxyTrust, proxyEnv, trustPredicate } from "./proxy";

const loadTestConfig = (env: Record<string, string>) => parseConfig("test", z.object(proxyEnv), env);

const req = (remote: string, xff?: string) =>
  ({
    socket: { remoteAddress: remote },
    connection: { remoteAddress: remote },
    headers: xff === undefined ? {} : { "x-forwarded-for": xff },
  }) as unknown as IncomingMessage;

describe("proxy trust", () => {
  it("answers unknown for a socket the client already closed (no remote address left)", () => {
    expect(clientAddress(req(undefined as unknown as string), trustPredicate(false))).toBe("");
  });

  it("ignores X-Forwarded-For unless a proxy is trusted", () => {
    expect(clientAddress(req("203.0.113.9", "198.51.100.1"), trustPredicate(false))).toBe("203.0.113.9");
  });

  it("never takes the left-most entry a client wrote: one trusted hop reads the entry our proxy appended", () => {
    // the client sent "X-Forwarded-For: 10.1.1.1" itself; HAProxy (127.0.0.1) appended the real address
    const r = req("127.0.0.1", "10.1.1.1, 203.0.113.7");
    expect(clientAddress(r, trustPredicate(1))).toBe("203.0.113.7");
    expect(clientAddress(r, trustPredicate(["127.0.0.1"]))).toBe("203.0.113.7");
  });

  it("walks through trusted CIDRs only, and a spoofer outside them is the client", () => {
    const trust = trustPredicate(["127.0.0.1", "10.0.0.0/8"]);
    expect(clientAddress(req("127.0.0.1", "203.0.113.7, 10.0.0.5"), trust)).toBe("203.0.113.7");
    expect(clientAddress(req("198.51.100.4", "10.1.1.1"), trust)).toBe("198.51.100.4");
  });

  it("answers unknown, never the header's text, when the entry is not an address", () => {
    expect(clientAddress(req("127.0.0.1", "<script>, 1.2.3.4"), trustPredicate(2))).toBe("");
    expect(clientAddress(req("::ffff:127.0.0.1"), trustPredicate(false))).toBe("127.0.0.1");
  });

  it("refuses 'true' and malformed lists at boot with the accepted forms", () => {
    expect(parseProxyTrust("true")).toBeInstanceOf(Error);
    expect(parseProxyTrust("10.0.0.0/33")).toBeInstanceOf(Error);
    expect(parseProxyTrust("1")).toBe(1);
    expect(parseProxyTrust("false")).toBe(false);
    expect(parseProxyTrust("127.0.0.1, ::1, 10.0.0.0/8")).toEqual(["127.0.0.1", "::1", "10.0.0.0/8"]);
    expect(() => loadTestConfig({ TRUST_PROXY: "true" })).toThrow(/TRUST_PROXY/);
  });
});
