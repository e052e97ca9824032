/**
 * Which (link, truncated IP, user agent, hour) this instance has seen, for the click's `is_unique` hint (approximate
 * by design, see docs/adr/0003). Visitors are kept as 52-bit hashes of those facts in two generations of number
 * sets: when the current one holds half the bound it becomes the previous one and the oldest generation is
 * forgotten. An LRU of the joined strings cost ~200 bytes per visitor on the heap (22 MB at its 100,000 bound, plus
 * the collector's headroom, under load); a hash costs ~20. Two visitors sharing a hash (odds ~10^-6 at the bound)
 * make the second not unique.
 */
export class UniqueVisitors {
  private current = new Set<number>();
  private previous = new Set<number>();

  constructor(private readonly max: number) {}

  /** True the first time these facts are seen (within what is remembered); records them. */
  firstVisit(linkId: number, ip: string, userAgent: string, hour: number): boolean {
    const h = visitorHash(linkId, ip, userAgent, hour);
    if (this.current.has(h) || this.previous.has(h)) return false;
    if (this.current.size >= this.max / 2) {
      this.previous = this.current;
      this.current = new Set();
    }
    this.current.add(h);
    return true;
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

/**
 * Two FNV-1a passes with different offsets over the link, hour and IP, each then folding in the user agent's hash of
 * the same pass (xor then multiply by the odd prime: distinct user agent hashes stay distinct), combined into a
 * 52-bit integer (exact in a double).
 */
function visitorHash(linkId: number, ip: string, userAgent: string, hour: number): number {
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
  return (a >>> 0) * 0x100000 + ((b >>> 0) & 0xfffff);
}
