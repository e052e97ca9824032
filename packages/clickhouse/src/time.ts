/** ms since epoch -> 'YYYY-MM-DD hh:mm:ss' in UTC, the text form every DateTime('UTC') column accepts. */
export function toDateTimeText(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace("T", " ");
}
