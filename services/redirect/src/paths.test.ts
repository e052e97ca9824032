import { isReservedAlias, LinkInput, RESERVED_ALIAS_WORDS } from "@aff/catalog";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isAppPath } from "./paths";

const accepted = (alias: string) => LinkInput.safeParse({ campaign_id: 1, influencer_id: 1, alias }).success;
const codeChars = fc.constantFrom(..."abcxyzAPIHealthzMetricsReadyz019-_".split(""));

describe("public paths", () => {
  it("sends the API and /healthz to Express", () => {
    for (const url of ["/api", "/api/links", "/api?x=1", "/healthz", "/healthz?probe=1"])
      expect(isAppPath(url)).toBe(true);
  });

  it("reaches every alias the catalog accepts, including near misses of service paths", () => {
    for (const alias of ["healthzz", "apiary", "metricsx", "ready", "apix-1"]) {
      expect(accepted(alias)).toBe(true);
      expect(isAppPath(`/${alias}`)).toBe(false);
    }
    const nearMiss = fc
      .tuple(fc.constantFrom("", ...RESERVED_ALIAS_WORDS), fc.string({ unit: codeChars, maxLength: 12 }))
      .map(([word, rest]) => `${word}${rest}`);
    fc.assert(
      fc.property(nearMiss, (alias) => {
        if (accepted(alias)) expect(isAppPath(`/${alias}`), alias).toBe(false);
      }),
      { numRuns: 2_000 },
    );
  });

  it("refuses aliases that read like service paths", () => {
    for (const alias of ["api", "API", "healthz", "readyz", "metrics", "metrics-x", "api.v2", "healthz_1", "robots"]) {
      expect(isReservedAlias(alias)).toBe(true);
      const parsed = LinkInput.safeParse({ campaign_id: 1, influencer_id: 1, alias });
      expect(parsed.success).toBe(false);
      expect(parsed.error?.issues[0]?.path).toEqual(["alias"]);
    }
  });
});
