import { AppError } from "./errors";

/**
 * Every error an HTTP API of ours answers, with its status. One catalogue for all services, so a client can switch on
 * `error` without knowing which service answered; the README lists them. Add a code here before using it.
 */
export const ERROR_STATUS = {
  // 400: the request itself is wrong
  validation_failed: 400,
  malformed_body: 400,
  bad_request: 400,
  invalid_destination: 400,
  // 401: who is asking is not established
  unauthorized: 401,
  unknown_merchant: 401,
  missing_credentials: 401,
  missing_signature: 401,
  bad_signature: 401,
  stale_signature: 401,
  replayed_signature: 401,
  bad_token: 401,
  platform_not_configured: 401,
  // 403: known caller, not allowed
  forbidden: 403,
  ip_not_allowed: 403,
  // 404/405: nothing there
  not_found: 404,
  method_not_allowed: 405,
  // 409/413/415/422: conflicts and refusals of well-formed input
  conflict: 409,
  body_too_large: 413,
  batch_too_large: 413,
  unsupported_media_type: 415,
  unknown_reference: 422,
  unsupported_topic: 422,
  // 500: a bug (logged); 503: an outage, retry later (with Retry-After)
  internal_error: 500,
  shutting_down: 503,
  not_durable: 503,
  catalog_unavailable: 503,
  auth_unavailable: 503,
  reports_unavailable: 503,
  code_exhausted: 503,
} as const satisfies Record<string, 400 | 401 | 403 | 404 | 405 | 409 | 413 | 415 | 422 | 500 | 503>;

export type ErrorCode = keyof typeof ERROR_STATUS;
export type FieldIssue = { path: string; message: string; code: string };
/** The one JSON shape of every error answer. */
export type ErrorBody = { error: ErrorCode; message: string; issues?: FieldIssue[] };

export const isErrorCode = (code: string): code is ErrorCode => Object.hasOwn(ERROR_STATUS, code);
export const statusOf = (code: ErrorCode): number => ERROR_STATUS[code];

/** An error meant for the caller: its code fixes the status; `issues` name the fields. */
export class ApiError extends AppError {
  declare readonly code: ErrorCode;
  readonly issues: FieldIssue[] | undefined;
  constructor(code: ErrorCode, message: string, opts: { issues?: FieldIssue[]; cause?: unknown } = {}) {
    super(code, message, { retryable: ERROR_STATUS[code] === 503, cause: opts.cause });
    this.name = "ApiError";
    this.issues = opts.issues;
  }
  get status(): number {
    return ERROR_STATUS[this.code];
  }
  body(): ErrorBody {
    return { error: this.code, message: this.message, ...(this.issues ? { issues: this.issues } : {}) };
  }
}

/** What `sendError` needs of a response: express's, or the lean one of a fast path. */
export type ErrorSink = {
  headersSent?: boolean;
  set(field: string, value: string): unknown;
  status(code: number): { json(body: unknown): unknown };
};

/** Answers with the catalogue's status and shape; a 503 also says when to retry. */
export function sendError(res: ErrorSink, err: ApiError): void;
export function sendError(res: ErrorSink, code: ErrorCode, message: string, issues?: FieldIssue[]): void;
export function sendError(res: ErrorSink, a: ApiError | ErrorCode, message = "", issues?: FieldIssue[]): void {
  const err = a instanceof ApiError ? a : new ApiError(a, message, { issues });
  if (res.headersSent) return;
  if (err.status === 503) res.set("Retry-After", "5");
  res.status(err.status).json(err.body());
}

/**
 * An AppError raised below the HTTP layer (catalog, stores) whose code is in the catalogue becomes that answer;
 * anything else is not the caller's fault and stays an internal error.
 */
export function toApiError(err: unknown): ApiError | undefined {
  if (err instanceof ApiError) return err;
  if (err instanceof AppError && isErrorCode(err.code))
    return new ApiError(err.code, err.message, {
      cause: err,
      issues:
        typeof err.context.path === "string"
          ? [{ path: err.context.path, message: err.message, code: err.code }]
          : undefined,
    });
  return undefined;
}
