import { clickHouseFailure, isZodError } from "@aff/clickhouse";
import { AppError, errorMessage } from "@aff/common";

export { clickHouseFailure };

/**
 * Why a batch failed, and whether trying again can help. Transient failures (a store unreachable, overloaded or
 * timing out) are retried with backoff; anything else was caused by the data of one message (or by a bug that data
 * triggers) and is isolated to that message. See docs/adr/0005-conversion-state.md, "Failures".
 */
export type FailureClass = { transient: boolean; reasonClass: string; message: string };

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
