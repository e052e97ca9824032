import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from "node:fs";
import path from "node:path";
import type { AppendResult, Spool } from "./spool";

/**
 * Write-ahead file of the clicks whose 302s are about to be written, so that a redirect killed at any instant (SIGKILL,
 * OOM) loses no click it answered: the clicks of a turn are appended (one `write`, no fsync: a killed process's
 * writes are in the page cache, and the kernel keeps them) before their answers go out, and the next process moves
 * what it finds into the spool, which replays it to Kafka (docs/adr/0003, "Clicks journaled before their answers").
 * A click the journal gives back that Kafka already had is sent twice; the click tables keep one row per click id.
 *
 * Files are numbered segments. `seal` closes the one being written; once every click it holds is acknowledged by
 * Kafka or written to the spool, `release` removes it. Only one segment is sealed at a time, so a Kafka outage grows
 * one file rather than a file per flush. Past `maxBytes` on disk nothing more is journaled (`write` says so) and
 * clicks wait in memory as they did before the journal, until a release frees room.
 */
export class Journal {
  private readonly prefix: string;
  private fd: number | undefined;
  /** number of the segment being written */
  private current: number;
  private currentBytes = 0;
  /** the sealed segment not released yet, if any */
  private sealed: { n: number; bytes: number } | undefined;

  constructor(
    private readonly dir: string,
    name: string,
    private readonly maxBytes: number,
  ) {
    mkdirSync(dir, { recursive: true });
    this.prefix = `${name}.journal.`;
    this.current = Math.max(0, ...this.segments()) + 1;
  }

  /** Characters (about bytes) of clicks journaled and not released. */
  get size(): number {
    return this.currentBytes + (this.sealed?.bytes ?? 0);
  }

  /**
   * Moves the clicks a previous process journaled (and may have answered) into the spool, then removes its segments.
   * Call once, before the first `write`. A line cut short by the kill (no newline after it) was never answered.
   */
  recover(spool: Spool): AppendResult {
    const total: AppendResult = { written: 0, dropped: 0 };
    for (const n of this.segments()) {
      if (n >= this.current) continue;
      const text = readFileSync(this.file(n), "utf8");
      const lines = text.slice(0, text.lastIndexOf("\n") + 1).split("\n");
      lines.pop();
      const { written, dropped } = spool.append(lines);
      total.written += written;
      total.dropped += dropped;
      rmSync(this.file(n));
    }
    return total;
  }

  /**
   * Appends serialized clicks (one line each); false when the journal is full or the disk refuses the write (then
   * the clicks wait in memory, never a reason to fail a redirect; a line half written joins the next one as one
   * unreadable line, which the worker dead-letters if a recovery ever replays it).
   */
  write(lines: readonly string[]): boolean {
    if (lines.length === 0) return true;
    const text = `${lines.join("\n")}\n`;
    // characters, not bytes: the bound is approximate (a user agent may hold multi-byte characters), and counting
    // bytes would read every answered turn's text once more on the hot path
    const bytes = text.length;
    if (this.size + bytes > this.maxBytes) return false;
    try {
      this.fd ??= openSync(this.file(this.current), "a");
      writeSync(this.fd, text);
    } catch {
      return false;
    }
    this.currentBytes += bytes;
    return true;
  }

  /**
   * Seals the segment being written unless another sealed segment still waits for its release; returns the sealed
   * segment, which holds every click journaled before this call (the caller releases it once they are all safe).
   */
  seal(): number | undefined {
    if (this.sealed === undefined && this.fd !== undefined) {
      closeSync(this.fd);
      this.fd = undefined;
      this.sealed = { n: this.current, bytes: this.currentBytes };
      this.current++;
      this.currentBytes = 0;
    }
    return this.sealed?.n;
  }

  /** Removes the sealed segment `n`: every click in it is in Kafka or in the spool. */
  release(n: number): void {
    if (this.sealed?.n !== n) return;
    rmSync(this.file(n), { force: true });
    this.sealed = undefined;
  }

  /** Removes every segment (at shutdown, once every click is in Kafka or in the spool). */
  releaseAll(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    if (this.sealed) this.release(this.sealed.n);
    rmSync(this.file(this.current), { force: true });
    this.currentBytes = 0;
  }

  private file(n: number): string {
    return path.join(this.dir, `${this.prefix}${n}`);
  }

  /** Numbers of the segments on disk, oldest first. */
  private segments(): number[] {
    return readdirSync(this.dir)
      .filter((f) => f.startsWith(this.prefix))
      .map((f) => Number(f.slice(this.prefix.length)))
      .filter((n) => Number.isSafeInteger(n) && n > 0)
      .sort((a, b) => a - b);
  }
}
