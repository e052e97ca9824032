import type { Principal } from "@aff/catalog";
import { AppError } from "@aff/common";
import type express from "express";

const STATUS: Record<string, number> = { not_found: 422, invalid_destination: 400, conflict: 409, code_exhausted: 503 };

/** An AppError as a 4xx naming the field; anything else goes on to the error handler (500). */
export function sendAppError(res: express.Response, err: unknown): void {
  const status = err instanceof AppError ? STATUS[err.code] : undefined;
  if (err instanceof AppError && status !== undefined) {
    res.status(status).json({
      error: err.code,
      message: err.message,
      issues: [{ path: String(err.context.path ?? ""), message: err.message }],
    });
    return;
  }
  throw err;
}

export const principalOf = (res: express.Response) => res.locals.principal as Principal;

/** Refuses (403) callers whose role is not in `roles`. */
export function requireRole(...roles: Principal["role"][]): express.RequestHandler {
  return (_req, res, next) => {
    if (roles.includes(principalOf(res).role)) return next();
    res.status(403).json({ error: "forbidden", message: `requires one of the roles ${roles.join(", ")}` });
  };
}
