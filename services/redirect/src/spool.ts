import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";

/**
 * Append-only file of JSON lines for events Kafka could not take. `drain` renames the file before reading it, so
 * lines appended while a replay is under way go to a fresh file and are never lost or read twice.
 */
export class Spool {
  private readonly file: string;
  private readonly draining: string;

  constructor(dir: string, name: string) {
    mkdirSync(dir, { recursive: true });
    this.file = path.join(dir, `${name}.jsonl`);
    this.draining = path.join(dir, `${name}.draining.jsonl`);
  }

  /** Synchronous so that a line is on disk before the caller goes on (used on overflow and at shutdown). */
  append(lines: string[]): void {
    if (lines.length > 0) appendFileSync(this.file, `${lines.join("\n")}\n`);
  }

  get hasData(): boolean {
    return existsSync(this.draining) || existsSync(this.file);
  }

  /**
   * Hands every spooled line, oldest first, to `send`; the draining file is removed only after `send` resolved.
   * If `send` throws, the lines stay in the draining file for the next attempt.
   */
  async drain(send: (lines: string[]) => Promise<void>, chunk = 1_000): Promise<number> {
    if (!existsSync(this.draining)) {
      if (!existsSync(this.file)) return 0;
      renameSync(this.file, this.draining);
    }
    const lines = readFileSync(this.draining, "utf8").split("\n").filter(Boolean);
    for (let i = 0; i < lines.length; i += chunk) {
      try {
        await send(lines.slice(i, i + chunk));
      } catch (err) {
        // Keep only what was not acknowledged, so a replay that fails half-way does not send the first half twice.
        if (i > 0) writeFileSync(this.draining, `${lines.slice(i).join("\n")}\n`);
        throw err;
      }
    }
    rmSync(this.draining);
    return lines.length;
  }
}
