import express from "express";
import { describe, expect, it } from "vitest";
import { ApiError, ERROR_STATUS, isErrorCode, sendError, toApiError } from "./api-error";
import { AppError } from "./errors";
import { errorHandler, listen, notFoundHandler } from "./http";
import { createLogger } from "./logger";

const sink = () => {
  const seen: { status?: number; body?: unknown; headers: Record<string, string> } = { headers: {} };
  return {
    seen,
    set: (k: string, v: string) => {
      seen.headers[k] = v;
    },
    status: (code: number) => ({
      json: (body: unknown) => {
        seen.status = code;
        seen.body = body;
      },
    }),
  };
};

describe("error catalogue", () => {
  it("answers every code with its status and one shape; 503 says when to retry", () => {
    for (const code of Object.keys(ERROR_STATUS)) {
      if (!isErrorCode(code)) throw new Error(code);
      const res = sink();
      sendError(res, code, "why", [{ path: "a.b", message: "why", code: "custom" }]);
      expect(res.seen.status).toBe(ERROR_STATUS[code]);
      expect(res.seen.body).toEqual({
        error: code,
        message: "why",
        issues: [{ path: "a.b", message: "why", code: "custom" }],
      });
      expect(res.seen.headers["Retry-After"]).toBe(ERROR_STATUS[code] === 503 ? "5" : undefined);
    }
  });

  it("does not take inherited names for codes", () => {
    expect(isErrorCode("constructor")).toBe(false);
    expect(isErrorCode("__proto__")).toBe(false);
    expect(isErrorCode("toString")).toBe(false);
  });

  it("keeps a lower layer's catalogue code and field, and leaves other errors to be a 500", () => {
    const known = toApiError(new AppError("conflict", "taken", { context: { path: "alias" } }));
    expect(known?.status).toBe(409);
    expect(known?.issues).toEqual([{ path: "alias", message: "taken", code: "conflict" }]);
    expect(toApiError(new AppError("clickhouse_error", "boom"))).toBeUndefined();
    expect(toApiError(new Error("boom"))).toBeUndefined();
  });

  it("answers unknown routes, thrown errors and bad JSON in the same JSON shape", async () => {
    const app = express();
    app.use(express.json());
    app.get("/bad", () => {
      throw new ApiError("forbidden", "no");
    });
    app.get("/bug", () => {
      throw new Error("secret detail");
    });
    app.post("/echo", (req, res) => void res.json(req.body));
    app.use(notFoundHandler());
    app.use(errorHandler(createLogger("test", "silent")));
    const server = await listen(app, 0, "127.0.0.1");
    const base = `http://127.0.0.1:${server.port}`;
    try {
      const miss = await fetch(`${base}/nope`);
      expect(miss.status).toBe(404);
      expect(miss.headers.get("content-type")).toMatch(/json/);
      expect(await miss.json()).toMatchObject({ error: "not_found" });
      const bad = await fetch(`${base}/bad`);
      expect([bad.status, await bad.json()]).toEqual([403, { error: "forbidden", message: "no" }]);
      const bug = await fetch(`${base}/bug`);
      expect([bug.status, await bug.json()]).toEqual([500, { error: "internal_error", message: "internal error" }]);
      const json = await fetch(`${base}/echo`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{",
      });
      expect(json.status).toBe(400);
      expect(await json.json()).toMatchObject({ error: "malformed_body" });
    } finally {
      await server.close();
    }
  });
});
