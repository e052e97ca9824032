import { z } from "zod";

/** 64-bit integers arrive as JSON strings; keep them exact and refuse anything beyond the safe range. */
export const Int64Text = z.union([z.string().regex(/^-?\d+$/), z.number().int()]).transform((v, ctx) => {
  const n = typeof v === "number" ? v : Number(v);
  if (!Number.isSafeInteger(n)) {
    ctx.addIssue({ code: "custom", message: "integer beyond safe range" });
    return z.NEVER;
  }
  return n;
});
