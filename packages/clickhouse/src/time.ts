const DAY_MS = 86_400_000;
const two = (n: number) => (n < 10 ? `0${n}` : String(n));
/** the date part of the last day formatted: rows of one batch mostly share a day, and toISOString is the slow part */
let lastDay = Number.NaN;
let lastDate = "";

/** ms since epoch -> 'YYYY-MM-DD hh:mm:ss' in UTC, the text form every DateTime('UTC') column accepts. */
export function toDateTimeText(ms: number): string {
  const day = Math.floor(ms / DAY_MS);
  if (day !== lastDay) {
    // throws a RangeError for an invalid time, as toISOString does
    lastDate = new Date(day * DAY_MS).toISOString().slice(0, 10);
    lastDay = day;
  }
  const sec = Math.floor((ms - day * DAY_MS) / 1000);
  return `${lastDate} ${two(Math.floor(sec / 3600))}:${two(Math.floor(sec / 60) % 60)}:${two(sec % 60)}`;
}
