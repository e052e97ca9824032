import {
  closeSync,
  existsSync,
  ftruncate,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  truncateSync,
  writeSync,
} from "node:fs";
import path from "node:path";
import type { AppendResult, Spool } from "./spool";

/**
 * Write-ahead file of the clicks whose 302s are about to be written, so that a redirect killed at any instant (SIGKILL,
 * OOM) loses no click it answered: the clicks of a turn are appended (one `write`, no fsync: a killed process's
 * writes are in the page cache, and the kernel keeps them) before their answers go out, and the next process moves
 * what it finds into the spool, which replays it to Kafka (docs/adr/0003, "Clicks journaled before their answers").
 * A click the journal gives back that Kafka already had is sent twice; the click tables keep one row per click id.
 *
 * Two files take turns. `seal` hands the one being written over to the flush and goes on in the other; once every
 * click the sealed one holds is acknowledged by Kafka or in the spool, `release` empties it (a truncate off the
 * event loop) and it can take the next turn. Files are neither created nor removed while serving: a file created per
 * flush cost the 302s a directory update every 20 ms. Only one file is sealed at a time, so a Kafka outage grows the
 * other one; past `maxBytes` nothing more is journaled (`write` says so) and clicks wait in memory as they did before
 * the journal, until a release frees room.
 */
export class Journal {
  private readonly files: readonly [string, string];
  private readonly fds: [number | undefined, number | undefined] = [undefined, undefined];
  /** index of the file being written */
  private current: 0 | 1 = 0;
  private currentBytes = 0;
  /** the sealed file waiting for its release, with the id `seal` gave it */
  private sealed: { id: number; index: 0 | 1; bytes: number } | undefined;
  private seals = 0;
  /** bytes of a released file whose truncate has not completed: it cannot take a turn before */
  private truncating = 0;
  /** set by releaseAll: the files are closed once no truncate is pending (a closed fd's number can be reused) */
  private closed = false;

  constructor(
    dir: string,
    name: string,
    private readonly maxBytes: number,
  ) {
    mkdirSync(dir, { recursive: true });
    this.files = [path.join(dir, `${name}.journal.0`), path.join(dir, `${name}.journal.1`)];
  }

  /** Characters (about bytes) of clicks journaled and not released. */
  get size(): number {
    return this.currentBytes + (this.sealed?.bytes ?? 0) + this.truncating;
  }

  /**
   * Moves the clicks a previous process journaled (and may have answered) into the spool, older file first, then
   * empties both. Call once, before the first `write`. A line cut short by the kill (no newline after it) was never
   * answered.
   */
  recover(spool: Spool): AppendResult {
    const total: AppendResult = { written: 0, dropped: 0 };
    const present = this.files.filter((f) => existsSync(f));
    present.sort((a, b) => statSync(a).mtimeMs - statSync(b).mtimeMs);
    for (const file of present) {
      const text = readFileSync(file, "utf8");
      const lines = text.slice(0, text.lastIndexOf("\n") + 1).split("\n");
      lines.pop();
      const { written, dropped } = spool.append(lines);
      total.written += written;
      total.dropped += dropped;
      truncateSync(file, 0);
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
      let fd = this.fds[this.current];
      if (fd === undefined) {
        fd = openSync(this.files[this.current], "a");
        this.fds[this.current] = fd;
      }
      writeSync(fd, text);
    } catch {
      return false;
    }
    this.currentBytes += bytes;
    return true;
  }

  /**
   * Seals the file being written, unless the other one is still sealed or still being emptied; returns the id of the
   * sealed file, which holds every click journaled before this call (the caller releases it once all are safe).
   */
  seal(): number | undefined {
    if (this.sealed === undefined && this.truncating === 0 && this.currentBytes > 0) {
      this.sealed = { id: ++this.seals, index: this.current, bytes: this.currentBytes };
      this.current = this.current === 0 ? 1 : 0;
      this.currentBytes = 0;
    }
    return this.sealed?.id;
  }

  /** Empties the sealed file `id`: every click in it is in Kafka or in the spool. */
  release(id: number): void {
    const sealed = this.sealed;
    const fd = sealed && this.fds[sealed.index];
    if (sealed?.id !== id || fd === undefined) return;
    this.sealed = undefined;
    this.truncating = sealed.bytes;
    // a failed truncate leaves clicks that were sent: a recovery would send them again, and they collapse by id
    ftruncate(fd, 0, () => {
      this.truncating = 0;
      if (this.closed) this.close();
    });
  }

  /** Empties both files, then closes them (at shutdown, once every click is in Kafka or in the spool). */
  releaseAll(): void {
    for (const fd of this.fds) if (fd !== undefined) ftruncateSync(fd, 0);
    this.sealed = undefined;
    this.currentBytes = 0;
    this.closed = true;
    if (this.truncating === 0) this.close();
  }

  private close(): void {
    for (const [i, fd] of this.fds.entries()) {
      if (fd !== undefined) closeSync(fd);
      this.fds[i] = undefined;
    }
  }
}
