import { Currency, EntityId } from "@aff/events";
import { z } from "zod";

/** A date (YYYY-MM-DD, midnight UTC) or a date-time with an explicit offset. */
const Instant = z.string().transform((v, ctx) => {
  const iso = /^\d{4}-\d\d-\d\d$/.test(v) ? `${v}T00:00:00Z` : v;
  const ms = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/.test(iso) ? Date.parse(iso) : Number.NaN;
  if (!Number.isFinite(ms)) {
    ctx.addIssue({ code: "custom", message: "must be YYYY-MM-DD or an ISO 8601 date-time with offset" });
    return z.NEVER;
  }
  return ms;
});

export function commissionQuery(maxRangeDays: number) {
  return z
    .strictObject({
      from: Instant,
      to: Instant,
      influencer_id: z.coerce.number().pipe(EntityId).optional(),
      campaign_id: z.coerce.number().pipe(EntityId).optional(),
      merchant_id: z.coerce.number().pipe(EntityId).optional(),
      currency: Currency.optional(),
      format: z.enum(["json", "csv"]).default("json"),
    })
    .superRefine((q, ctx) => {
      if (q.to <= q.from) ctx.addIssue({ code: "custom", path: ["to"], message: "must be after from" });
      else if (q.to - q.from > maxRangeDays * 86_400_000) ctx.addIssue({ code: "custom", path: ["to"], message: `range may not exceed ${maxRangeDays} days` });
    });
}
