/**
 * The worker's history read and the aggregate rebuilds on the cluster profile see a row that only one replica of its
 * shard holds (docs/adr/0008, read-your-writes). On ClickHouse 18.16 a Distributed read takes one replica per shard, and an insert acknowledged by
 * one replica reaches the other only when that one fetches it; the chaos test lost status changes to this gap. Here
 * one replica's fetches are stopped, so the row stays on the other replica for as long as the test needs.
 * Run: `npx vitest run --project chaos-cluster test/cluster/read-your-writes.test.ts`.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { z } from "zod";
import {
  type ClickHouse,
  ConversionEventRow,
  createClickHouse,
  getConversionEvents,
  Int64Text,
  ident,
  type LedgerRow,
  raw,
  rebuildAggregates,
  rebuildClickAggregates,
  sql,
} from "../../packages/clickhouse/src";
import { deterministicId } from "../../packages/common/src";
import { controlClusterInstance, createTestWorld, eventually, type TestWorld } from "../../packages/testing/src";

const stack = inject("clusterStack");
/** the two replicas of shard 1, in remote_servers order (s1r1 is the one every read and write prefers) */
const [S1R1 = "", S1R2 = ""] = (stack.all.CLICKHOUSE_URLS ?? "").split(",");

let world: TestWorld;
let servers: ClickHouse[] = [];
beforeAll(async () => {
  world = await createTestWorld(stack, "read_your_writes");
  servers = [S1R1, S1R2].map((url) => createClickHouse({ url, database: world.id }));
});
afterAll(async () => {
  for (const s of servers) {
    for (const table of ["conversion_events_v1_local", "clicks_by_hour_v1_local", "commission_ledger_v1_local"])
      await s.exec("start_fetches", sql`SYSTEM START FETCHES ${ident(world.id)}.${ident(table)}`);
    await s.close();
  }
  await world?.close();
});

const eventRow = (order: string): ConversionEventRow => ({
  conversion_id: deterministicId("conversion", 1, order),
  event_id: deterministicId("event", 1, order),
  seq: 1,
  type: "sale",
  event: "{}",
  resolution: "",
  settlement_amount_minor: 0,
  fx_rate: "",
  received_at: "2026-11-27 08:00:00",
});

/**
 * Each replica now lags its peer by the fetch it may not make. Past CLUSTER_SETTINGS'
 * max_replica_delay_for_distributed_queries (1 s) the server calls it stale, and a read skipping unavailable servers
 * used to skip stale ones too, silently: both replicas of shard 1, the only two that hold the rows. Wait until both
 * are past it, as a replica that is minutes behind would be.
 */
const untilBothLag = () => new Promise((resolve) => setTimeout(resolve, 2_100));

describe("history reads on a cluster", () => {
  it("see the rows each replica of a shard alone holds, in one read", async () => {
    // fetches stopped on both replicas: each keeps only what was inserted into it, for as long as the test needs
    for (const s of servers)
      await s.exec("stop_fetches", sql`SYSTEM STOP FETCHES ${ident(world.id)}.conversion_events_v1_local`);
    const rows = [eventRow("ORDER-ON-S1R1"), eventRow("ORDER-ON-S1R2")];
    await Promise.all(servers.map((s, i) => s.insert("one_replica", "conversion_events_v1_local", [rows[i]])));
    const held = (s: ClickHouse) =>
      s.query(
        "local_rows",
        sql`SELECT event_id FROM conversion_events_v1_local`,
        ConversionEventRow.pick({ event_id: true }),
      );
    expect(await Promise.all(servers.map(async (s) => (await held(s)).map((r) => r.event_id)))).toEqual(
      rows.map((r) => [r.event_id]),
    );
    await untilBothLag();

    // a Distributed read takes one replica per shard: it cannot see both (the gap the chaos test fell into)
    const ids = rows.map((r) => r.conversion_id);
    const distributed = await world.ch.query(
      "distributed_read",
      sql`SELECT event_id FROM conversion_events_v1 WHERE conversion_id IN (${ids[0] ?? ""}, ${ids[1] ?? ""})`,
      ConversionEventRow.pick({ event_id: true }),
    );
    expect(distributed).toHaveLength(1);
    const read = await getConversionEvents(world.ch)(ids);
    expect(read.map((r) => r.event_id).sort()).toEqual(rows.map((r) => r.event_id).sort());
    for (const s of servers)
      await s.exec("start_fetches", sql`SYSTEM START FETCHES ${ident(world.id)}.conversion_events_v1_local`);
  });

  it("go on while a server is down, the first one they list included (remote() asks it for the columns)", async () => {
    const row = eventRow("ORDER-DOWN");
    await world.ch.insert("events", "conversion_events_v1", [row]);
    // on both replicas of its shard first: a row on the stopped server alone is out of reach until it returns
    const read = getConversionEvents(world.ch);
    await eventually(
      () => read([row.conversion_id]),
      (rows) => rows.length === 2,
    );
    controlClusterInstance("stop", "c-ch-1-1");
    try {
      const fresh = await getConversionEvents(world.ch)([row.conversion_id]);
      // once per replica that holds it (callers dedupe): here shard 2's two, or shard 1's survivor
      expect(new Set(fresh.map((r) => r.event_id))).toEqual(new Set([row.event_id]));
    } finally {
      controlClusterInstance("start", "c-ch-1-1");
      // The tests after this one write through that server and replicate to and from it: wait until both replicas
      // see every replicated table of this world writable and both replicas active (its ZooKeeper session back).
      const lagging = (s: ClickHouse) =>
        s.query(
          "replicas_not_ready",
          sql`SELECT count() AS n FROM system.replicas WHERE database = ${world.id}
                AND (is_readonly OR is_session_expired OR active_replicas < total_replicas)`,
          z.object({ n: Int64Text }),
        );
      for (const s of servers)
        await eventually(
          () => lagging(s),
          (rows) => rows[0]?.n === 0,
          60_000,
        );
    }
  });

  it("rebuild the clicks cube from the clicks each replica of a shard alone holds", async () => {
    for (const s of servers)
      await s.exec("stop_fetches", sql`SYSTEM STOP FETCHES ${ident(world.id)}.clicks_by_hour_v1_local`);
    const click = (id: string) => ({
      hour: "2026-11-27 08:00:00",
      campaign_id: 77,
      click_id: id,
      link_id: 1,
      influencer_id: 2,
      merchant_id: 3,
      clicked_at: "2026-11-27 08:10:00",
      ip: "10.0.0.0",
      user_agent: "ua",
      is_bot: 0,
      version: 1,
    });
    await Promise.all(
      servers.map((s, i) => s.insert("one_replica", "clicks_by_hour_v1_local", [click(`CLICK-ON-S1R${i + 1}`)])),
    );
    // no untilBothLag() here: the rebuilds still skip a server lagging by a second or more (REBUILD_REPLICA_SETTINGS)
    const Count = z.object({ n: Int64Text });
    // a Distributed read sees one of the two clicks
    const [distributed] = await world.ch.query(
      "distributed_clicks",
      sql`SELECT count() AS n FROM clicks_by_hour_v1 FINAL WHERE campaign_id = 77`,
      Count,
    );
    expect(distributed?.n).toBe(1);
    await rebuildClickAggregates(world.ch)({ campaigns: [77], hourStartsSec: [Date.UTC(2026, 10, 27, 8) / 1000] });
    const [cube] = await world.ch.query(
      "cube_clicks",
      sql`SELECT sum(clicks) AS n FROM clicks_cube_v1 FINAL WHERE level = 3 AND grain = 1 AND campaign_id = 77`,
      Count,
    );
    expect(cube?.n).toBe(2);
    for (const s of servers)
      await s.exec("start_fetches", sql`SYSTEM START FETCHES ${ident(world.id)}.clicks_by_hour_v1_local`);
  });

  it("rebuild the commission cube from the ledger entries each lagging replica of a shard alone holds", async () => {
    for (const s of servers)
      await s.exec("stop_fetches", sql`SYSTEM STOP FETCHES ${ident(world.id)}.commission_ledger_v1_local`);
    const entry = (order: string, commission: number): LedgerRow => ({
      entry_id: deterministicId("entry", 1, order),
      event_id: deterministicId("event", 1, order),
      conversion_id: deterministicId("conversion", 1, order),
      merchant_id: 3,
      campaign_id: 79,
      influencer_id: 2,
      entry_type: "sale",
      status: "pending",
      order_amount_minor: 10_000,
      order_currency: "EUR",
      commission_minor: commission,
      commission_currency: "EUR",
      event_time: "2026-11-27 10:20:00",
      payable_at: "2026-12-27 10:20:00",
      recorded_at: "2026-11-27 10:20:01",
      version: 1,
    });
    const entries = [entry("LEDGER-ON-S1R1", 1_001), entry("LEDGER-ON-S1R2", 2_002)];
    await Promise.all(servers.map((s, i) => s.insert("one_replica", "commission_ledger_v1_local", [entries[i]])));
    await untilBothLag();
    await rebuildAggregates(world.ch)({ campaigns: [79], hourStartsSec: [Date.UTC(2026, 10, 27, 10) / 1000] });
    const [cube] = await world.ch.query(
      "cube_commission",
      sql`SELECT sum(commission_minor) AS minor, sum(sales) AS sales FROM commission_cube_v2 FINAL
            WHERE level = 3 AND grain = 1 AND campaign_id = 79`,
      z.object({ minor: Int64Text, sales: Int64Text }),
    );
    expect(cube).toEqual({ minor: 3_003, sales: 2 });
    for (const s of servers)
      await s.exec("start_fetches", sql`SYSTEM START FETCHES ${ident(world.id)}.commission_ledger_v1_local`);
  });

  it("store a retried insert again instead of dropping it as a copy of an earlier block", async () => {
    const click = {
      hour: "2026-11-27 09:00:00",
      campaign_id: 78,
      click_id: "CLICK-RETRIED",
      link_id: 1,
      influencer_id: 2,
      merchant_id: 3,
      clicked_at: "2026-11-27 09:10:00",
      ip: "10.0.0.0",
      user_agent: "ua",
      is_bot: 0,
      version: 1,
    };
    // merges stopped everywhere, so that the copies stay apart (a merge collapses them, as FINAL does)
    const every = (stack.all.CLICKHOUSE_URLS ?? "")
      .split(",")
      .map((url) => createClickHouse({ url, database: world.id }));
    const merges = (verb: "STOP" | "START") =>
      Promise.all(
        every.map((s) => s.exec("merges", sql`SYSTEM ${raw(verb)} MERGES ${ident("clicks_by_hour_v1_local")}`)),
      );
    await merges("STOP");
    try {
      // the same block twice, as a worker retrying a batch whose first insert failed on its way back sends it
      for (let i = 0; i < 2; i++) await world.ch.insert("retried", "clicks_by_hour_v1", [click]);
      // both copies on both replicas of the row's shard (deduplicated, the second would be dropped: 2 in all)
      const held = async () => {
        let n = 0;
        for (const s of every) {
          const [r] = await s.query(
            "copies",
            sql`SELECT count() AS n FROM clicks_by_hour_v1_local WHERE campaign_id = 78`,
            z.object({ n: Int64Text }),
          );
          n += r?.n ?? 0;
        }
        return n;
      };
      expect(await eventually(held, (n) => n === 4, 20_000)).toBe(4);
    } finally {
      await merges("START");
      await Promise.all(every.map((s) => s.close()));
    }
  });
});
