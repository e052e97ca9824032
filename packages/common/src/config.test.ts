import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ConfigError, DEV_SECRETS, devSecretsInUse, parseConfig, secretsEnv } from "./config";

const Schema = z.object({ ...secretsEnv });
const strong = "x".repeat(32);

function issuesOf(env: Record<string, string>): string[] {
  try {
    parseConfig("svc", Schema, env);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
}

describe("secrets in production", () => {
  it("refuses a missing secret, the development default and a short one, naming the variable", () => {
    for (const env of [
      { NODE_ENV: "production" },
      { NODE_ENV: "production", CLICK_ID_SECRET: DEV_SECRETS.CLICK_ID_SECRET },
      { NODE_ENV: "production", CLICK_ID_SECRET: "x".repeat(31) },
    ]) {
      const issues = issuesOf(env);
      expect(issues).toHaveLength(1);
      expect(issues[0]).toMatch(/^CLICK_ID_SECRET: /);
    }
  });

  it("accepts a strong secret in production", () => {
    expect(parseConfig("svc", Schema, { NODE_ENV: "production", CLICK_ID_SECRET: strong }).CLICK_ID_SECRET).toBe(
      strong,
    );
  });

  it("keeps the development defaults usable outside production, and reports them for the boot warning", () => {
    const config = parseConfig("svc", Schema, {});
    expect(config.CLICK_ID_SECRET).toBe(DEV_SECRETS.CLICK_ID_SECRET);
    expect(devSecretsInUse(config)).toEqual(["CLICK_ID_SECRET"]);
    expect(devSecretsInUse(parseConfig("svc", Schema, { CLICK_ID_SECRET: strong }))).toEqual([]);
  });
});
