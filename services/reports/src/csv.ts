import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { stringify } from "csv-stringify";
import type express from "express";

/**
 * Streams rows as CSV with backpressure (ClickHouse stream -> csv-stringify -> socket), so memory stays flat for any
 * size. The first row is awaited before the headers go out, so a failing query still becomes a JSON error.
 */
export async function sendCsv<T>(
  res: express.Response,
  filename: string,
  header: string[],
  rows: AsyncIterable<T>,
  toRecord: (row: T) => (string | number)[],
): Promise<void> {
  const it = rows[Symbol.asyncIterator]();
  const first = await it.next();
  async function* records() {
    if (first.done) return;
    yield toRecord(first.value);
    for (let r = await it.next(); !r.done; r = await it.next()) yield toRecord(r.value);
  }
  res.setHeader("Content-Type", "text/csv; charset=utf-8");
  res.setHeader("Content-Disposition", `attachment; filename="${filename}"`);
  await pipeline(Readable.from(records()), stringify({ header: true, columns: header }), res);
}
