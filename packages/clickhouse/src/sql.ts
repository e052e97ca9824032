/**
 * The one place where values become SQL text. ClickHouse 18.16 has no query parameters, so every
 * value is quoted here and queries are built only through the `sql` template tag below.
 */

export type SqlValue = string | number | bigint | boolean | Date | null | readonly SqlValue[];

/** SQL text that is already safe (built by `sql`, `ident` or `raw` with a constant). */
export class Sql {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const ESCAPES: Record<string, string> = {
  "\\": "\\\\",
  "'": "\\'",
  "\0": "\\0",
  "\b": "\\b",
  "\f": "\\f",
  "\r": "\\r",
  "\n": "\\n",
  "\t": "\\t",
  "\v": "\\v",
};

/** A ClickHouse string literal: backslash escapes for quote, backslash and control characters. */
export function quoteString(s: string): string {
  // Lone surrogates would become U+FFFD on the wire anyway; make that explicit so the literal is well-formed UTF-8.
  const wellFormed = s.toWellFormed();
  let out = "'";
  for (const ch of wellFormed) {
    const esc = ESCAPES[ch];
    if (esc) out += esc;
    else if (ch < " " || ch === "\x7f") out += `\\x${ch.charCodeAt(0).toString(16).padStart(2, "0")}`;
    else out += ch;
  }
  return `${out}'`;
}

/** A literal for any value we let into SQL. Throws for anything else rather than guessing. */
export function literal(v: SqlValue): string {
  if (v === null) return "NULL";
  if (typeof v === "string") return quoteString(v);
  if (typeof v === "bigint") return v.toString();
  if (typeof v === "boolean") return v ? "1" : "0";
  if (typeof v === "number") {
    if (!Number.isFinite(v)) throw new TypeError(`cannot put ${v} into SQL`);
    return Number.isInteger(v) ? v.toString() : v.toString();
  }
  if (v instanceof Date) {
    const ms = v.getTime();
    if (!Number.isFinite(ms)) throw new TypeError("cannot put an invalid Date into SQL");
    return `toDateTime(${Math.floor(ms / 1000)}, 'UTC')`;
  }
  if (Array.isArray(v)) return `[${v.map(literal).join(", ")}]`;
  throw new TypeError(`cannot put a ${typeof v} into SQL`);
}

/** An identifier (table, column, database): only plain names, back-quoted. */
export function ident(name: string): Sql {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new TypeError(`not a plain identifier: ${JSON.stringify(name)}`);
  return new Sql(`\`${name}\``);
}

/** Constant SQL text from our own code (never user input). */
export function raw(text: string): Sql {
  return new Sql(text);
}

/** Template tag: interpolated values are quoted with `literal`; `Sql` fragments are inserted as they are. */
export function sql(strings: TemplateStringsArray, ...values: (SqlValue | Sql)[]): Sql {
  let text = strings[0] ?? "";
  values.forEach((v, i) => {
    text += v instanceof Sql ? v.text : literal(v);
    text += strings[i + 1] ?? "";
  });
  return new Sql(text);
}

/** Join fragments with a separator (for optional WHERE clauses). */
export function join(parts: Sql[], separator: string): Sql {
  return new Sql(parts.map((p) => p.text).join(separator));
}
