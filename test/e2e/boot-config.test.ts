import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { describe, expect, it } from "vitest";
import { DEV_SECRETS } from "../../packages/common/src";
import { REPO_ROOT } from "../../packages/testing/src";
import { loadConfig as postbackConfig } from "../../services/postback/src/config";

/** The secrets each service reads; postback reads none (merchant credentials live in the catalog). */
const SECRETS = {
  redirect: ["ADMIN_API_KEY", "CLICK_ID_SECRET"],
  attribution: ["CLICK_ID_SECRET"],
  reports: ["REPORTS_API_KEY"],
} as const;
type Secret = keyof typeof DEV_SECRETS;

const strong = () => randomBytes(32).toString("base64url");
/** Backends nobody listens on: a service that wrongly boots does not touch a real stack. */
const NOWHERE = {
  KAFKA_BROKERS: "127.0.0.1:9",
  REDIS_URL: "redis://127.0.0.1:9",
  CLICKHOUSE_URL: "http://127.0.0.1:9",
  PORT: "0",
};

/** Runs `node services/<svc>/dist/main.js`; resolves with its exit code and stderr, or "running" after 10 s. */
function boot(service: string, env: Record<string, string>): Promise<{ code: number | "running"; stderr: string }> {
  const main = path.join(REPO_ROOT, "services", service, "dist", "main.js");
  if (!existsSync(main)) throw new Error(`${main} is missing: run npx tsc -b first`);
  const child = spawn(process.execPath, [main], {
    env: { PATH: process.env.PATH ?? "", LOG_LEVEL: "warn", ...NOWHERE, ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      resolve({ code: "running", stderr });
    }, 10_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stderr });
    });
  });
}

const cases = Object.entries(SECRETS).flatMap(([service, names]) =>
  names.flatMap((name: Secret) => [
    { service, name, how: "missing", value: undefined },
    { service, name, how: "the development default", value: DEV_SECRETS[name] },
    { service, name, how: "31 characters", value: "s".repeat(31) },
  ]),
);

describe("boot in production", () => {
  it.each(cases)("$service refuses to start when $name is $how", async ({ service, name, value }) => {
    const env: Record<string, string> = { NODE_ENV: "production" };
    for (const other of SECRETS[service as keyof typeof SECRETS]) env[other] = strong();
    delete env[name];
    if (value !== undefined) env[name] = value;
    const { code, stderr } = await boot(service, env);
    expect(code).not.toBe(0);
    expect(code).not.toBe("running");
    expect(stderr).toContain(`${name}:`);
  });

  it("outside production boots with the development defaults and warns, naming them", async () => {
    const main = path.join(REPO_ROOT, "services", "redirect", "dist", "main.js");
    const child = spawn(process.execPath, [main], {
      env: { PATH: process.env.PATH ?? "", LOG_LEVEL: "warn", ...NOWHERE, OPS_PORT: "0" },
      stdio: ["ignore", "pipe", "ignore"],
    });
    const warning = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no warning in 10 s")), 10_000);
      createInterface({ input: child.stdout }).on("line", (line) => {
        if (!line.includes("dev_default_secrets_in_use")) return;
        clearTimeout(timer);
        resolve(line);
      });
      child.once("exit", (code) => reject(new Error(`exited with ${code}`)));
    }).finally(() => child.kill("SIGKILL"));
    expect(JSON.parse(warning).variables.sort()).toEqual(["ADMIN_API_KEY", "CLICK_ID_SECRET"]);
  });

  it("postback holds no secret with a development default", () => {
    const config = postbackConfig({ NODE_ENV: "production" });
    expect(Object.keys(config).filter((k) => Object.hasOwn(DEV_SECRETS, k))).toEqual([]);
  });
});
