/**
 * Click records on the `clicks` topic: one Kafka record holds many clicks, one `ClickEvent` JSON per line. Kafka
 * clients spend tens of microseconds of CPU per record whatever its size, so a record per click cost the redirect
 * as much as the redirect itself (docs/adr/0003). A record of one line is a single click, as every record was
 * before records were packed, so consumers read old and new records alike. Click ids still identify clicks: a
 * record sent twice rewrites rows that `clicks_raw_v1` collapses to one per click id.
 */

/** Records stay well below the broker's default message.max.bytes (1 MiB). */
export const CLICK_RECORD_MAX_BYTES = 256 * 1024;

/** Packs serialized clicks (JSON without newlines) into record values of at most `maxBytes` (a longer click alone). */
export function packClickLines(lines: readonly string[], maxBytes = CLICK_RECORD_MAX_BYTES): string[] {
  const records: string[] = [];
  let start = 0;
  let bytes = 0;
  for (let i = 0; i < lines.length; i++) {
    const b = Buffer.byteLength(lines[i] as string) + 1;
    if (i > start && bytes + b > maxBytes) {
      records.push(lines.slice(start, i).join("\n"));
      start = i;
      bytes = 0;
    }
    bytes += b;
  }
  if (start < lines.length) records.push(lines.slice(start).join("\n"));
  return records;
}

/** The clicks of one record value, one buffer per line (empty lines skipped). */
export function splitClickRecord(value: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  while (start < value.length) {
    let end = value.indexOf(10, start);
    if (end === -1) end = value.length;
    if (end > start) out.push(value.subarray(start, end));
    start = end + 1;
  }
  return out;
}
