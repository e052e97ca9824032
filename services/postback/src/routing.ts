import { ApiError, AppError, type ErrorSink, errorMessage, type Lifecycle, type Logger, sendError } from "@aff/common";
import type { ConversionEvent } from "@aff/events";
import type { Counter } from "prom-client";
import type { EventRefusal, EventResult, Intake, Signature } from "./intake";

/** The part of a request the routes read: an express request, or the lean one of the fast path. */
export type Ask = {
  ip?: string;
  method: string;
  path: string;
  /** path and query string as sent */
  url: string;
  body: unknown;
  query: unknown;
  params: Record<string, string>;
  rawBody?: Buffer;
  get(name: string): string | undefined;
};
/** The part of a response the routes write. */
export type Answer = ErrorSink;
export type Route = (req: Ask, res: Answer) => Promise<void>;
export type Outcomes = Counter<"outcome">;

/** What every route group needs besides its own logic. */
export type RouteKit = {
  log: Logger;
  outcomes: Outcomes;
  /** Runs a route body; an ApiError becomes its 4xx/503 answer with a log line and a metric. */
  route(fn: Route): Route;
  /** Hands events to the intake; a replay or an outage becomes its ApiError. */
  accepted(events: ConversionEvent[], signature: Signature | undefined): Promise<(EventResult | EventRefusal)[]>;
};

export function createRouteKit(deps: {
  log: Logger;
  lifecycle: Lifecycle;
  outcomes: Outcomes;
  accept: Intake;
  onDurability: (ok: boolean) => void;
}): RouteKit {
  const { log, lifecycle, outcomes, accept } = deps;
  const route =
    (fn: Route): Route =>
    async (req, res) => {
      try {
        if (lifecycle.isStopping) throw new ApiError("shutting_down", "retry shortly");
        await fn(req, res);
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        outcomes.inc({ outcome: err.code });
        log.info({ code: err.code, status: err.status, path: req.path }, "postback_refused");
        sendError(res, err);
      }
    };
  const accepted = async (events: ConversionEvent[], signature: Signature | undefined) => {
    try {
      const r = await accept(events, signature);
      if (r.kind === "replayed")
        throw new ApiError(
          "replayed_signature",
          "this signature was already used; sign each request with a fresh timestamp",
        );
      deps.onDurability(true);
      return r.results;
    } catch (err) {
      if (err instanceof ApiError || !(err instanceof AppError)) throw err;
      if (err.code === "not_durable") deps.onDurability(false);
      log.warn({ err: errorMessage(err.cause ?? err), code: err.code, events: events.length }, "postback_not_stored");
      throw new ApiError(err.code === "not_durable" ? "not_durable" : "catalog_unavailable", err.message);
    }
  };
  return { log, outcomes, route, accepted };
}

/** The 400 of events the intake refused, their fields under `prefix(index)`; nothing when none was refused. */
export function refuseAny(results: (EventResult | EventRefusal)[], prefix: (index: number) => string): void {
  const issues = results.flatMap((r, i) =>
    "refused" in r ? [{ ...r.refused, path: [prefix(i), r.refused.path].filter(Boolean).join(".") }] : [],
  );
  if (issues.length > 0) throw new ApiError("validation_failed", "the request has invalid fields", { issues });
}

/** 202 for a new event, 200 with `duplicate: true` for one counted before, 400 for one refused. */
export function answerOne(kit: RouteKit, res: Answer, r: EventResult | EventRefusal | undefined): void {
  if (!r) throw new Error("no result for the event");
  refuseAny([r], () => "");
  if ("refused" in r) return;
  kit.outcomes.inc({ outcome: r.duplicate ? "duplicate" : "accepted" });
  kit.log.debug(
    { conversion_id: r.conversion_id, event_id: r.event_id, type: r.type, duplicate: r.duplicate },
    "postback_accepted",
  );
  res.status(r.duplicate ? 200 : 202).json({
    accepted: true,
    duplicate: r.duplicate,
    conversion_id: r.conversion_id,
    event_id: r.event_id,
    type: r.type,
  });
}

/** The parsed body as an object (absent: empty); arrays, scalars and raw buffers are refused. */
export function objectBody(req: Ask): Record<string, unknown> {
  const b: unknown = req.body;
  if (b === undefined || (typeof b === "object" && b !== null && !Array.isArray(b) && !Buffer.isBuffer(b)))
    return (b ?? {}) as Record<string, unknown>;
  throw new ApiError("malformed_body", "the body must be a JSON object or a form");
}
