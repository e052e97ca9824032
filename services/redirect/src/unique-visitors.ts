/**
 * Which (link, truncated IP, user agent, hour) this instance has seen, for the click's `is_unique` hint (approximate
 * by design, see docs/adr/0003). Visitors are kept as 52-bit hashes of those facts in two generations: when the
 * current one holds half the bound it becomes the previous one and the oldest generation is forgotten. An LRU of the
 * joined strings cost ~200 bytes per visitor on the heap (22 MB at its 100,000 bound, plus the collector's headroom,
 * under load); a hash costs ~20. Two visitors sharing a hash (odds ~10^-6 at the bound) make the second not unique.
 *
 * Each generation is an open-addressing table in one `Uint32Array` (two words per visitor), not a `Set` of numbers:
 * a 52-bit hash is a heap number, and a lookup in a set of 50,000 of them read the set's buckets and then each
 * candidate's number, several cache misses per click; under `bench:redirect` with a million links the set's lookups
 * were ~5 % of the redirect's CPU (docs/adr/0003, "fifth pass"). Here a lookup reads one or two adjacent words.
 */
export class UniqueVisitors {
  private current: VisitorTable;
  private previous: VisitorTable;

  constructor(max: number) {
    const perGeneration = Math.max(1, Math.ceil(max / 2));
    this.current = new VisitorTable(perGeneration);
    this.previous = new VisitorTable(perGeneration);
  }

  /** True the first time these facts are seen (within what is remembered); records them. */
  firstVisit(linkId: number, ip: string, userAgent: string, hour: number): boolean {
    visitorHash(linkId, ip, userAgent, hour);
    const hi = hashHi;
    const lo = hashLo;
    if (this.current.has(hi, lo) || this.previous.has(hi, lo)) return false;
    if (this.current.full) {
      const oldest = this.previous;
      this.previous = this.current;
      oldest.clear();
      this.current = oldest;
    }
    this.current.add(hi, lo);
    return true;
  }
}

/** `lo` carries 20 bits of hash; this bit marks a used slot (a zero pair is a valid hash). */
const USED = 0x80000000;

/**
 * A set of at most `bound` (32-bit, 20-bit) hash pairs: linear probing, at most half full, cleared whole. `add`
 * probes again after a `has` that missed: the same cache line, already read.
 */
class VisitorTable {
  private readonly words: Uint32Array;
  private readonly mask: number;
  private size = 0;

  constructor(private readonly bound: number) {
    let slots = 2;
    while (slots < bound * 2) slots *= 2;
    this.words = new Uint32Array(slots * 2);
    this.mask = slots - 1;
  }

  /** Holding `bound` pairs: the caller rotates generations before the next `add`. */
  get full(): boolean {
    return this.size >= this.bound;
  }

  private first(hi: number): number {
    return (hi ^ (hi >>> 16)) & this.mask;
  }

  has(hi: number, lo: number): boolean {
    const w = this.words;
    const tagged = (lo | USED) >>> 0;
    for (let i = this.first(hi); ; i = (i + 1) & this.mask) {
      const l = w[2 * i + 1] as number;
      if (l === 0) return false;
      if (l === tagged && w[2 * i] === hi) return true;
    }
  }

  /** Adds a pair known to be absent (the table not `full`). */
  add(hi: number, lo: number): void {
    const w = this.words;
    let i = this.first(hi);
    while (w[2 * i + 1] !== 0) i = (i + 1) & this.mask;
    w[2 * i] = hi;
    w[2 * i + 1] = (lo | USED) >>> 0;
    this.size++;
  }

  clear(): void {
    this.words.fill(0);
    this.size = 0;
  }
}

const FNV_PRIME = 0x01000193;
/** user agents whose hashes are remembered; forgotten all at once when full (real traffic repeats a few thousand) */
const USER_AGENTS_MAX = 10_000;
const userAgentHashes = new Map<string, { a: number; b: number }>();

/**
 * Two FNV-1a passes over a user agent, remembered per user agent: hashing its ~100-256 characters in JavaScript cost
 * about a microsecond per click, more than a map lookup keyed by the string (docs/adr/0003).
 */
function userAgentHash(userAgent: string): { a: number; b: number } {
  let h = userAgentHashes.get(userAgent);
  if (h === undefined) {
    let a = 0x811c9dc5;
    let b = 0x050c5d1f;
    for (let i = 0; i < userAgent.length; i++) {
      const c = userAgent.charCodeAt(i);
      a = Math.imul(a ^ c, FNV_PRIME);
      b = Math.imul(b ^ c, FNV_PRIME);
    }
    h = { a, b };
    if (userAgentHashes.size >= USER_AGENTS_MAX) userAgentHashes.clear();
    userAgentHashes.set(userAgent, h);
  }
  return h;
}

/** The last `visitorHash`: its high 32 bits and low 20 bits (module state rather than an object per click). */
let hashHi = 0;
let hashLo = 0;

/**
 * Two FNV-1a passes with different offsets over the link, hour and IP, each then folding in the user agent's hash of
 * the same pass (xor then multiply by the odd prime: distinct user agent hashes stay distinct): a 52-bit hash, the
 * first pass's 32 bits and 20 of the second's, left in `hashHi` and `hashLo`.
 */
function visitorHash(linkId: number, ip: string, userAgent: string, hour: number): void {
  let a = Math.imul(0x811c9dc5 ^ linkId, FNV_PRIME);
  let b = Math.imul(0x050c5d1f ^ hour, FNV_PRIME);
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    a = Math.imul(a ^ c, FNV_PRIME);
    b = Math.imul(b ^ c, FNV_PRIME);
  }
  // the end of the IP, before the user agent's hash is folded in
  a = Math.imul(a ^ 0x7c, FNV_PRIME);
  b = Math.imul(b ^ 0x7c, FNV_PRIME);
  const ua = userAgentHash(userAgent);
  a = Math.imul(a ^ ua.a, FNV_PRIME);
  b = Math.imul(b ^ ua.b, FNV_PRIME);
  hashHi = a >>> 0;
  hashLo = b & 0xfffff;
}
