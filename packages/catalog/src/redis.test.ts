import { describe, expect, it } from "vitest";
import { parseSentinels, sentinelOptions } from "./redis";

describe("Redis through Sentinel", () => {
  it("stays a plain URL connection without REDIS_SENTINELS", () => {
    expect(sentinelOptions({ REDIS_URL: "redis://127.0.0.1:16379/0", REDIS_SENTINELS: "" })).toBeUndefined();
    expect(sentinelOptions({ REDIS_URL: "redis://127.0.0.1:16379/0" })).toBeUndefined();
  });

  it("asks the Sentinels for the named primary, keeping the URL's database and password", () => {
    const o = sentinelOptions({
      REDIS_URL: "redis://:s%40cret@ignored:1/3",
      REDIS_SENTINELS: "127.0.0.1:20381, sentinel-b:26379",
      REDIS_SENTINEL_NAME: "aff",
    });
    expect(o).toMatchObject({
      sentinels: [
        { host: "127.0.0.1", port: 20381 },
        { host: "sentinel-b", port: 26379 },
      ],
      name: "aff",
      db: 3,
      password: "s@cret",
    });
    expect(o?.failoverDetector).toBeUndefined();
    expect(typeof o?.reconnectOnError === "function" && o.reconnectOnError(new Error("READONLY You can't write"))).toBe(
      true,
    );
  });

  it("parses host:port lists with spaces and a trailing comma", () => {
    expect(parseSentinels(" a:1 ,b:2,")).toEqual([
      { host: "a", port: 1 },
      { host: "b", port: 2 },
    ]);
  });
});
