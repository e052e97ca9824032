/** Time zones: the names Intl knows plus UTC, and local wall-clock time -> UTC instant without a tz library. */
const ZONES = new Set([...Intl.supportedValuesOf("timeZone"), "UTC"]);

/**
 * Intl lists canonical names only (Asia/Calcutta, not Asia/Kolkata), so a current IANA name Intl accepts as an alias
 * is a zone too.
 */
export function isTimeZone(tz: string): boolean {
  if (ZONES.has(tz)) return true;
  if (!/^[A-Z][A-Za-z_]+(\/[A-Z][A-Za-z0-9_+-]+){1,2}$/.test(tz)) return false;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: tz,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    formatters.set(tz, f);
  }
  return f;
}

/** Offset of `tz` from UTC at the instant `utcMs`, in ms (Berlin in winter: +3 600 000). */
export function zoneOffsetMs(utcMs: number, tz: string): number {
  const p: Record<string, number> = {};
  for (const part of formatter(tz).formatToParts(new Date(utcMs)))
    if (part.type !== "literal") p[part.type] = Number(part.value);
  const asUtc = Date.UTC(p.year ?? 0, (p.month ?? 1) - 1, p.day ?? 1, p.hour ?? 0, p.minute ?? 0, p.second ?? 0);
  return asUtc - Math.floor(utcMs / 1000) * 1000;
}

/** The UTC instant of a local wall-clock time in `tz` (for a time skipped by a DST jump, the instant after it). */
export function zonedTimeToUtcMs(localAsUtcMs: number, tz: string): number {
  const first = localAsUtcMs - zoneOffsetMs(localAsUtcMs, tz);
  const second = localAsUtcMs - zoneOffsetMs(first, tz);
  return second === first ? first : Math.max(first, second);
}

/**
 * Whether every UTC offset `tz` uses in [fromMs, toMs] is a multiple of `stepMs` (15 minutes: every offset in use
 * since 1986). Offsets are sampled every `sampleMs`; a zone keeps an offset for months, never for under 3 hours.
 */
export function offsetsAreMultiplesOf(
  tz: string,
  fromMs: number,
  toMs: number,
  stepMs: number,
  sampleMs = 3 * 3_600_000,
) {
  for (let t = fromMs; t < toMs + sampleMs; t += sampleMs) {
    if (zoneOffsetMs(Math.min(t, toMs), tz) % stepMs !== 0) return false;
  }
  return true;
}
