import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { z } from "zod";
import { raw } from "../../packages/clickhouse/src";
import {
  checkRows,
  createTestWorld,
  recordSqlShapes,
  type SqlShapes,
  type SqlStep,
  type TestWorld,
} from "../../packages/testing/src";

/**
 * The SQL that test/chdb runs on a current ClickHouse (scripts/chdb-check.sh), run here on the stack's server
 * (Debian's 18.16): every report query shape on empty and on seeded tables, and the same hand-worked figures.
 */
let world: TestWorld;
let shapes: SqlShapes;
const Row = z.record(z.string(), z.unknown());

async function run(step: SqlStep): Promise<void> {
  if (step.kind === "insert") return world.ch.insert(step.name, step.table, step.rows);
  if (step.kind === "exec") return world.ch.exec(step.name, raw(step.sql));
  await world.ch.query(step.name, raw(step.sql), Row);
}

beforeAll(async () => {
  world = await createTestWorld(inject("stack"), "sql_shapes");
  shapes = await recordSqlShapes();
});
afterAll(() => world?.close());

describe("recorded SQL on the stack's ClickHouse", () => {
  it("runs every migration statement and query shape on empty tables", async () => {
    for (const step of shapes.migrations) await run(step);
    for (const step of shapes.shapes) await run(step);
    expect(shapes.shapes.length).toBeGreaterThan(50);
  });

  it("returns the hand-worked figures on the seed rows", async () => {
    for (const step of shapes.seed) await run(step);
    for (const step of shapes.shapes) await run(step);
    const wrong: string[] = [];
    for (const check of shapes.checks)
      wrong.push(...checkRows(check, await world.ch.query(check.name, raw(check.sql), Row)));
    expect(wrong).toEqual([]);
  });
});
