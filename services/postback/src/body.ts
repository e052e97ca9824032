import type { IncomingMessage } from "node:http";
import type { ErrorCode } from "@aff/common";
import type express from "express";

export type BodyError = { status: 400 | 413 | 415; code: ErrorCode; message: string };

/** The raw bytes of a request, up to `limit`; rejects with a 413 past it. */
export function readRaw(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > limit) {
      req.resume();
      return reject({
        status: 413,
        code: "body_too_large",
        message: `the body exceeds ${limit} bytes`,
      } satisfies BodyError);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.removeAllListeners("data");
        req.resume();
        reject({ status: 413, code: "body_too_large", message: `the body exceeds ${limit} bytes` } satisfies BodyError);
      } else chunks.push(c);
    });
    req.on("end", () => resolve(chunks.length === 1 && chunks[0] ? chunks[0] : Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/**
 * JSON or form bodies, keeping the raw bytes for signature checks. Lighter than express.json + urlencoded on the
 * hot path, and it answers with our own error codes: 400 malformed_body, 413 body_too_large, 415.
 */
export function parseBody(raw: Buffer, contentType: string | undefined): { body: unknown } | BodyError {
  if (raw.length === 0) return { body: undefined };
  const type = (contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  if (type === "application/json" || type.endsWith("+json")) {
    try {
      return { body: JSON.parse(raw.toString("utf8")) };
    } catch {
      return { status: 400, code: "malformed_body", message: "the body is not valid JSON" };
    }
  }
  if (type === "application/x-www-form-urlencoded") {
    // no prototype: a field named __proto__ or constructor is data, never a lookup into Object.prototype
    const form: Record<string, string | string[]> = Object.create(null);
    for (const [k, v] of new URLSearchParams(raw.toString("utf8"))) {
      const prior = form[k];
      form[k] = prior === undefined ? v : Array.isArray(prior) ? [...prior, v] : [prior, v];
    }
    return { body: form };
  }
  return {
    status: 415,
    code: "unsupported_media_type",
    message: "send application/json or application/x-www-form-urlencoded",
  };
}

/** Express middleware: `req.body` parsed, `req.rawBody` kept; body errors answered as JSON. */
export function bodyReader(
  limit: number,
  onError: (res: express.Response, e: BodyError) => void,
): express.RequestHandler {
  return (req, res, next) => {
    readRaw(req, limit).then(
      (raw) => {
        (req as IncomingMessage & { rawBody?: Buffer }).rawBody = raw;
        const parsed = parseBody(raw, req.headers["content-type"]);
        if ("body" in parsed) {
          req.body = parsed.body;
          next();
        } else onError(res, parsed);
      },
      (err: unknown) => {
        if (err && typeof err === "object" && "status" in err) onError(res, err as BodyError);
        else next(err);
      },
    );
  };
}
