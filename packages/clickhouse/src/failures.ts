import { AppError, errorMessage } from "@aff/common";

/**
 * ClickHouse error codes that describe the server, not the rows: overload, timeouts, network, read-only or full
 * disks, and a missing table or database or bad credentials (a deploy problem that dead-lettering cannot fix).
 */
const CLICKHOUSE_TRANSIENT_CODES = new Set([
  3, 60, 81, 159, 160, 164, 173, 192, 193, 194, 202, 203, 209, 210, 225, 235, 236, 241, 242, 243, 252, 279, 319, 394,
  425, 439, 516, 999,
  // replicated inserts on a cluster: TOO_FEW_LIVE_REPLICAS, UNSATISFIED_QUORUM_FOR_PREVIOUS_WRITE, REPLICA_IS_NOT_IN_QUORUM
  285,
  286, 289,
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
export const isZodError = (e: unknown) =>
  typeof e === "object" && e !== null && (e as { name?: unknown }).name === "ZodError";

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
  if (err instanceof AppError && (err.code === "clickhouse_unavailable" || err.code === "clickhouse_rejected"))
    return err;
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
