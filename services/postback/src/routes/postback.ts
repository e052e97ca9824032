import { ApiError, validationError } from "@aff/common";
import type { EventSource } from "@aff/events";
import { canonicalQuery, queryPairs } from "../auth";
import { type Authenticator, claimedMerchant, type Verify } from "../authenticate";
import { parsePostbackEvent } from "../input";
import { type Ask, answerOne, objectBody, type Route, type RouteKit } from "../routing";
import { refuseTokenStatusChange } from "./token-limits";

/** The fields of a request and how its credentials are checked, before the merchant is known. */
type Sent = { fields: Record<string, unknown>; verify: Verify };

const text = (v: unknown) => (typeof v === "string" ? v : undefined);

/**
 * A GET: fields from the query string. Signed (X-Signature header or a `signature` field) over the canonical query,
 * which covers every field; else the token. Fields are read from the very pairs that were signed.
 */
function fromQuery(req: Ask, auth: Authenticator): Sent {
  const q = req.url.indexOf("?");
  const pairs = queryPairs(q < 0 ? "" : req.url.slice(q + 1));
  const fields: Record<string, unknown> = Object.create(null);
  for (const [k, v] of pairs) {
    const prior = fields[k];
    fields[k] = prior === undefined ? v : Array.isArray(prior) ? [...prior, v] : [prior, v];
  }
  const header = req.get("x-signature") ?? text(fields.signature);
  delete fields.signature;
  if (!header) return { fields, verify: auth.token(text(fields.token)) };
  let canonical: string;
  try {
    canonical = canonicalQuery(pairs);
  } catch {
    throw new ApiError("bad_request", "the query string is not well-formed UTF-8");
  }
  return { fields, verify: auth.signature(header, Buffer.from(canonical)) };
}

/** A POST: signed over the raw body (query fields refused), or, where tokens are taken, query and body fields. */
function fromBody(req: Ask, auth: Authenticator, tokenOk: boolean): Sent {
  const body = objectBody(req);
  const signed = auth.bodySignature(req);
  if (signed) return { fields: body, verify: signed };
  if (!tokenOk) return { fields: body, verify: auth.signatureRequired };
  const fields = { ...(req.query as Record<string, unknown>), ...body };
  return { fields, verify: auth.token(text(fields.token)) };
}

/**
 * One event in the conventions merchants use: query string, form or JSON, with X-Signature or (where `tokenOk`,
 * weaker, sales only) a token. Serves GET/POST /postback and, signature only, POST /v1/conversions.
 */
export function singleEventRoute(kit: RouteKit, auth: Authenticator, source: EventSource, tokenOk: boolean): Route {
  return kit.route(async (req, res) => {
    const sent = req.method === "GET" ? fromQuery(req, auth) : fromBody(req, auth, tokenOk);
    const caller = await auth.authenticate(req, claimedMerchant(req, sent.fields), sent.verify);
    const parsed = parsePostbackEvent({ ...sent.fields, merchant_id: caller.merchant.id }, Date.now(), source);
    if (!parsed.success) throw validationError(parsed.error);
    refuseTokenStatusChange(caller, parsed.data);
    const [result] = await kit.accepted([parsed.data], caller.signature);
    answerOne(kit, res, result);
  });
}

/** The postback routes of merchant conventions: a pixel GET and a POST, both taking a token. */
export function postbackRoutes(kit: RouteKit, auth: Authenticator) {
  return { get: singleEventRoute(kit, auth, "postback", true), post: singleEventRoute(kit, auth, "postback", true) };
}
