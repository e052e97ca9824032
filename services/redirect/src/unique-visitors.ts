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

/** Two FNV-1a passes with different offsets over the same facts, combined into a 52-bit integer (exact in a double). */
function visitorHash(linkId: number, ip: string, userAgent: string, hour: number): number {
  let a = Math.imul(0x811c9dc5 ^ linkId, 0x01000193);
  let b = Math.imul(0x050c5d1f ^ hour, 0x01000193);
  for (const s of [ip, userAgent]) {
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x01000193);
    }
    a = Math.imul(a ^ 0x7c, 0x01000193); // a separator, so "ab"+"c" and "a"+"bc" differ
    b = Math.imul(b ^ 0x7c, 0x01000193);
  }
  return (a >>> 0) * 0x100000 + ((b >>> 0) & 0xfffff);
}
