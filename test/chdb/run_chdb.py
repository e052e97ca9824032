"""Runs recorded SQL (see packages/testing/src/sql-shapes.ts) on the ClickHouse engine embedded in chdb.

usage: run_chdb.py SHAPES_JSON RESULT_JSON
Order: the migration runner's statements, every query shape on the empty tables, the seed rows, every shape again on
the rows, then the checks, whose rows go to RESULT_JSON for the caller to compare. Every SQL error is printed with
its statement, and the exit code is 1 when there was any.
"""

import json
import os
import sys
import tempfile

os.environ["TZ"] = "UTC"  # the server zone; the SQL names its zones, this only pins now() and logs

import chdb  # noqa: E402
from chdb import session  # noqa: E402

DATABASE = "chdb_check"


def insert_sql(step):
    rows = "\n".join(json.dumps(r) for r in step["rows"])
    return f"INSERT INTO `{step['table']}` FORMAT JSONEachRow\n{rows}\n"


def rows_of(result):
    text = result.bytes().decode() if hasattr(result, "bytes") else str(result)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def main(shapes_path, result_path):
    with open(shapes_path) as f:
        shapes = json.load(f)
    failures = []
    ran = 0

    with tempfile.TemporaryDirectory(prefix="chdb-check-") as data:
        s = session.Session(data)
        version = rows_of(s.query("SELECT version() AS v", "JSONEachRow"))[0]["v"]
        print(f"chdb {chdb.__version__}, ClickHouse {version}", file=sys.stderr)
        s.query(f"CREATE DATABASE IF NOT EXISTS {DATABASE}")
        s.query(f"USE {DATABASE}")

        def run(phase, step, fmt="JSONEachRow"):
            nonlocal ran
            ran += 1
            text = insert_sql(step) if step["kind"] == "insert" else step["sql"]
            try:
                out = s.query(text, fmt if step["kind"] == "query" else "CSV")
                return rows_of(out) if step["kind"] == "query" else None
            except Exception as err:  # chdb raises ChdbError for every server-side error
                failures.append(f"[{phase}] {step['name']}: {err}\n{text[:4000]}")
                return None

        for step in shapes["migrations"]:
            run("migration", step)
        for step in shapes["shapes"]:
            run("empty tables", step)
        for step in shapes["seed"]:
            run("seed", step)
        for step in shapes["shapes"]:
            run("seeded tables", step)
        results = []
        for check in shapes["checks"]:
            rows = run("check", {"kind": "query", "name": check["name"], "sql": check["sql"]})
            results.append({"name": check["name"], "rows": rows})
        s.close()

    with open(result_path, "w") as f:
        json.dump({"clickhouse": version, "statements": ran, "checks": results}, f)
    for failure in failures:
        print(f"chdb-check: SQL FAILED {failure}\n", file=sys.stderr)
    print(f"chdb-check: {ran} statements on ClickHouse {version}, {len(failures)} failed", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
