// The current-ClickHouse check (run by scripts/chdb-check.sh): records every SQL text the code sends (the migration
// runner's statements, every report query shape, the worker's queries, seed rows; packages/testing/src/sql-shapes.ts),
// runs them on chdb's embedded ClickHouse with run_chdb.py, and compares the checks' rows with the hand-worked figures.
// Exits non-zero on any SQL error or wrong figure.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { checkRows, recordSqlShapes } from "@aff/testing";

const here = path.dirname(fileURLToPath(import.meta.url));
const [python, outDir] = process.argv.slice(2);
if (!python || !outDir) throw new Error("usage: check.mjs PYTHON OUT_DIR");
mkdirSync(outDir, { recursive: true });
const shapesFile = path.join(outDir, "shapes.json");
const resultFile = path.join(outDir, "result.json");

const shapes = await recordSqlShapes();
writeFileSync(shapesFile, JSON.stringify(shapes, null, 1));
try {
  execFileSync(python, [path.join(here, "run_chdb.py"), shapesFile, resultFile], { stdio: "inherit" });
} catch {
  console.error(`chdb-check: SQL failed on the current ClickHouse (statements in ${shapesFile})`);
  process.exit(1);
}
const result = JSON.parse(readFileSync(resultFile, "utf8"));
const wrong = shapes.checks.flatMap((check, i) => checkRows(check, result.checks[i]?.rows ?? []));
for (const w of wrong) console.error(`chdb-check: WRONG ${w}`);
const passed = shapes.checks.length - new Set(wrong.map((w) => w.slice(0, w.indexOf(":")))).size;
console.error(
  `chdb-check: ClickHouse ${result.clickhouse}: ${shapes.migrations.length} migration statements and ` +
    `${shapes.shapes.length} query shapes ran; ${passed} of ${shapes.checks.length} figure checks match`,
);
if (wrong.length > 0) process.exit(1);
