import { validationError } from "@aff/common";
import type { EventSource } from "@aff/events";
import type { Authenticator } from "../authenticate";
import { parsePostbackEvent } from "../input";
import { answerOne, objectBody, type Route, type RouteKit } from "../routing";

/**
 * One event in the conventions merchants use: query string, form or JSON, with X-Signature or (where `tokenOk`,
 * weaker) a token. Serves GET/POST /postback and, signature only, POST /v1/conversions.
 */
export function singleEventRoute(kit: RouteKit, auth: Authenticator, source: EventSource, tokenOk: boolean): Route {
  return kit.route(async (req, res) => {
    const fields: Record<string, unknown> = { ...(req.query as Record<string, unknown>), ...objectBody(req) };
    if (req.get("x-merchant-id")) fields.merchant_id = req.get("x-merchant-id");
    const token = tokenOk ? (typeof fields.token === "string" ? fields.token : undefined) : false;
    const caller = await auth.authenticate(req, fields.merchant_id, auth.signedOrToken(req, token));
    const parsed = parsePostbackEvent({ ...fields, merchant_id: caller.merchant.id }, Date.now(), source);
    if (!parsed.success) throw validationError(parsed.error);
    const [result] = await kit.accepted([parsed.data], caller.signature);
    answerOne(kit, res, result);
  });
}

/** The postback routes of merchant conventions: a pixel GET and a POST, both taking a token. */
export function postbackRoutes(kit: RouteKit, auth: Authenticator) {
  return { get: singleEventRoute(kit, auth, "postback", true), post: singleEventRoute(kit, auth, "postback", true) };
}
