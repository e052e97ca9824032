import { GroupBy, ReportStatus, SortKey } from "@aff/clickhouse";
import { isTimeZone, zonedTimeToUtcMs } from "@aff/common";
import { Currency } from "@aff/events";
import { z } from "zod";
import { Cursor } from "./cursor";

/**
 * Query strings of every report, validated before anything reaches SQL. Unknown fields are refused (strictObject),
 * ids are positive integers, the zone must be one Intl knows, and the period must be ordered and bounded.
 */

const DATE = /^(\d{4})-(\d\d)-(\d\d)$/;
const DATE_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/;

/** A local date (YYYY-MM-DD, midnight in the report's zone) or a date-time with an explicit offset. */
export const Instant = z
  .string()
  .max(40)
  .refine(
    (v) => (DATE.test(v) && validDate(v)) || (DATE_TIME.test(v) && Number.isFinite(Date.parse(v))),
    "must be YYYY-MM-DD or an ISO 8601 date-time with offset",
  );

function validDate(v: string): boolean {
  const m = DATE.exec(v);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.toISOString().slice(0, 10) === v;
}

/** An instant in ms: dates are local midnight in `tz`, date-times carry their own offset. */
export function instantMs(v: string, tz: string): number {
  if (DATE.test(v)) return zonedTimeToUtcMs(Date.parse(`${v}T00:00:00Z`), tz);
  return Date.parse(v);
}

const Id = z.coerce
  .number()
  .int()
  .min(1)
  .max(2 ** 32 - 1);
const TimeZone = z.string().max(64).refine(isTimeZone, "must be an IANA time zone name such as Europe/Berlin, or UTC");
const Statuses = z
  .string()
  .max(100)
  .transform((v, ctx) => {
    const out: ReportStatus[] = [];
    for (const s of v.split(",")) {
      const r = ReportStatus.safeParse(s.trim());
      if (!r.success) {
        ctx.addIssue({
          code: "custom",
          message: `must be a comma-separated list of ${ReportStatus.options.join(", ")}`,
        });
        return z.NEVER;
      }
      out.push(r.data);
    }
    return out;
  });

/** Flag names as the worker writes them: lower-case words joined by underscores. */
const Flags = z
  .string()
  .max(200)
  .transform((v, ctx) => {
    const out = v.split(",").map((f) => f.trim());
    if (out.some((f) => !/^[a-z][a-z_]{1,40}$/.test(f))) {
      ctx.addIssue({
        code: "custom",
        message: "must be a comma-separated list of flags such as click_after_sale,too_fast",
      });
      return z.NEVER;
    }
    return out;
  });

const scopeFields = {
  /** only this merchant's figures */
  merchant_id: Id.optional(),
  /** only this campaign's figures */
  campaign_id: Id.optional(),
  /** only this influencer's figures */
  influencer_id: Id.optional(),
  /** settlement currency (ISO 4217) */
  currency: Currency.optional(),
  /**
   * what we knew at this instant: only entries recorded (received) by then count, and approved money whose holding
   * period is over by then is payable; default: now. The same request with the same as_of answers the same forever.
   */
  as_of: Instant.optional(),
};

const periodFields = {
  /** start of the period, inclusive: YYYY-MM-DD (local midnight in tz) or ISO date-time */
  from: Instant,
  /** end of the period, exclusive */
  to: Instant,
  /** IANA time zone for dates and day/week/month buckets */
  tz: TimeZone.default("UTC"),
  /** comma-separated statuses: pending, review, approved (held), payable, paid, rejected, reversed */
  status: Statuses.optional(),
  /** only conversions carrying any of these flags (comma-separated): click_after_sale, too_fast, bot_click, ... */
  flag: Flags.optional(),
  ...scopeFields,
  format: z.enum(["json", "csv"]).default("json"),
  /** rows to skip (pagination) */
  offset: z.coerce.number().int().min(0).max(10_000_000).default(0),
};

/** Checks the period after the zone is known, and resolves it to UTC instants. */
function resolvePeriod<T extends { from: string; to: string; tz: string; as_of?: string }>(maxRangeDays: number) {
  return (q: T, ctx: z.RefinementCtx) => {
    const fromMs = instantMs(q.from, q.tz);
    const toMs = instantMs(q.to, q.tz);
    if (toMs <= fromMs) ctx.addIssue({ code: "custom", path: ["to"], message: "must be after from" });
    else if (toMs - fromMs > maxRangeDays * 86_400_000)
      ctx.addIssue({ code: "custom", path: ["to"], message: `range may not exceed ${maxRangeDays} days` });
    const asOfGiven = q.as_of !== undefined;
    return { ...q, fromMs, toMs, asOfGiven, asOfMs: q.as_of === undefined ? Date.now() : instantMs(q.as_of, q.tz) };
  };
}

export function commissionQuery(maxRangeDays: number) {
  return z
    .strictObject({
      ...periodFields,
      /** bucket rows by influencer, campaign, merchant, day, week or month */
      group_by: GroupBy.default("influencer"),
      /** sort column; ties are broken by key then currency */
      sort: SortKey.default("key"),
      order: z.enum(["asc", "desc"]).default("asc"),
      /** rows per page (JSON); CSV returns every row unless a limit is given */
      limit: z.coerce.number().int().min(1).max(10_000).optional(),
      /** auto: the exact pre-aggregates when they can answer, else the ledger; ledger: always the ledger (audits) */
      source: z.enum(["auto", "ledger"]).default("auto"),
    })
    .transform(resolvePeriod(maxRangeDays));
}

export function statementQuery(maxRangeDays: number) {
  return z
    .strictObject({
      ...periodFields,
      limit: z.coerce.number().int().min(1).max(10_000).optional(),
      /** keyset pagination: the `next_cursor` of the previous page (faster than offset at any depth) */
      cursor: Cursor.optional(),
    })
    .transform(resolvePeriod(maxRangeDays));
}

export const payoutQuery = z
  .strictObject({
    ...scopeFields,
    tz: TimeZone.default("UTC"),
    format: z.enum(["json", "csv"]).default("json"),
    /** auto: the exact pre-aggregates; ledger: the ledger itself (audits) */
    source: z.enum(["auto", "ledger"]).default("auto"),
  })
  .transform((q) => ({
    ...q,
    asOfGiven: q.as_of !== undefined,
    asOfMs: q.as_of === undefined ? Date.now() : instantMs(q.as_of, q.tz),
  }));

export const ThresholdBody = z.strictObject({
  /** smallest payable balance (minor units of the campaign's settlement currency) that is paid out */
  min_payout_minor: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
});
