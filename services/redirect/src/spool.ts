import {
  appendFileSync,
  createReadStream,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";

export type AppendResult = { written: number; dropped: number };

/**
 * Append-only file of JSON lines for events Kafka could not take, bounded by `maxBytes` on disk (the file being
 * written plus the one being drained). `drain` renames the file before reading it, so lines appended while a replay
 * is under way go to a fresh file and are never lost or read twice; it streams the file and records how far Kafka
 * acknowledged in a small offset file, so memory stays flat whatever the size and a replay that fails half-way
 * resumes where it stopped.
 *
 * When full, `append` keeps what fits and drops the newest lines, reporting how many: the redirect keeps answering
 * (a click it cannot keep is counted, never a reason to fail a shopper), and the bound protects the disk the
 * service and its host need.
 */
export class Spool {
  private readonly file: string;
  private readonly draining: string;
  private readonly offsetFile: string;
  private bytes: number;

  constructor(
    dir: string,
    name: string,
    private readonly maxBytes = Number.POSITIVE_INFINITY,
  ) {
    mkdirSync(dir, { recursive: true });
    this.file = path.join(dir, `${name}.jsonl`);
    this.draining = path.join(dir, `${name}.draining.jsonl`);
    this.offsetFile = path.join(dir, `${name}.draining.offset`);
    this.bytes = sizeOf(this.file) + sizeOf(this.draining) - this.acknowledged();
  }

  /** Bytes on disk waiting to be replayed. */
  get size(): number {
    return this.bytes;
  }

  get hasData(): boolean {
    return existsSync(this.draining) || existsSync(this.file);
  }

  /** Synchronous so that a line is on disk before the caller goes on (used on overflow and at shutdown). */
  append(lines: readonly string[]): AppendResult {
    let take = 0;
    let chunkBytes = 0;
    for (const line of lines) {
      const b = Buffer.byteLength(line) + 1;
      if (this.bytes + chunkBytes + b > this.maxBytes) break;
      chunkBytes += b;
      take++;
    }
    if (take > 0) {
      appendFileSync(this.file, `${lines.slice(0, take).join("\n")}\n`);
      this.bytes += chunkBytes;
    }
    return { written: take, dropped: lines.length - take };
  }

  /**
   * Hands every spooled line, oldest first, to `send` in chunks; the draining file is removed only after the last
   * chunk was acknowledged. If `send` throws, the next drain resumes after the last acknowledged chunk.
   */
  async drain(send: (lines: string[]) => Promise<void>, chunk = 1_000): Promise<number> {
    if (!existsSync(this.draining)) {
      if (!existsSync(this.file)) return 0;
      rmSync(this.offsetFile, { force: true }); // left by a crash between the two removals below
      renameSync(this.file, this.draining);
    }
    let offset = this.acknowledged();
    let sent = 0;
    let batch: string[] = [];
    let batchBytes = 0;
    const flush = async () => {
      if (batch.length > 0) await send(batch);
      sent += batch.length;
      offset += batchBytes;
      this.bytes -= batchBytes;
      writeFileSync(this.offsetFile, String(offset));
      batch = [];
      batchBytes = 0;
    };
    const lines = createInterface({ input: createReadStream(this.draining, { start: offset }), crlfDelay: Infinity });
    try {
      for await (const line of lines) {
        batchBytes += Buffer.byteLength(line) + 1;
        if (line !== "") batch.push(line);
        if (batch.length >= chunk) await flush();
      }
      if (batchBytes > 0) await flush();
    } finally {
      lines.close();
    }
    rmSync(this.draining);
    rmSync(this.offsetFile, { force: true });
    return sent;
  }

  /** Bytes of the draining file already acknowledged by an earlier, interrupted drain. */
  private acknowledged(): number {
    if (!existsSync(this.offsetFile) || !existsSync(this.draining)) return 0;
    const n = Number(readFileSync(this.offsetFile, "utf8"));
    return Number.isSafeInteger(n) && n >= 0 ? n : 0;
  }
}

function sizeOf(file: string): number {
  return existsSync(file) ? statSync(file).size : 0;
}
