import { z } from "zod";

const INTEGER = /^-?\d+$/;

/** 64-bit integers arrive as JSON strings; keep them exact and refuse anything beyond the safe range (ids, offsets). */
export const Int64Text = z.union([z.string().regex(INTEGER), z.number().int()]).transform((v, ctx) => {
  const n = typeof v === "number" ? v : Number(v);
  if (!Number.isSafeInteger(n)) {
    ctx.addIssue({ code: "custom", message: "integer beyond safe range" });
    return z.NEVER;
  }
  return n;
});

/**
 * A 64-bit sum (money, counts) read exactly as a bigint, whatever its size: ClickHouse sends Int64 and UInt64 as
 * decimal strings, and a sum past 2^53 is a valid figure, not an error.
 */
export const Int64Sum = z.union([z.string().regex(INTEGER), z.number().int()]).transform((v) => BigInt(v));
