import type { IncomingMessage, ServerResponse } from "node:http";
import { parse as parseQuery } from "node:querystring";
import { clientAddress, errorMessage, type Logger, type Metrics, sendError } from "@aff/common";
import { type BodyError, parseBody, readRaw } from "./body";
import type { Answer, Route } from "./routing";

/**
 * The hot POST routes skip express (its routing and response helpers cost more per request than everything else we
 * do but Kafka); they run the very same route functions and resolve the client address with the same proxy trust
 * as express. Returns the `node:http` handler: `routes` by path for POSTs, `app` for the rest.
 */
export function fastPathHandler(opts: {
  routes: Map<string, Route>;
  app: (req: IncomingMessage, res: ServerResponse) => void;
  trust: (addr: string, i: number) => boolean;
  maxBodyBytes: number;
  metrics: Metrics;
  log: Logger;
  bodyRefused: (res: Answer, e: BodyError) => void;
}) {
  const serve = async (fn: Route, path: string, search: string, req: IncomingMessage, res: ServerResponse) => {
    const end = opts.metrics.httpDuration.startTimer();
    const answer = leanAnswer(res);
    try {
      let raw: Buffer;
      try {
        raw = await readRaw(req, opts.maxBodyBytes);
      } catch (err) {
        if (err && typeof err === "object" && "status" in err) return opts.bodyRefused(answer, err as BodyError);
        throw err;
      }
      const parsed = parseBody(raw, req.headers["content-type"]);
      if (!("body" in parsed)) return opts.bodyRefused(answer, parsed);
      const get = (name: string) => {
        const v = req.headers[name.toLowerCase()];
        return Array.isArray(v) ? v.join(", ") : v;
      };
      const ask = {
        ip: clientAddress(req, opts.trust),
        method: req.method ?? "POST",
        url: req.url ?? path,
        path,
        body: parsed.body,
        rawBody: raw,
        params: {},
        // most signed POSTs have no query string: an empty object of the same (prototype-less) kind, unparsed
        query: search === "" ? Object.create(null) : parseQuery(search),
        get,
      };
      await fn(ask, answer);
    } catch (err) {
      opts.log.error({ err: errorMessage(err), path }, "http_unhandled_error");
      if (!res.headersSent) sendError(answer, "internal_error", "internal error");
    } finally {
      opts.metrics.httpRequests.inc({ route: path, status: String(res.statusCode) });
      end({ route: path });
    }
  };
  return (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = q < 0 ? url : url.slice(0, q);
    const fn = req.method === "POST" ? opts.routes.get(path) : undefined;
    if (!fn) return void opts.app(req, res);
    void serve(fn, path, q < 0 ? "" : url.slice(q + 1), req, res);
  };
}

/** The express-like answer the routes write to, on a bare ServerResponse. */
function leanAnswer(res: ServerResponse): Answer {
  const headers: Record<string, string> = { "content-type": "application/json; charset=utf-8" };
  return {
    get headersSent() {
      return res.headersSent;
    },
    set: (field, value) => {
      headers[field] = value;
    },
    status: (code) => ({
      json: (body) => {
        // with its length the answer leaves as headers and body, not in chunked framing
        const text = JSON.stringify(body);
        headers["content-length"] = String(Buffer.byteLength(text));
        res.writeHead(code, headers);
        res.end(text);
      },
    }),
  };
}
