import type { Principal } from "@aff/catalog";
import { sendError, toApiError } from "@aff/common";
import type express from "express";

/** A catalogue error raised by the catalog becomes its 4xx naming the field; anything else goes on to the error handler (500). */
export function sendAppError(res: express.Response, err: unknown): void {
  const known = toApiError(err);
  if (!known) throw err;
  sendError(res, known);
}

export const principalOf = (res: express.Response) => res.locals.principal as Principal;

/** Refuses (403) callers whose role is not in `roles`. */
export function requireRole(...roles: Principal["role"][]): express.RequestHandler {
  return (_req, res, next) => {
    if (roles.includes(principalOf(res).role)) return next();
    sendError(res, "forbidden", `requires one of the roles ${roles.join(", ")}`);
  };
}
