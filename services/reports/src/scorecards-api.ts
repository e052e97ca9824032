import { type Catalog, Listings, NICHES, Niche, type Principal, Profiles, viewProfile } from "@aff/catalog";
import {
  type ClickHouse,
  getScoreCells,
  getWeeklyCells,
  monthsOf,
  type ScoreCells,
  scorecardWeekly,
} from "@aff/clickhouse";
import { sendError, sendValidationError } from "@aff/common";
import { Currency, EntityId } from "@aff/events";
import express from "express";
import { z } from "zod";
import type { ReportsConfig } from "./config";
import { Instant, instantMs } from "./query";
import { boundMethod, RankMetric, rank } from "./ranking";
import {
  type Acc,
  accumulate,
  type CampaignFacts,
  emptyAcc,
  mondayMs,
  ratesOf,
  scorecardOf,
  trendOf,
  weeksInPeriod,
} from "./scorecard";

const DAY_MS = 86_400_000;
/** weeks of history in a ranking row's sparkline */
const SPARK_WEEKS = 8;

const principalOf = (res: express.Response) => res.locals.principal as Principal;

const ScorecardQuery = z
  .strictObject({
    /** start of the period, inclusive (YYYY-MM-DD is UTC midnight) */
    from: Instant,
    /** end of the period, exclusive */
    to: Instant,
    /** only campaigns targeting this niche */
    niche: Niche.optional(),
  })
  .transform((q, ctx) => {
    const fromMs = instantMs(q.from, "UTC");
    const toMs = instantMs(q.to, "UTC");
    if (toMs <= fromMs) ctx.addIssue({ code: "custom", path: ["to"], message: "must be after from" });
    else if (toMs - fromMs > 400 * DAY_MS) ctx.addIssue({ code: "custom", path: ["to"], message: "at most 400 days" });
    return { ...q, fromMs, toMs };
  });

const Period = z
  .string()
  .regex(/^\d{1,3}[dw]$/, "a number of days or weeks such as 90d or 52w")
  .transform((p, ctx) => {
    const days = Number(p.slice(0, -1)) * (p.endsWith("w") ? 7 : 1);
    if (days < 1 || days > 400) ctx.addIssue({ code: "custom", message: "between 1 day and 400 days" });
    return days;
  });

const RankingQuery = z
  .strictObject({
    niche: Niche.optional(),
    /** rank for this campaign: its target niches, and its currency for EPC */
    campaign_id: z.coerce.number().pipe(EntityId).optional(),
    metric: RankMetric.default("conversion_rate"),
    /** length of the period ending at `to` */
    period: Period.default(90),
    /** end of the period (exclusive); default now */
    to: Instant.optional(),
    /** settlement currency of the EPC ranking (default: the campaign's) */
    currency: Currency.optional(),
    limit: z.coerce.number().int().min(1).max(500).default(50),
    offset: z.coerce.number().int().min(0).max(100_000).default(0),
  })
  .refine((q) => q.niche !== undefined || q.campaign_id !== undefined, {
    path: ["niche"],
    message: "niche or campaign_id is required",
  });

const IdList = z
  .string()
  .max(2000)
  .regex(/^\d+(,\d+)*$/, "comma-separated ids")
  .transform((v) => [...new Set(v.split(",").map(Number))].slice(0, 200))
  .pipe(z.array(EntityId));
const NamesQuery = z.strictObject({
  influencer_ids: IdList.optional().default([]),
  campaign_ids: IdList.optional().default([]),
});

function parse<S extends z.ZodType>(schema: S, value: unknown, res: express.Response): z.output<S> | undefined {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  sendValidationError(res, r.error);
  return undefined;
}

/** Campaign id -> merchant and settlement currency, for the campaigns that appear in the cells. */
async function campaignFacts(catalog: Catalog, ids: Iterable<number>): Promise<Map<number, CampaignFacts>> {
  const out = new Map<number, CampaignFacts>();
  await Promise.all(
    [...new Set(ids)].map(async (id) => {
      const c = await catalog.getCampaign(id);
      if (c) out.set(id, { merchantId: c.merchant_id, currency: c.currency });
    }),
  );
  return out;
}

const cellCampaigns = (cells: ScoreCells) =>
  [...cells.clicks, ...cells.conversions, ...cells.money].map((c) => c.d_campaign ?? 0);

/**
 * Scorecards and rankings of influencers (docs/adr/0007): GET /influencers/:id/scorecard,
 * GET /niches/:niche/scorecard, GET /influencers/rankings. Admin and finance see every figure; an influencer key its
 * own scorecard only; a merchant key every figure of its own campaigns and, of other merchants' campaigns, only rates
 * pooled over at least SCORECARD_MIN_MERCHANTS other merchants.
 */
export function scorecardsApi(
  ch: ClickHouse,
  catalog: Catalog,
  config: Pick<ReportsConfig, "SCORECARD_MIN_MERCHANTS">,
) {
  const r = express.Router();
  const cellsOf = getScoreCells(ch);
  const weekly = scorecardWeekly(ch);
  /** Click and sale cells of whole weeks from the pre-aggregate, after rebuilding the months that changed. */
  const weeklyCells = async (f: Parameters<typeof getWeeklyCells>[1]) => {
    await weekly.refresh(monthsOf(f.fromWeekMs, f.toWeekMs));
    return getWeeklyCells(ch, f);
  };
  const profiles = new Profiles(catalog.redis, catalog.prefix);
  const listings = new Listings(catalog.redis, catalog.prefix);
  const minMerchants = config.SCORECARD_MIN_MERCHANTS;

  /** Campaigns targeting any of the niches. */
  const nicheCampaigns = async (niches: readonly Niche[]) =>
    [...new Set((await Promise.all(niches.map((n) => listings.inNiche(n)))).flat())].sort((a, b) => a - b);

  /** Full figures, or for a merchant its own campaigns in full and the others' pooled rates (or why they are withheld). */
  async function scorecardBody(p: Principal, q: z.output<typeof ScorecardQuery>, influencerIds?: number[]) {
    const campaignIds = q.niche ? await nicheCampaigns([q.niche]) : undefined;
    const prevFromMs = q.fromMs - (q.toMs - q.fromMs);
    const cells = await cellsOf({
      fromMs: q.fromMs,
      toMs: q.toMs,
      prevFromMs,
      asOfMs: Date.now(),
      influencerIds,
      campaignIds,
      dims: ["campaign", "half"],
    });
    const campaigns = await campaignFacts(catalog, cellCampaigns(cells));
    const niches = await listings.getMany([...campaigns.keys()]);
    const weeks = weeksInPeriod(q.fromMs, q.toMs);
    const period = { from: new Date(q.fromMs).toISOString(), to: new Date(q.toMs).toISOString() };
    const own = (c?: number) => p.role === "merchant" && campaigns.get(c ?? 0)?.merchantId === p.merchant_id;
    const accs = accumulate(cells, campaigns, (c) => {
      const half = c.d_half === 1 ? "cur" : "prev";
      const side = p.role !== "merchant" ? "all" : own(c.d_campaign) ? "own" : "others";
      const keys = [`${half}:${side}`];
      if (side !== "others" && half === "cur")
        for (const n of niches.get(c.d_campaign ?? 0)?.target_niches ?? []) keys.push(`niche:${side}:${n}`);
      return keys;
    });
    const get = (k: string): Acc => accs.get(k) ?? emptyAcc();
    const byNiche = (side: string) =>
      [...accs.keys()]
        .filter((k) => k.startsWith(`niche:${side}:`))
        .sort()
        .map((k) => ({ niche: k.split(":")[2], ...scorecardOf(get(k), weeks) }));
    if (p.role !== "merchant")
      return {
        period,
        visibility: "full",
        scorecard: { ...scorecardOf(get("cur:all"), weeks), trend: trendOf(get("cur:all"), get("prev:all")) },
        by_niche: byNiche("all"),
      };
    const others = get("cur:others");
    const pooled = [...others.merchants].filter((m) => m !== p.merchant_id).length;
    return {
      period,
      visibility: "merchant",
      own_campaigns: { ...scorecardOf(get("cur:own"), weeks), trend: trendOf(get("cur:own"), get("prev:own")) },
      own_by_niche: byNiche("own"),
      other_merchants:
        pooled >= minMerchants
          ? { ...ratesOf(others, weeks), withheld: null }
          : {
              withheld: `rates of other merchants' campaigns are shown when they pool at least ${minMerchants} merchants`,
            },
    };
  }

  r.get("/influencers/rankings", (req, res, next) => rankings(req, res).catch(next));

  r.get("/niches", (_req, res) => {
    res.json({ niches: Object.entries(NICHES).map(([id, label]) => ({ id, label })) });
  });

  /** Display names for ids the dashboard shows; an influencer key gets its own name only. */
  r.get("/names", async (req, res, next) => {
    try {
      const q = parse(NamesQuery, req.query, res);
      if (!q) return;
      const p = principalOf(res);
      const people =
        p.role === "influencer" ? q.influencer_ids.filter((id) => id === p.influencer_id) : q.influencer_ids;
      const [influencers, campaigns] = await Promise.all([
        Promise.all(people.map((id) => catalog.getInfluencer(id))),
        Promise.all(q.campaign_ids.map((id) => catalog.getCampaign(id))),
      ]);
      res.json({
        influencers: Object.fromEntries(influencers.flatMap((i) => (i ? [[i.id, i.name]] : []))),
        campaigns: Object.fromEntries(campaigns.flatMap((c) => (c ? [[c.id, c.name]] : []))),
      });
    } catch (err) {
      next(err);
    }
  });

  r.get("/influencers/:id/scorecard", async (req, res, next) => {
    try {
      const id = parse(z.coerce.number().pipe(EntityId), req.params.id, res);
      const q = id && parse(ScorecardQuery, req.query, res);
      if (!id || !q) return;
      const p = principalOf(res);
      if (p.role === "influencer" && p.influencer_id !== id)
        return sendError(res, "forbidden", "an influencer key sees its own scorecard only", [
          { path: "id", message: "not this key's influencer", code: "forbidden" },
        ]);
      const influencer = await catalog.getInfluencer(id);
      if (!influencer) return sendError(res, "not_found", "no such influencer");
      const profile = await profiles.get(id);
      res.json({
        influencer_id: id,
        name: influencer.name,
        handle: influencer.handle ?? null,
        profile: profile ? viewProfile(profile) : null,
        niche: q.niche ?? null,
        ...(await scorecardBody(p, q, [id])),
      });
    } catch (err) {
      next(err);
    }
  });

  r.get("/niches/:niche/scorecard", async (req, res, next) => {
    try {
      const niche = parse(Niche, req.params.niche, res);
      const q = niche && parse(ScorecardQuery, { ...req.query, niche }, res);
      if (!niche || !q) return;
      const p = principalOf(res);
      if (p.role === "influencer") return sendError(res, "forbidden", "influencer keys see their own scorecard only");
      res.json({ niche, ...(await scorecardBody(p, q)) });
    } catch (err) {
      next(err);
    }
  });

  async function rankings(req: express.Request, res: express.Response) {
    const q = parse(RankingQuery, req.query, res);
    if (!q) return;
    const p = principalOf(res);
    if (p.role === "influencer") return sendError(res, "forbidden", "rankings are for brands, admin and finance");
    let niches: Niche[] = q.niche ? [q.niche] : [];
    let currency = q.currency;
    if (q.campaign_id !== undefined) {
      const c = await catalog.getCampaign(q.campaign_id);
      if (!c || (p.role === "merchant" && c.merchant_id !== p.merchant_id))
        return sendError(res, "not_found", "no such campaign", [
          { path: "campaign_id", message: "no such campaign", code: "not_found" },
        ]);
      currency ??= c.currency;
      if (niches.length === 0) niches = (await listings.get(c.id))?.target_niches ?? [];
    }
    if (q.metric === "epc" && !currency)
      return sendError(res, "validation_failed", "the request has invalid fields", [
        { path: "currency", message: "required for metric=epc (or give campaign_id)", code: "custom" },
      ]);
    // whole UTC weeks: the week holding `to` (to's instant excluded) and the weeks before it, as many as the period spans
    const toMs = mondayMs((q.to === undefined ? Date.now() : instantMs(q.to, "UTC")) - 1) + 7 * DAY_MS;
    const fromMs = toMs - Math.ceil(q.period / 7) * 7 * DAY_MS;
    const candidates = [...new Set((await Promise.all(niches.map((n) => profiles.inNiche(n)))).flat())];
    let campaignIds = await nicheCampaigns(niches);
    if (q.metric === "epc") {
      const facts = await campaignFacts(catalog, campaignIds);
      campaignIds = campaignIds.filter((id) => facts.get(id)?.currency === currency);
    }
    const merchantId = p.role === "merchant" ? p.merchant_id : undefined;
    const scope = { influencerIds: candidates, campaignIds, ownMerchantId: merchantId };
    const cells =
      q.metric === "epc"
        ? await cellsOf({ fromMs, toMs, asOfMs: Date.now(), ...scope, dims: ["influencer", "own"] }, [
            "clicks",
            "money",
          ])
        : await weeklyCells({ fromWeekMs: fromMs, toWeekMs: toMs, ...scope, dims: ["influencer", "own"] });
    const weeks = weeksInPeriod(fromMs, toMs);
    // EPC is money: a merchant ranks on its own campaigns only, clicks and commission alike
    const pool = q.metric === "epc" && merchantId !== undefined ? Number.POSITIVE_INFINITY : minMerchants;
    const visible = visibleAccs(cells, candidates, merchantId, pool);
    const earned = new Map<number, number>();
    for (const m of cells.money)
      if (m.commission_currency === currency && visible.money(m.d_influencer ?? 0, m.d_own ?? 0))
        earned.set(m.d_influencer ?? 0, (earned.get(m.d_influencer ?? 0) ?? 0) + m.earned_minor);
    // with visible clicks but no commission the EPC is 0; without visible clicks there is no EPC (ranked last)
    for (const [id, a] of visible.accs) if (a.clicks > a.botClicks && !earned.has(id)) earned.set(id, 0);
    const scored = rank(q.metric, visible.accs, weeks, earned);
    const page = scored.slice(q.offset, q.offset + q.limit);
    const spark = await sparklines(
      page.map((x) => x.influencerId),
      { fromMs: Math.max(fromMs, toMs - SPARK_WEEKS * 7 * DAY_MS), toMs, campaignIds, merchantId },
      visible.pooled,
    );
    const rows = (await describeRows(page, visible, q.offset, weeks)).map((row) => ({
      ...row,
      sparkline: spark.get(row.influencer_id) ?? [],
    }));
    res.json({
      niches,
      campaign_id: q.campaign_id ?? null,
      metric: q.metric,
      currency: q.metric === "epc" ? currency : null,
      period: { from: new Date(fromMs).toISOString(), to: new Date(toMs).toISOString(), days: q.period },
      bound: boundMethod(q.metric),
      visibility: merchantId === undefined ? "full" : "merchant",
      min_merchants: merchantId === undefined ? null : minMerchants,
      candidates: candidates.length,
      rows,
      next_offset: scored.length > q.offset + q.limit ? q.offset + q.limit : null,
    });
  }

  /**
   * Weekly non-bot clicks and credited sales of the last weeks, per influencer of a page, over what the caller may
   * see (a merchant: its own campaigns, plus the others' where they pool enough merchants). Weeks start on Monday.
   */
  async function sparklines(
    ids: number[],
    w: { fromMs: number; toMs: number; campaignIds: number[]; merchantId?: number },
    pooled: ReadonlySet<number>,
  ) {
    const out = new Map<number, { week: string; clicks: number; conversions: number }[]>();
    if (ids.length === 0) return out;
    const cells = await weeklyCells({
      fromWeekMs: w.fromMs,
      toWeekMs: w.toMs,
      influencerIds: ids,
      campaignIds: w.campaignIds,
      ownMerchantId: w.merchantId,
      dims: ["influencer", "own", "week"],
    });
    const shown = (c: { d_influencer?: number; d_own?: number }) =>
      w.merchantId === undefined || c.d_own === 1 || pooled.has(c.d_influencer ?? 0);
    const accs = accumulate(cells, new Map(), (c) => (shown(c) ? [`${c.d_influencer}|${c.d_week}`] : []));
    const weeks: string[] = [];
    for (let t = mondayMs(w.fromMs); t < w.toMs; t += 7 * DAY_MS) weeks.push(new Date(t).toISOString().slice(0, 10));
    for (const id of ids)
      out.set(
        id,
        weeks.map((week) => {
          const a = accs.get(`${id}|${week}`);
          return { week, clicks: a ? a.clicks - a.botClicks : 0, conversions: a?.conversions ?? 0 };
        }),
      );
    return out;
  }

  /** Names, profiles and the row figures of a ranking page. */
  async function describeRows(
    page: ReturnType<typeof rank>,
    visible: ReturnType<typeof visibleAccs>,
    offset: number,
    weeks: number,
  ) {
    const ids = page.map((s) => s.influencerId);
    const [people, profs] = await Promise.all([
      Promise.all(ids.map((id) => catalog.getInfluencer(id))),
      profiles.getMany(ids),
    ]);
    return page.map((s, i) => {
      const prof = profs.get(s.influencerId);
      const view = prof ? viewProfile(prof) : undefined;
      const a = visible.accs.get(s.influencerId) ?? emptyAcc();
      return {
        rank: offset + i + 1,
        influencer_id: s.influencerId,
        name: people[i]?.name ?? null,
        handle: people[i]?.handle ?? null,
        tier: view?.tier ?? null,
        audience_size: view?.audience_size ?? null,
        audience_verified: view?.audience_verified ?? false,
        niches: view?.niches ?? [],
        basis: visible.basis.get(s.influencerId) ?? "none",
        value: s.value,
        bound: Number.isFinite(s.bound) ? s.bound : null,
        sample: { successes: s.successes, trials: s.trials },
        ...ratesOf(a, weeks),
      };
    });
  }
  return r;
}

/**
 * What a caller may rank on, per candidate. Admin and finance: everything. A merchant: its own campaigns, plus other
 * merchants' campaigns when they pool at least `minMerchants` other merchants (rates and counts only: money of other
 * merchants is never visible, so EPC uses own campaigns only).
 */
function visibleAccs(cells: ScoreCells, candidates: number[], merchantId: number | undefined, minMerchants: number) {
  const byKey = accumulate(cells, new Map(), (c) => [`${c.d_influencer}:${c.d_own}`]);
  const accs = new Map<number, Acc>();
  const basis = new Map<number, "all" | "own" | "own+others" | "none">();
  const pooled = new Set<number>();
  for (const id of candidates) {
    const own = byKey.get(`${id}:1`);
    const others = byKey.get(`${id}:0`);
    const othersOk =
      others !== undefined &&
      (merchantId === undefined || [...others.merchants].filter((m) => m !== merchantId).length >= minMerchants);
    if (othersOk) pooled.add(id);
    const parts = [own, othersOk ? others : undefined].filter((a): a is Acc => a !== undefined);
    accs.set(id, mergeAccs(parts));
    basis.set(id, merchantId === undefined ? "all" : othersOk ? "own+others" : own ? "own" : "none");
  }
  const money = (_id: number, ownFlag: number) => merchantId === undefined || ownFlag === 1;
  return { accs, basis, pooled, money };
}

function mergeAccs(parts: Acc[]): Acc {
  const out = emptyAcc();
  for (const a of parts) {
    out.clicks += a.clicks;
    out.botClicks += a.botClicks;
    out.uniqueClicks += a.uniqueClicks;
    out.conversions += a.conversions;
    out.clickConversions += a.clickConversions;
    out.suspect += a.suspect;
    out.pending += a.pending;
    out.approved += a.approved;
    out.rejected += a.rejected;
    out.refunded += a.refunded;
    for (const w of a.weeks) out.weeks.add(w);
    for (const m of a.merchants) out.merchants.add(m);
  }
  return out;
}
