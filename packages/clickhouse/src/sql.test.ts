import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ident, join, literal, quoteString, sql } from "./sql";

/** Reads a quoted literal back the way ClickHouse's lexer does, to prove nothing escapes the quotes. */
function unquote(lit: string): { value: string; rest: string } {
  expect(lit.startsWith("'")).toBe(true);
  let out = "";
  let i = 1;
  const simple: Record<string, string> = {
    "\\": "\\",
    "'": "'",
    "0": "\0",
    b: "\b",
    f: "\f",
    r: "\r",
    n: "\n",
    t: "\t",
    v: "\v",
  };
  while (i < lit.length) {
    const c = lit[i] as string;
    if (c === "'") return { value: out, rest: lit.slice(i + 1) };
    if (c === "\\") {
      const n = lit[i + 1] as string;
      if (n === "x") {
        out += String.fromCharCode(Number.parseInt(lit.slice(i + 2, i + 4), 16));
        i += 4;
        continue;
      }
      const s = simple[n];
      if (s === undefined) throw new Error(`unknown escape \\${n}`);
      out += s;
      i += 2;
      continue;
    }
    out += c;
    i += 1;
  }
  throw new Error("unterminated literal");
}

const hostile = fc.oneof(
  fc.string({ unit: "binary" }),
  fc.string({ unit: "grapheme" }),
  fc.constantFrom(
    "'",
    "\\",
    "\\'",
    "'; DROP TABLE x; --",
    "\0",
    "\r\n",
    "\\\\'",
    "'' OR 1=1",
    "\u2028",
    "\ud800",
    "`",
    "$$",
  ),
  fc
    .array(fc.constantFrom("'", "\\", "\n", "a", "\0", "\x7f", "é", "\ud83d\ude00"), { maxLength: 40 })
    .map((a) => a.join("")),
);

describe("quoteString", () => {
  it("round-trips any string and never ends the literal early", () => {
    fc.assert(
      fc.property(hostile, (s) => {
        const { value, rest } = unquote(quoteString(s));
        expect(rest).toBe("");
        expect(value).toBe(s.toWellFormed());
      }),
      { numRuns: 2000 },
    );
  });

  it("leaves no raw quote, control character or backslash outside an escape", () => {
    fc.assert(
      fc.property(hostile, (s) => {
        const inner = quoteString(s).slice(1, -1);
        const stripped = inner.replace(/\\x[0-9a-f]{2}|\\[\\'0bfrntv]/g, "");
        // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for raw control characters is the point
        expect(stripped).not.toMatch(/['\\\x00-\x1f\x7f]/);
      }),
      { numRuns: 2000 },
    );
  });
});

describe("literal and sql", () => {
  it("quotes values by type", () => {
    expect(literal(42)).toBe("42");
    expect(literal(10n ** 20n)).toBe("100000000000000000000");
    expect(literal(true)).toBe("1");
    expect(literal(null)).toBe("NULL");
    expect(literal(new Date(1_700_000_000_999))).toBe("toDateTime(1700000000, 'UTC')");
    expect(literal(["a'", 1])).toBe("['a\\'', 1]");
    expect(() => literal(Number.NaN)).toThrow();
    expect(() => literal(new Date("x"))).toThrow();
    expect(() => literal({} as never)).toThrow();
  });

  it("interpolates values quoted and fragments as they are", () => {
    const where = join([sql`a = ${"x'y"}`, sql`has(${[1, 2]}, b)`], " AND ");
    expect(sql`SELECT * FROM ${ident("t")} WHERE ${where}`.text).toBe(
      "SELECT * FROM `t` WHERE a = 'x\\'y' AND has([1, 2], b)",
    );
  });

  it("refuses identifiers that are not plain names", () => {
    expect(() => ident("t; DROP")).toThrow();
    expect(() => ident("a`b")).toThrow();
    expect(ident("clicks_raw_v1").text).toBe("`clicks_raw_v1`");
  });
});
