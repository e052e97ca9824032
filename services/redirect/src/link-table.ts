import { LINK_CODE_PATTERN } from "@aff/catalog";

/** The fixed part of a link's record; the code and the path follow it in the arena. */
export type LinkFields = { linkId: number; influencerId: number; expiresAtMs: number; routeIndex: number };

/** A link that must not redirect (revoked, or its destination no longer allowed) is held with no fields. */
export type LinkEntry = (LinkFields & { path: string }) | null;

/**
 * Above glibc's largest dynamic mmap threshold (32 MiB on 64-bit), so every chunk is its own mapping: pages count
 * once written, and a chunk released by compaction goes back to the system. 4 MiB chunks landed in the malloc heap
 * once a freed hash table had raised the threshold, and the heap kept the holes (~30 MB at a million links).
 */
const DEFAULT_CHUNK_BYTES = 48 * 1024 * 1024;
/** flags u8, code length u8, path length u16, route u32, link id u32, influencer id u32, then expiry f64 if any */
const HEADER_BYTES = 16;
const EXPIRY_BYTES = 8;
const BLOCKED = 1;
const HAS_EXPIRY = 2;
const EMPTY = 0;
const TOMBSTONE = 0xffffffff;
const MAX_LOAD = 0.7;
const MIN_CAPACITY = 1024;
/** compact once this much of the arena is dead records, and dead records outweigh the live ones */
const COMPACT_MIN_GARBAGE_BYTES = 16 * 1024 * 1024;

/** FNV-1a over the code's characters (link codes are ASCII, see LINK_CODE_PATTERN). */
function hashCode(code: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < code.length; i++) h = Math.imul(h ^ code.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** The same hash over the code as stored in a record (ASCII bytes). */
function hashBytes(b: Buffer, start: number, length: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < start + length; i++) h = Math.imul(h ^ (b[i] as number), 0x01000193);
  return h >>> 0;
}

/**
 * Every link the redirect holds, off the V8 heap: records in 48 MiB buffers (an arena written in order) and an
 * open-addressing hash table of typed arrays from code to record. A million links as strings in a Map or an LRU
 * cost ~170 bytes each on the heap, plus the garbage collector's headroom; here they cost the ~80 bytes of their
 * record and ~13 bytes of table (6 bytes per slot: offset, hash tag, reference bit), and the collector never walks them.
 *
 * A changed link is appended and the old record becomes dead space; rewriting an identical record (the periodic
 * resync) writes nothing. When dead space outweighs the live records the arena is copied in order, one chunk at a
 * time, so the copy needs one chunk of headroom. Past `max` entries, the clock algorithm (a reference bit per slot,
 * set on each read) evicts a link not read since the hand last passed: an approximation of least recently used.
 * Link codes are ASCII (3-64 characters); other codes are never stored.
 */
export class LinkTable {
  private chunks: (Buffer | undefined)[] = [];
  private chunkUsed: number[] = [];
  /** the chunk records are appended to (-1: none yet) */
  private current = -1;
  /** record offset + 1 per slot (0: empty, TOMBSTONE: deleted) */
  private slots = new Uint32Array(MIN_CAPACITY);
  /** the top byte of each slot's hash: most probes that miss are told apart without reading the arena */
  private tags = new Uint8Array(MIN_CAPACITY);
  private referenced = new Uint8Array(MIN_CAPACITY);
  private live = 0;
  private deleted = 0;
  private liveBytes = 0;
  private garbageBytes = 0;
  private hand = 0;

  constructor(
    private readonly max = Number.POSITIVE_INFINITY,
    /** bytes per arena chunk (smaller in tests, to walk many chunks) */
    private readonly chunkBytes = DEFAULT_CHUNK_BYTES,
  ) {}

  get size(): number {
    return this.live;
  }

  /** Bytes of the arena in use (live and dead records). */
  get arenaBytes(): number {
    return this.liveBytes + this.garbageBytes;
  }

  has(code: string): boolean {
    return this.find(code, hashCode(code)) >= 0;
  }

  /** The entry for a code: undefined when it is not held, null when it is held as "must not redirect". */
  get(code: string): LinkEntry | undefined {
    const slot = this.find(code, hashCode(code));
    if (slot < 0) return undefined;
    this.referenced[slot] = 1;
    return this.read((this.slots[slot] as number) - 1);
  }

  set(code: string, entry: LinkEntry): void {
    if (!LINK_CODE_PATTERN.test(code)) return;
    const hash = hashCode(code);
    let slot = this.find(code, hash);
    const record = encodeRecord(code, entry);
    if (slot >= 0) {
      const old = (this.slots[slot] as number) - 1;
      if (this.sameRecord(old, record)) return;
      this.forget(old);
    } else {
      if (this.live >= this.max) this.evictOne();
      if ((this.live + this.deleted + 1) / this.slots.length > MAX_LOAD) this.rehash();
      slot = this.freeSlot(hash);
      if (this.slots[slot] === TOMBSTONE) this.deleted--;
      this.tags[slot] = hash >>> 24;
      this.live++;
    }
    this.slots[slot] = this.append(record) + 1;
    this.referenced[slot] = 1;
    this.liveBytes += record.length;
    if (this.garbageBytes > COMPACT_MIN_GARBAGE_BYTES && this.garbageBytes > this.liveBytes) this.compact();
  }

  delete(code: string): void {
    const slot = this.find(code, hashCode(code));
    if (slot < 0) return;
    this.forget((this.slots[slot] as number) - 1);
    this.slots[slot] = TOMBSTONE;
    this.live--;
    this.deleted++;
  }

  private forget(offset: number): void {
    const len = this.recordLength(offset);
    this.liveBytes -= len;
    this.garbageBytes += len;
  }

  /** The slot holding `code`, or -1. */
  private find(code: string, hash: number): number {
    const mask = this.slots.length - 1;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const s = this.slots[i] as number;
      if (s === EMPTY) return -1;
      if (s !== TOMBSTONE && this.tags[i] === hash >>> 24 && this.codeIs(s - 1, code)) return i;
    }
  }

  private freeSlot(hash: number): number {
    const mask = this.slots.length - 1;
    let i = hash & mask;
    while (this.slots[i] !== EMPTY && this.slots[i] !== TOMBSTONE) i = (i + 1) & mask;
    return i;
  }

  /** A table twice as large when live entries fill it, the same size when tombstones do. */
  private rehash(): void {
    let capacity = this.slots.length;
    while ((this.live + 1) / capacity > 0.5) capacity *= 2;
    const { slots, referenced } = this;
    this.slots = new Uint32Array(capacity);
    this.tags = new Uint8Array(capacity);
    this.referenced = new Uint8Array(capacity);
    this.deleted = 0;
    this.hand = 0;
    for (let i = 0; i < slots.length; i++) {
      const s = slots[i] as number;
      if (s === EMPTY || s === TOMBSTONE) continue;
      const hash = this.hashAt(s - 1);
      const j = this.freeSlot(hash);
      this.slots[j] = s;
      this.tags[j] = hash >>> 24;
      this.referenced[j] = referenced[i] as number;
    }
  }

  /** Clock: clears reference bits until it meets a live entry whose bit was already clear, and deletes that one. */
  private evictOne(): void {
    const mask = this.slots.length - 1;
    for (;;) {
      const i = this.hand;
      this.hand = (i + 1) & mask;
      const s = this.slots[i] as number;
      if (s === EMPTY || s === TOMBSTONE) continue;
      if (this.referenced[i] === 1) {
        this.referenced[i] = 0;
        continue;
      }
      this.forget(s - 1);
      this.slots[i] = TOMBSTONE;
      this.live--;
      this.deleted++;
      return;
    }
  }

  private append(record: Buffer): number {
    if (this.current < 0 || (this.chunkUsed[this.current] as number) + record.length > this.chunkBytes) {
      // The lowest free index: during compaction, never one of the chunks still to be walked (see compact).
      let free = this.chunks.indexOf(undefined);
      if (free < 0) free = this.chunks.push(undefined) - 1;
      this.chunks[free] = Buffer.allocUnsafeSlow(this.chunkBytes);
      this.chunkUsed[free] = 0;
      this.current = free;
    }
    const at = this.chunkUsed[this.current] as number;
    record.copy(this.chunks[this.current] as Buffer, at);
    this.chunkUsed[this.current] = at + record.length;
    return this.current * this.chunkBytes + at;
  }

  /**
   * Copies the live records into fresh chunks, walking the old ones in order and releasing each once walked: the
   * copy needs one chunk of headroom, not a second arena. A record is live when a slot on its hash's probe path
   * holds its offset; new chunks only take indices already released, so no slot can hold a new record's offset
   * that equals an old record's offset still to be walked.
   */
  private compact(): void {
    const walk = this.chunks.flatMap((c, i) => (c === undefined ? [] : [i]));
    this.current = -1;
    for (const c of walk) {
      const chunk = this.chunks[c] as Buffer;
      const end = this.chunkUsed[c] as number;
      for (let at = 0; at < end; ) {
        const len = recordLength(chunk, at);
        const slot = this.slotOf(
          c * this.chunkBytes + at,
          hashBytes(chunk, codeStart(chunk, at), chunk[at + 1] as number),
        );
        if (slot >= 0) this.slots[slot] = this.append(chunk.subarray(at, at + len)) + 1;
        at += len;
      }
      this.chunks[c] = undefined;
    }
    this.garbageBytes = 0;
  }

  /** The slot holding the record at `offset`, or -1 when that record is dead. */
  private slotOf(offset: number, hash: number): number {
    const mask = this.slots.length - 1;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const s = this.slots[i] as number;
      if (s === EMPTY) return -1;
      if (s === offset + 1) return i;
    }
  }

  private locate(offset: number): { chunk: Buffer; at: number } {
    return { chunk: this.chunks[Math.floor(offset / this.chunkBytes)] as Buffer, at: offset % this.chunkBytes };
  }

  private hashAt(offset: number): number {
    const { chunk, at } = this.locate(offset);
    return hashBytes(chunk, codeStart(chunk, at), chunk[at + 1] as number);
  }

  private recordLength(offset: number): number {
    const { chunk, at } = this.locate(offset);
    return recordLength(chunk, at);
  }

  private codeIs(offset: number, code: string): boolean {
    const { chunk, at } = this.locate(offset);
    if (chunk[at + 1] !== code.length) return false;
    const start = codeStart(chunk, at);
    for (let i = 0; i < code.length; i++) if (chunk[start + i] !== code.charCodeAt(i)) return false;
    return true;
  }

  private sameRecord(offset: number, record: Buffer): boolean {
    const { chunk, at } = this.locate(offset);
    return chunk.compare(record, 0, record.length, at, at + record.length) === 0;
  }

  private read(offset: number): LinkEntry {
    const { chunk, at } = this.locate(offset);
    const flags = chunk[at] as number;
    if (flags & BLOCKED) return null;
    const pathStart = codeStart(chunk, at) + (chunk[at + 1] as number);
    return {
      routeIndex: chunk.readUInt32LE(at + 4),
      linkId: chunk.readUInt32LE(at + 8),
      influencerId: chunk.readUInt32LE(at + 12),
      expiresAtMs: flags & HAS_EXPIRY ? chunk.readDoubleLE(at + HEADER_BYTES) : 0,
      path: chunk.toString("utf8", pathStart, pathStart + chunk.readUInt16LE(at + 2)),
    };
  }
}

const codeStart = (chunk: Buffer, at: number): number =>
  at + HEADER_BYTES + ((chunk[at] as number) & HAS_EXPIRY ? EXPIRY_BYTES : 0);

const recordLength = (chunk: Buffer, at: number): number =>
  codeStart(chunk, at) - at + (chunk[at + 1] as number) + chunk.readUInt16LE(at + 2);

/** Encodes into a scratch buffer reused for every record (the arena copies it): no garbage per record. */
const scratch = Buffer.allocUnsafeSlow(HEADER_BYTES + EXPIRY_BYTES + 64 + 0xffff);

function encodeRecord(code: string, entry: LinkEntry): Buffer {
  const pathBytes = entry === null ? 0 : Buffer.byteLength(entry.path);
  if (pathBytes > 0xffff) throw new RangeError("link path longer than 65535 bytes");
  const expiry = entry !== null && entry.expiresAtMs !== 0;
  const b = scratch;
  b.fill(0, 0, HEADER_BYTES);
  b[0] = (entry === null ? BLOCKED : 0) | (expiry ? HAS_EXPIRY : 0);
  b[1] = code.length;
  b.writeUInt16LE(pathBytes, 2);
  let at = HEADER_BYTES;
  if (entry !== null) {
    b.writeUInt32LE(entry.routeIndex, 4);
    b.writeUInt32LE(entry.linkId, 8);
    b.writeUInt32LE(entry.influencerId, 12);
    if (expiry) at = b.writeDoubleLE(entry.expiresAtMs, at);
  }
  at += b.write(code, at, "latin1");
  if (entry !== null) at += b.write(entry.path, at, "utf8");
  return b.subarray(0, at);
}
