import { timingSafeEqual } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";
import { z } from "zod";
import { ApiError, type FieldIssue, sendError, toApiError } from "./api-error";
import type { Lifecycle } from "./lifecycle";
import type { Logger } from "./logger";

export type ReadinessCheck = { name: string; check: () => Promise<boolean> | boolean };

export type Metrics = {
  registry: Registry;
  httpRequests: Counter<"route" | "status">;
  httpDuration: Histogram<"route">;
};

/** A Prometheus registry with process metrics and the HTTP metrics every service records. */
export function createMetrics(service: string): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  const httpRequests = new Counter({
    name: "http_requests_total",
    help: "HTTP requests answered, by route and status",
    labelNames: ["route", "status"] as const,
    registers: [registry],
  });
  const httpDuration = new Histogram({
    name: "http_request_duration_seconds",
    help: "HTTP request duration in seconds, by route",
    labelNames: ["route"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  });
  return { registry, httpRequests, httpDuration };
}

/** GET /healthz: the process is alive. The one ops route the public port keeps (load balancers probe it). */
export function healthRouter(): express.Router {
  const router = express.Router();
  router.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  return router;
}

/** /healthz, /readyz (every dependency check passes, not shutting down) and /metrics. */
export function opsRouter(opts: OpsOptions): express.Router {
  const router = healthRouter();
  router.get("/readyz", async (_req, res) => {
    const results: Record<string, boolean> = {};
    await Promise.all(
      opts.checks.map(async (c) => {
        try {
          results[c.name] = await c.check();
        } catch {
          results[c.name] = false;
        }
      }),
    );
    const ready = !opts.isStopping() && Object.values(results).every(Boolean);
    res
      .status(ready ? 200 : 503)
      .json({ status: ready ? "ready" : "not_ready", stopping: opts.isStopping(), checks: results });
  });
  router.get("/metrics", async (_req, res) => {
    res.set("Content-Type", opts.metrics.registry.contentType);
    res.send(await opts.metrics.registry.metrics());
  });
  return router;
}

export type OpsOptions = { metrics: Metrics; checks: ReadinessCheck[]; isStopping: () => boolean };

/** Config fragment of the services with a public port: where /readyz and /metrics are served instead. */
export const opsEnv = (defaultPort: number) => ({
  /** port of the ops endpoints (/healthz, /readyz, /metrics), never the public one; 0 = any free port */
  OPS_PORT: z.coerce.number().int().min(0).max(65535).default(defaultPort),
  /** address the ops endpoints bind (keep it private: loopback or an internal network) */
  OPS_HOST: z.string().default("127.0.0.1"),
});

/**
 * The ops endpoints on their own port, so a public port never shows metrics or dependency state to the internet.
 * Closed after the public server (registered first, so it runs last).
 */
export async function startOpsServer(
  opts: OpsOptions & { port: number; host: string; log: Logger; lifecycle: Lifecycle },
): Promise<RunningServer> {
  const app = express();
  app.disable("x-powered-by");
  app.use(opsRouter(opts));
  app.use(notFoundHandler());
  app.use(errorHandler(opts.log));
  const server = await listen(app, opts.port, opts.host);
  opts.lifecycle.defer("ops_server", () => server.close());
  return server;
}

/** Records count and duration per matched route (never the raw path, to keep label cardinality bounded). */
export function httpMetricsMiddleware(metrics: Metrics): express.RequestHandler {
  return (req, res, next) => {
    const end = metrics.httpDuration.startTimer();
    res.on("finish", () => {
      const route = (req.route?.path as string | undefined) ?? "unmatched";
      metrics.httpRequests.inc({ route, status: String(res.statusCode) });
      end({ route });
    });
    next();
  };
}

/** zod issues as `{path, message, code}` triples for a 4xx body; `prefix` places them inside a larger document. */
export function zodIssues(error: z.ZodError, prefix = ""): FieldIssue[] {
  return error.issues.map((i) => {
    const path = i.path.map(String).join(".");
    return {
      path: prefix ? (path ? `${prefix}.${path}` : prefix) : path || "(body)",
      message: i.message,
      code: i.code,
    };
  });
}

/** The 400 for input that fails its schema, naming every field and reason. */
export const validationError = (error: z.ZodError, prefix = ""): ApiError =>
  new ApiError("validation_failed", "the request has invalid fields", { issues: zodIssues(error, prefix) });

export function sendValidationError(res: express.Response, error: z.ZodError): void {
  sendError(res, validationError(error));
}

/** Unknown routes answer the catalogue's JSON 404, never express's HTML page. */
export function notFoundHandler(): express.RequestHandler {
  return (req, res) => sendError(res, "not_found", `no route ${req.method} ${req.path}`);
}

/**
 * Last handler of every app: catalogue errors (thrown by routes or raised by express itself: bad JSON, oversize
 * body) become their answer; anything else is a bug, answered 500 and logged.
 */
export function errorHandler(log: Logger): express.ErrorRequestHandler {
  return (err, req, res, _next) => {
    const known = toApiError(err) ?? fromExpressError(err);
    if (known) return sendError(res, known);
    log.error({ err, path: req.path }, "http_unhandled_error");
    sendError(res, "internal_error", "internal error");
  };
}

/** body-parser's errors carry a status and a type; map the ones a client causes. */
function fromExpressError(err: unknown): ApiError | undefined {
  if (!err || typeof err !== "object" || !("status" in err) || typeof err.status !== "number") return undefined;
  if (err.status === 413) return new ApiError("body_too_large", "the body is too large");
  if (err.status === 415) return new ApiError("unsupported_media_type", "unsupported content type");
  if (err.status === 400) return new ApiError("malformed_body", "the body could not be parsed");
  return undefined;
}

export type RunningServer = { server: http.Server; port: number; close: () => Promise<void> };

/** Listen and resolve once bound; `close` stops accepting, lets in-flight requests finish, then drops idle sockets. */
export function listen(handler: http.RequestListener, port: number, host: string): Promise<RunningServer> {
  const server = http.createServer(handler);
  // Idle keep-alive sockets live longer than a load balancer's (60 s is the common idle timeout) and than the gaps
  // a busy client leaves: a server that closes first races the client's next request on that socket (ECONNRESET).
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  return new Promise((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EADDRINUSE") reject(new Error(`port ${port} on ${host} is already in use`));
      else reject(err);
    });
    server.listen(port, host, () => {
      const bound = (server.address() as AddressInfo).port;
      resolve({
        server,
        port: bound,
        close: () =>
          new Promise<void>((res, rej) => {
            server.close((err) => (err ? rej(err) : res()));
            server.closeIdleConnections();
          }),
      });
    });
  });
}

/** Requires `Authorization: Bearer <key>` matching one of `keys` (compared in constant time); sets `res.locals.apiKey`. */
export function bearerAuth(keys: readonly string[]): express.RequestHandler {
  const expected = keys.map((k) => Buffer.from(k));
  return (req, res, next) => {
    const given = Buffer.from((req.headers.authorization ?? "").replace(/^Bearer\s+/i, ""));
    const match = expected.find((e) => e.length === given.length && timingSafeEqual(e, given));
    if (match) {
      res.locals.apiKey = match.toString();
      return next();
    }
    sendError(res, "unauthorized", "a valid Authorization: Bearer <key> header is required");
  };
}

/**
 * Authenticates `Authorization: Bearer <key>` with `resolve` (which returns the caller, or undefined) and stores the
 * caller in `res.locals.principal`. 401 without a valid key; 503 when the key store cannot be reached.
 */
export function keyAuth<P>(resolve: (key: string) => Promise<P | undefined>): express.RequestHandler {
  return async (req, res, next) => {
    const key = (req.headers.authorization ?? "").replace(/^Bearer\s+/i, "");
    let principal: P | undefined;
    try {
      principal = key ? await resolve(key) : undefined;
    } catch {
      return sendError(res, "auth_unavailable", "the key store cannot be reached; retry");
    }
    if (principal === undefined) {
      return sendError(res, "unauthorized", "a valid Authorization: Bearer <key> header is required");
    }
    res.locals.principal = principal;
    next();
  };
}
