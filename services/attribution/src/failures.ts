import { AppError, errorMessage } from "@aff/common";

/**
 * Why a batch failed, and whether trying again can help. Transient failures (a store unreachable, overloaded or
 * timing out) are retried with backoff; anything else was caused by the data of one message (or by a bug that data
 * triggers) and is isolated to that message. See docs/adr/0005-conversion-state.md, "Failures".
 */
export type FailureClass = { transient: boolean; reasonClass: string; message: string };

/**
 * ClickHouse error codes that describe the server, not the rows: overload, timeouts, network, read-only or full
 * disks, and a missing table or database or bad credentials (a deploy problem that dead-lettering cannot fix).
 */
const CLICKHOUSE_TRANSIENT_CODES = new Set([
  3, 60, 81, 159, 160, 164, 173, 192, 193, 194, 202, 203, 209, 210, 225, 235, 236, 241, 242, 243, 252, 279, 319, 394,
  425, 439, 516, 999,
]);

/** "Too many partitions for single INSERT block" shares TOO_MANY_PARTS (252) but is caused by the rows of one insert. */
const CLICKHOUSE_ROW_CAUSED = /Too many partitions for single INSERT block/;

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
]);

/** The ClickHouse error code of an error from @clickhouse/client (18.16: "Code: 27, e.displayText() = ..."). */
function clickHouseCode(err: Error): number | undefined {
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string" && /^\d+$/.test(code)) return Number(code);
  const m = /^Code: (\d+)[,.]/.exec(err.message);
  return m ? Number(m[1]) : undefined;
}

/** zod 4 errors are not `instanceof Error` */
const isZodError = (e: unknown) => typeof e === "object" && e !== null && (e as { name?: unknown }).name === "ZodError";

function causes(err: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let e: unknown = err; e !== undefined && chain.length < 8; e = (e as { cause?: unknown }).cause) {
    chain.push(e);
    if (!(e instanceof Error)) break;
  }
  return chain;
}

/**
 * How a failure of a ClickHouse call is to be treated: the server refusing our rows (cannot parse, too large, a row
 * that fails its schema coming back) is not transient; an unreachable, slow or overloaded server is. A ClickHouse
 * error that names no code is taken as transient: the rows did not cause it.
 */
export function clickHouseFailure(op: string, err: unknown): AppError {
  const message = errorMessage(err);
  for (const e of causes(err)) {
    if (isZodError(e))
      return new AppError("clickhouse_rejected", message, { retryable: false, context: { op }, cause: err });
    if (!(e instanceof Error)) continue;
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && NETWORK_CODES.has(code))
      return new AppError("clickhouse_unavailable", message, { retryable: true, context: { op }, cause: err });
    const chCode = clickHouseCode(e);
    if (chCode !== undefined) {
      const transient = CLICKHOUSE_TRANSIENT_CODES.has(chCode) && !CLICKHOUSE_ROW_CAUSED.test(e.message);
      return new AppError(transient ? "clickhouse_unavailable" : "clickhouse_rejected", message, {
        retryable: transient,
        context: { op, clickhouse_code: chCode },
        cause: err,
      });
    }
    if (e instanceof RangeError || e instanceof TypeError || e instanceof SyntaxError)
      return new AppError("clickhouse_rejected", message, { retryable: false, context: { op }, cause: err });
  }
  return new AppError("clickhouse_unavailable", message, { retryable: true, context: { op }, cause: err });
}

/** Redis (catalog, coupons, FX rates) is only read by the worker with keys we build: its failures are never the data's. */
export function redisFailure(op: string, err: unknown): AppError {
  return new AppError("redis_unavailable", errorMessage(err), { retryable: true, context: { op }, cause: err });
}

/**
 * Transient only when a store boundary said so (an `AppError` marked retryable): an exception from our own code
 * (a RangeError from a date, a schema error, a bug) happened while processing data and is isolated to its message.
 */
export function classifyFailure(err: unknown): FailureClass {
  const message = errorMessage(err);
  if (err instanceof AppError) return { transient: err.retryable, reasonClass: err.code, message };
  if (isZodError(err)) return { transient: false, reasonClass: "schema_error", message };
  if (err instanceof Error) {
    const name = err.name.replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
    return { transient: false, reasonClass: name || "error", message };
  }
  return { transient: false, reasonClass: "thrown_value", message };
}

/** Wraps every function of `io` so that its failures become the AppError `wrap` makes of them. */
export function guarded<T extends Record<string, (...args: never[]) => Promise<unknown>>>(
  io: T,
  wrap: (op: string, err: unknown) => AppError,
): T {
  const out: Record<string, unknown> = {};
  for (const [op, fn] of Object.entries(io))
    out[op] = async (...args: never[]) => {
      try {
        return await fn(...args);
      } catch (err) {
        throw wrap(op, err);
      }
    };
  return out as T;
}

export type Isolated<T> = { item: T; failure: FailureClass };

/**
 * Runs `run` over all items; when it fails for a reason that is not transient, splits the items in two (order
 * kept: the first half is run before the second) until each failure is pinned to one item, and returns those.
 * Transient failures propagate (the caller retries the whole batch). `run` must be safe to repeat over items it
 * already partly wrote: the conversion pipeline is, because its writes are a pure function of the stored history.
 */
export async function runIsolating<T>(
  items: readonly T[],
  run: (items: readonly T[]) => Promise<void>,
  onSplit?: (size: number, failure: FailureClass) => void,
): Promise<Isolated<T>[]> {
  try {
    await run(items);
    return [];
  } catch (err) {
    const failure = classifyFailure(err);
    if (failure.transient) throw err;
    const [only] = items;
    if (items.length === 1 && only !== undefined) return [{ item: only, failure }];
    if (items.length === 0) throw err;
    onSplit?.(items.length, failure);
    const mid = Math.ceil(items.length / 2);
    const left = await runIsolating(items.slice(0, mid), run, onSplit);
    const right = await runIsolating(items.slice(mid), run, onSplit);
    return [...left, ...right];
  }
}
